//! Wire-only schemas the pack routes name in their OpenAPI descriptions: a pack's signers
//! and the evidence a sign event came from, stored as JSON, described as what clients see.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde_json::Value;
use uuid::Uuid;

/// Who signs a pack's document as one role.
#[derive(JsonSchema)]
#[schemars(rename = "DocPackSigner")]
#[allow(dead_code)] // describes the wire, never built
pub(crate) struct IssuedSigner {
    /// Their name.
    name: String,
    /// Their email.
    email: String,
    /// Their recipient in the document's envelope (absent until issued).
    recipient_id: Option<Uuid>,
}

/// The envelope evidence event a sign event came from.
#[derive(JsonSchema)]
#[schemars(rename = "DocPackSignEventPayload")]
#[allow(dead_code)] // describes the wire, never built
pub(crate) struct SignEventPayload {
    /// The envelope.
    envelope_id: Uuid,
    /// The event's place in the envelope's evidence, from 1.
    sequence: i32,
    /// The evidence action, e.g. `recipient.signed`.
    action: String,
    /// The recipient concerned.
    recipient_id: Option<Uuid>,
    /// Source IP.
    ip: Option<String>,
    /// User agent.
    user_agent: Option<String>,
    /// Anything else, as JSON.
    details: Value,
    /// When.
    occurred_at: DateTime<Utc>,
}
