//! `schedule-erase-deleted-documents`: the deleting request erases a document's bytes right
//! after its commit ([`erase`]); the schedule
//! erases what that left (S3 failing at that moment, a crash), so a deletion always ends with
//! the bytes gone.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;

use gsign_core::Env;
use gsign_platform::lambda::{FunctionSpec, Handler, InitFuture, InvokeError, InvokeHandler};

use crate::service::erasure::erase;
use crate::service::{DocumentsConfig, Services};
use crate::store;

/// Documents one run erases at most (a later run takes the rest).
pub const BATCH: i64 = 100;

/// How long the schedule leaves a fresh deletion to the request that made it.
pub const GRACE: Duration = Duration::from_secs(300);

/// The schedule (`schedule-erase-deleted-documents`).
pub const ERASE_DELETED_DOCUMENTS: FunctionSpec = FunctionSpec {
    name: "schedule-erase-deleted-documents",
    init,
};

struct EraseDeleted {
    services: Services,
}

fn init(env: Env) -> InitFuture {
    Box::pin(async move {
        let mut r = env.reader();
        let config = DocumentsConfig::read(&mut r);
        let config = r.finish(|| config)?;
        Ok(Handler::Invoke(Arc::new(EraseDeleted {
            services: Services::build(config).await?,
        })))
    })
}

#[async_trait]
impl InvokeHandler for EraseDeleted {
    async fn handle(&self, _event: serde_json::Value) -> Result<serde_json::Value, InvokeError> {
        let client = self.services.db.connect().await?;
        let before = Utc::now() - chrono::Duration::from_std(GRACE).unwrap_or_default();
        let due = store::erasure_due(&client, before, BATCH).await?;
        let (mut erased, mut failed) = (0u32, 0u32);
        for doc in &due {
            match erase(&client, &self.services.store, doc).await {
                Ok(()) => erased += 1,
                Err(err) => {
                    failed += 1;
                    tracing::error!(
                        document = %doc.id,
                        error = format!("{err:#}"),
                        "could not erase a deleted document's bytes; the next run tries again"
                    );
                }
            }
        }
        if erased > 0 || failed > 0 {
            tracing::info!(erased, failed, "deleted documents erased");
        }
        Ok(serde_json::json!({"erased": erased, "failed": failed}))
    }
}
