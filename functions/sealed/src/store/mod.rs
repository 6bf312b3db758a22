//! The sealed area's tables: sealed envelopes and their decryptions (`envelopes`),
//! prompts (`prompts`), keys (`keys`) and retention.

pub mod envelopes;
pub mod keys;
pub mod prompts;

use gsign_platform::database::{DbError, Session};
use gsign_platform::params;

/// What one retention run did.
pub struct Purged {
    /// Prompts deleted or archived 7 years after creation, deleted.
    pub prompts: u64,
    /// Sealed envelopes past `expires_at`, marked `expired`.
    pub marked: u64,
    /// Sealed envelopes a year past `expires_at`, deleted.
    pub envelopes: u64,
    /// Decryption logs older than 7 years, deleted.
    pub logs: u64,
}

/// Applies seed 002's retention, at most `batch` rows of each kind.
#[tracing::instrument(skip_all)]
pub async fn purge(db: &(impl Session + ?Sized), batch: i64) -> Result<Purged, DbError> {
    let prompts = db
        .run(
            "DELETE FROM prompts WHERE id IN (SELECT id FROM prompts \
             WHERE status IN ('deleted', 'archived') AND created_at < now() - interval '7 years' LIMIT :batch)",
            params!(batch = batch),
        )
        .await?;
    let marked = db
        .run(
            "UPDATE sealed_envelopes SET status = 'expired' WHERE status IN ('pending', 'delivered') \
             AND expires_at <= now()",
            &[],
        )
        .await?;
    let envelopes = db
        .run(
            "DELETE FROM sealed_envelopes WHERE id IN (SELECT id FROM sealed_envelopes \
             WHERE expires_at < now() - interval '1 year' LIMIT :batch)",
            params!(batch = batch),
        )
        .await?;
    let logs = db
        .run(
            "DELETE FROM envelope_decryptions WHERE id IN (SELECT id FROM envelope_decryptions \
             WHERE decrypted_at < now() - interval '7 years' LIMIT :batch)",
            params!(batch = batch),
        )
        .await?;
    Ok(Purged {
        prompts,
        marked,
        envelopes,
        logs,
    })
}
