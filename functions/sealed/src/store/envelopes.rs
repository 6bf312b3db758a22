//! The `sealed_envelopes` and `envelope_decryptions` tables.

use chrono::{DateTime, Utc};
use gsign_core::sealed::{self, Wire};
use gsign_platform::database::{read_in_slices, DbError, Row, Session};
use gsign_platform::params;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

/// A sealed envelope as the API shows it: the metadata, and the wire form for the receiver.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SealedEnvelope {
    /// Id (the wire format's).
    pub id: Uuid,
    /// The prompt it was sealed from (`null`: imported).
    pub prompt_id: Option<Uuid>,
    /// `pending`, `delivered`, `decrypted`, `expired`.
    pub status: String,
    /// The receiver's key id.
    pub receiver_public_key_id: String,
    /// The sender's key id.
    pub sender_private_key_id: String,
    /// The algorithms.
    pub algorithm: String,
    /// The key wrap.
    pub key_algorithm: String,
    /// The signature.
    pub signature_algorithm: String,
    /// Signed text metadata.
    #[schemars(with = "std::collections::BTreeMap<String, String>")]
    pub metadata: Value,
    /// When it may no longer be opened.
    pub expires_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// The whole envelope in the wire format (only for the receiver's side).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sealed: Option<Wire>,
}

/// The envelope's columns; its payload only when small (up to [`sealed::MAX_PAYLOAD_BYTES`]
/// sealed, its base64 may not fit a Data API row): [`wire_of`] reads a large one apart.
const COLUMNS: &str = "id, prompt_id, \
    CASE WHEN octet_length(encrypted_data) <= 8192 THEN encrypted_data END AS encrypted_data, \
    encrypted_key, signature, iv, auth_tag, \
    algorithm, key_algorithm, signature_algorithm, receiver_public_key_id, sender_private_key_id, \
    metadata, expires_at, status, created_at";

async fn wire_of(client: &(impl Session + ?Sized), row: &Row) -> Result<Wire, DbError> {
    let id: Uuid = row.get("id")?;
    let encrypted_data = match row.get::<Option<String>>("encrypted_data")? {
        Some(data) => data,
        None => {
            read_in_slices(
                client,
                "encrypted_data",
                "sealed_envelopes WHERE id = :id",
                params!(id),
            )
            .await?
        }
    };
    let metadata: Value = row.get("metadata")?;
    Ok(Wire {
        format: sealed::FORMAT.to_owned(),
        id: id.to_string(),
        algorithm: row.get("algorithm")?,
        key_algorithm: row.get("key_algorithm")?,
        signature_algorithm: row.get("signature_algorithm")?,
        receiver_public_key_id: row.get("receiver_public_key_id")?,
        sender_private_key_id: row.get("sender_private_key_id")?,
        encrypted_data,
        iv: row.get("iv")?,
        auth_tag: row.get("auth_tag")?,
        encrypted_key: row.get("encrypted_key")?,
        metadata: serde_json::from_value(metadata).unwrap_or_default(),
        expires_at: row.get("expires_at")?,
        signature: row.get("signature")?,
    })
}

fn view(row: &Row, wire: Option<Wire>) -> Result<SealedEnvelope, DbError> {
    Ok(SealedEnvelope {
        id: row.get("id")?,
        prompt_id: row.get("prompt_id")?,
        status: row.get("status")?,
        receiver_public_key_id: row.get("receiver_public_key_id")?,
        sender_private_key_id: row.get("sender_private_key_id")?,
        algorithm: row.get("algorithm")?,
        key_algorithm: row.get("key_algorithm")?,
        signature_algorithm: row.get("signature_algorithm")?,
        metadata: row.get("metadata")?,
        expires_at: row.get("expires_at")?,
        created_at: row.get("created_at")?,
        sealed: wire,
    })
}

