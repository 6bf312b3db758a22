//! The `cryptographic_keys` table.

use gsign_platform::database::{DbError, Session};
use gsign_platform::params;
use uuid::Uuid;

/// The name of the organization's newest usable own sender key.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn newest_sender_key_id(
    client: &(impl Session + ?Sized),
    org: Uuid,
) -> Result<Option<String>, DbError> {
    client
        .fetch_optional(
            "SELECT key_id FROM cryptographic_keys WHERE organization_id = :org AND key_usage = 'sender' \
             AND status = 'active' AND key_storage_location <> 'external' \
             AND (expires_at IS NULL OR expires_at > now()) ORDER BY created_at DESC LIMIT 1",
            params!(org),
        )
        .await?
        .map(|row| row.get("key_id"))
        .transpose()
}
