//! The area's scheduled function: `schedule-publish-crls`, which issues and publishes each
//! organization CA's CRL well before the current one's nextUpdate (or when an earlier
//! publication failed, or a revocation is newer than the CRL).

use std::sync::Arc;

use async_trait::async_trait;
use gsign_core::Env;
use gsign_platform::lambda::{FunctionSpec, Handler, InitFuture, InvokeError, InvokeHandler};

use crate::service::pki::Pki;
use crate::service::revocation::{refresh, CRL_REFRESH};
use crate::service::{CertificatesConfig, Services};
use crate::store::{self};

/// CAs one scheduled run refreshes at most (the next run takes the rest).
const BATCH: i64 = 200;

/// The schedule (`schedule-publish-crls`).
pub const PUBLISH_CRLS: FunctionSpec = FunctionSpec {
    name: "schedule-publish-crls",
    init,
};

struct PublishCrls {
    services: Services,
    pki: Pki,
}

fn init(env: Env) -> InitFuture {
    Box::pin(async move {
        let mut r = env.reader();
        let config = CertificatesConfig::read(&mut r, true);
        let config = r.finish(|| config)?;
        let services = Services::build(config).await?;
        let pki = services
            .pki
            .clone()
            .ok_or_else(|| anyhow::anyhow!("PKI_URL and PKI_BUCKET are not configured"))?;
        Ok(Handler::Invoke(Arc::new(PublishCrls { services, pki })))
    })
}

#[async_trait]
impl InvokeHandler for PublishCrls {
    async fn handle(&self, _event: serde_json::Value) -> Result<serde_json::Value, InvokeError> {
        let hsm = self.services.hsm.as_ref().ok_or_else(|| {
            // A configuration fault: the next run fails the same way until it is fixed.
            InvokeError::permanent(anyhow::anyhow!("the HSM is not configured"))
        })?;
        let client = self.services.base.db.connect().await?;
        let due = store::crls_due(&client, CRL_REFRESH, BATCH).await?;
        let (mut published, mut failed) = (0u32, 0u32);
        for ca in &due {
            match refresh(&client, hsm, &self.pki, ca).await {
                Ok(_) => published += 1,
                Err(err) => {
                    failed += 1;
                    tracing::error!(
                        authority = %ca.id,
                        error = format!("{err:#}"),
                        "could not publish a CRL; the next run tries again"
                    );
                }
            }
        }
        if published > 0 || failed > 0 {
            tracing::info!(published, failed, "CRLs published");
        }
        Ok(serde_json::json!({"published": published, "failed": failed}))
    }
}
