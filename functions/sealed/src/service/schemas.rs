//! Wire-only schemas the sealed routes name in their OpenAPI descriptions: key ids, key
//! usages and sizes, prompt statuses, described as what clients see.

use schemars::JsonSchema;

/// What a key id may be: 1 to 255 letters, digits, `-`, `_`, `.` or `:` (as the key routes
/// check it).
pub(crate) const KEY_ID_PATTERN: &str = "^[A-Za-z0-9._:-]{1,255}$";

/// A prompt's status as it may be set.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // describes the wire, never built
pub(crate) enum PromptStatus {
    /// In use.
    Active,
    /// Kept, set aside.
    Archived,
}

/// What a key is for.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // describes the wire, never built
pub(crate) enum KeyUsage {
    /// Signs envelopes (own key) or verifies their signatures (a party's key).
    Sender,
    /// Unwraps envelopes' keys (own key) or is sealed to (a party's key).
    Receiver,
}

/// The size of a key made in the key store.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
pub(crate) enum KeyAlgorithm {
    /// RSA, 2048 bits.
    #[serde(rename = "RSA-2048")]
    Rsa2048,
    /// RSA, 3072 bits.
    #[serde(rename = "RSA-3072")]
    Rsa3072,
}
