//! The accounts area's SQL: organizations, users (members and invitees), their sessions, the
//! single-use tokens mailed to them, and API keys; and the audit trail's table, read. The use cases in `service` decide; these
//! functions only read and write, each in the session or transaction they are given.

pub mod api_keys;
pub mod audit_events;
pub mod organizations;
pub mod schemas;
pub mod sessions;
pub mod tokens;
pub mod users;

use gsign_platform::database::{DbError, Session};
use gsign_platform::params;
use uuid::Uuid;

/// Removes the webhook endpoints `user` created, in the caller's transaction: an account taken
/// over by the owner of its address (a reset that proves a never-verified mailbox) must not
/// keep sending the organization's events where whoever registered it chose. The one write
/// to another area's table, kept here so it commits with the takeover or not at all.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn remove_webhooks_created_by(
    tx: &(impl Session + ?Sized),
    user: Uuid,
) -> Result<u64, DbError> {
    tx.run(
        "UPDATE webhook_endpoints SET deleted_at = now(), active = false,
                disabled_reason = 'account taken over by the address owner', disabled_at = now()
          WHERE created_by = :user AND deleted_at IS NULL",
        params!(user),
    )
    .await
}
