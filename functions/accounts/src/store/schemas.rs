//! Wire-only schemas the accounts routes name in their OpenAPI descriptions: statuses and
//! settings stored as text or JSON, described as what clients see.

use schemars::JsonSchema;

/// Where a user account stands.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // describes the wire, never built
pub(crate) enum MemberStatus {
    /// Invited; the invitation is not accepted yet.
    Invited,
    /// Can sign in.
    Active,
    /// Removed from the organization.
    Disabled,
}

/// Where an organization stands.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // describes the wire, never built
pub(crate) enum OrganizationStatus {
    /// In use.
    Active,
    /// Suspended.
    Suspended,
    /// Closed.
    Closed,
}

/// An organization's settings: `embed_origins`, and any other member, kept as given.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
pub(crate) struct OrganizationSettings {
    /// The origins whose pages may frame this organization's embedded signing, at most 20,
    /// like `https://app.example.mn` (http only on localhost).
    #[serde(default)]
    #[schemars(length(max = 20))]
    embed_origins: Vec<String>,
    /// Other settings.
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}
