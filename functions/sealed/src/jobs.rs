//! `schedule-purge-sealed-data` (daily): seed 002's retention. Prompts deleted or archived
//! more than 7 years after they were created are deleted; sealed envelopes are marked
//! `expired` once past `expires_at` and deleted a year later; decryption logs are deleted
//! after 7 years. Each run deletes at most [`BATCH`] rows of each kind (a later run takes the
//! rest) and answers what it did.

use std::sync::Arc;

use async_trait::async_trait;
use gsign_core::Env;
use gsign_platform::lambda::{FunctionSpec, Handler, InitFuture, InvokeError, InvokeHandler};
use gsign_platform::service::{Base, BaseConfig};

use crate::store;

/// Most rows of each kind one run deletes.
pub const BATCH: i64 = 10_000;

/// The schedule.
pub const PURGE_SEALED_DATA: FunctionSpec = FunctionSpec {
    name: "schedule-purge-sealed-data",
    init,
};

struct Purge {
    base: Base,
}

fn init(env: Env) -> InitFuture {
    Box::pin(async move {
        let mut r = env.reader();
        let base = BaseConfig::read(&mut r);
        let base = r.finish(|| base)?;
        Ok(Handler::Invoke(Arc::new(Purge {
            base: Base::build(base).await?,
        })))
    })
}

#[async_trait]
impl InvokeHandler for Purge {
    async fn handle(&self, _event: serde_json::Value) -> Result<serde_json::Value, InvokeError> {
        let session = self.base.db.connect().await?;
        let store::Purged {
            prompts,
            marked,
            envelopes,
            logs,
        } = store::purge(&session, BATCH).await?;
        tracing::info!(prompts, marked, envelopes, logs, "sealed data retention");
        Ok(serde_json::json!({
            "prompts_purged": prompts,
            "envelopes_marked_expired": marked,
            "envelopes_purged": envelopes,
            "decryption_logs_purged": logs,
        }))
    }
}