/// Stores `wire` as envelope `id` of `org`; `None` when the id is taken.
#[tracing::instrument(skip_all, fields(org = %org, id = %id))]
pub async fn insert(
    client: &(impl Session + ?Sized),
    id: Uuid,
    org: Uuid,
    prompt: Option<Uuid>,
    wire: &Wire,
) -> Result<Option<SealedEnvelope>, DbError> {
    let row = client
        .fetch_optional(
            &format!(
                "INSERT INTO sealed_envelopes (id, organization_id, prompt_id, encrypted_data, encrypted_key, \
                 signature, iv, auth_tag, algorithm, key_algorithm, signature_algorithm, receiver_public_key_id, \
                 sender_private_key_id, metadata, expires_at) \
                 VALUES (:id, :org, :prompt, :encrypted_data, :encrypted_key, :signature, :iv, :auth_tag, \
                 :algorithm, :key_algorithm, :signature_algorithm, :receiver_public_key_id, \
                 :sender_private_key_id, :metadata, :expires_at) \
                 ON CONFLICT (id) DO NOTHING RETURNING {COLUMNS}"
            ),
            params!(
                id,
                org,
                prompt,
                encrypted_data = wire.encrypted_data,
                encrypted_key = wire.encrypted_key,
                signature = wire.signature,
                iv = wire.iv,
                auth_tag = wire.auth_tag,
                algorithm = wire.algorithm,
                key_algorithm = wire.key_algorithm,
                signature_algorithm = wire.signature_algorithm,
                receiver_public_key_id = wire.receiver_public_key_id,
                sender_private_key_id = wire.sender_private_key_id,
                metadata = json!(wire.metadata),
                expires_at = wire.expires_at,
            ),
        )
        .await?;
    row.map(|row| view(&row, Some(wire.clone()))).transpose()
}

/// Whether `org` has an envelope `id`.
pub async fn exists(
    client: &(impl Session + ?Sized),
    org: Uuid,
    id: Uuid,
) -> Result<bool, DbError> {
    Ok(client
        .fetch_optional(
            "SELECT 1 FROM sealed_envelopes WHERE id = :id AND organization_id = :org",
            params!(id, org),
        )
        .await?
        .is_some())
}

/// The organization's envelope `id` (not deleted), with its wire form when `with_wire`.
#[tracing::instrument(skip_all, fields(org = %org, id = %id))]
pub async fn get(
    client: &(impl Session + ?Sized),
    org: Uuid,
    id: Uuid,
    with_wire: bool,
) -> Result<Option<SealedEnvelope>, DbError> {
    let Some(row) = client
        .fetch_optional(
            &format!("SELECT {COLUMNS} FROM sealed_envelopes WHERE organization_id = :org AND id = :id AND deleted_at IS NULL"),
            params!(org, id),
        )
        .await?
    else {
        return Ok(None);
    };
    let wire = if with_wire {
        Some(wire_of(client, &row).await?)
    } else {
        None
    };
    view(&row, wire).map(Some)
}

/// An attempt to open an envelope.
pub struct Decryption<'a> {
    /// The organization.
    pub org: Uuid,
    /// The envelope.
    pub envelope: Uuid,
    /// The sender's signature was checked and good.
    pub verified: bool,
    /// The payload was decrypted.
    pub success: bool,
    /// Why not, as a stable code.
    pub reason: Option<&'a str>,
    /// Who tried (`user:…`, `api_key:…`, `system`).
    pub by: &'a str,
    /// From where.
    pub ip: Option<String>,
    /// With what.
    pub user_agent: Option<&'a str>,
}

/// Records `attempt`; its id.
#[tracing::instrument(skip_all, fields(envelope = %attempt.envelope))]
pub async fn record_decryption(
    client: &(impl Session + ?Sized),
    attempt: &Decryption<'_>,
) -> Result<Uuid, DbError> {
    client
        .fetch_one(
            "INSERT INTO envelope_decryptions (organization_id, envelope_id, signature_verified, \
             decryption_successful, error_message, decrypted_by, ip_address, user_agent) \
             VALUES (:org, :id, :verified, :success, :reason, :by, :ip::inet, :user_agent) RETURNING id",
            params!(
                org = attempt.org,
                id = attempt.envelope,
                verified = attempt.verified,
                success = attempt.success,
                reason = attempt.reason,
                by = attempt.by,
                ip = attempt.ip,
                user_agent = attempt.user_agent,
            ),
        )
        .await?
        .get("id")
}

/// Sets the envelope's status (`decrypted`, `expired`).
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn set_status(
    client: &(impl Session + ?Sized),
    org: Uuid,
    id: Uuid,
    status: &str,
) -> Result<(), DbError> {
    client
        .run(
            "UPDATE sealed_envelopes SET status = :status WHERE organization_id = :org AND id = :id",
            params!(org, id, status),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn payloads_come_inline_only_as_large_as_the_port_allows() {
        let inline = format!("<= {} THEN", gsign_platform::database::INLINE_VALUE_BYTES);
        assert!(super::COLUMNS.contains(&inline));
    }
}
