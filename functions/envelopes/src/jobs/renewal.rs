//! `schedule-renew-archive-timestamps`: archive timestamp renewal (PAdES B-LTA, pyHanko's
//! `ltaupdate`). A document timestamp proves nothing once its authority's certificate ends;
//! before then, every completed envelope whose last one ends within the window
//! (`ARCHIVE_RENEWAL_WINDOW_DAYS`, default 90) gets one more revision with the validation
//! data of that timestamp (its authority's chain and CRL) and a fresh document timestamp over
//! it. The result is a new S3 version of the same final document, under the same retention
//! date, recorded in the evidence (`envelope.archive_renewed`) and announced by webhook.
//!
//! A failure (a TSA or CRL unreachable) is recorded on the envelope and tried again a day
//! later; the window leaves months for that.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use gsign_core::documents::retention_until;
use gsign_core::webhooks::EventType;
use gsign_core::Env;
use gsign_platform::lambda::{FunctionSpec, Handler, InitFuture, InvokeError, InvokeHandler};
use gsign_platform::outbox;
use gsign_platform::pades_signer::{RevisionError, RevocationFetcher, TsaClient};
use gsign_platform::storage::{ObjectRef, RetentionMode, WorkDir};
use gsign_signing::ltv;
use sha2::Digest as _;

use crate::jobs::archive::{archive_field_name, signatures_of, validation_data};
use crate::jobs::worker::Failure;
use crate::service::system_event;
use crate::service::EnvelopesApi;
use crate::store::{self, Envelope};

/// Envelopes one run renews at most (the next run takes the rest).
const BATCH: i64 = 50;

/// The renewing schedule's clients and settings.
pub struct ArchiveRenewer {
    api: EnvelopesApi,
    /// `None` when no TSA is configured: nothing can be renewed, and each due envelope
    /// says so.
    tsa: Option<TsaClient>,
    revocation: RevocationFetcher,
    window: chrono::Duration,
    retention: RetentionMode,
    work_dir: PathBuf,
}

/// What one renewal stored.
#[derive(Debug)]
pub struct Renewal {
    /// The new version of the final document.
    pub object: ObjectRef,
    /// Its SHA-256.
    pub sha256: String,
    /// When its archive timestamp must be renewed by.
    pub expires_at: Option<DateTime<Utc>>,
}

impl ArchiveRenewer {
    #[tracing::instrument(skip_all)]
    async fn from_env(env: &Env) -> Result<Self, gsign_platform::lambda::StartupError> {
        let mut r = env.reader();
        let tsa_urls: String = r.or("TSA_URL", String::new());
        let timeout = Duration::from_millis(r.or("TSA_TIMEOUT_MS", 10_000u64));
        let window_days = r.or("ARCHIVE_RENEWAL_WINDOW_DAYS", 90i64);
        if !(1..=3650).contains(&window_days) {
            r.problem("ARCHIVE_RENEWAL_WINDOW_DAYS: must be 1 to 3650".to_owned());
        }
        let retention = match r
            .or("RETENTION_MODE", "COMPLIANCE".to_owned())
            .parse::<RetentionMode>()
        {
            Ok(mode) => Some(mode),
            Err(err) => {
                r.problem(format!("RETENTION_MODE: {err}"));
                None
            }
        };
        let work_dir = r.or("SIGNING_WORK_DIR", std::env::temp_dir());
        let urls: Vec<url::Url> = tsa_urls
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .filter_map(|u| match u.parse::<url::Url>() {
                Ok(url) => Some(url),
                Err(err) => {
                    r.problem(format!("TSA_URL: {u:?}: {err}"));
                    None
                }
            })
            .collect();
        let retention = r.finish(|| retention)?;
        let tsa = (!urls.is_empty())
            .then(|| TsaClient::with_fallbacks(urls, timeout))
            .transpose()
            .map_err(anyhow::Error::from)?;
        Ok(Self {
            api: EnvelopesApi::from_env(env).await?,
            tsa,
            revocation: RevocationFetcher::new(timeout).map_err(anyhow::Error::from)?,
            window: chrono::Duration::days(window_days),
            retention,
            work_dir,
        })
    }

    /// Adds the validation data of the last archive timestamp and a fresh one to `pdf`.
    #[tracing::instrument(skip_all)]
    async fn renewed_bytes(&self, pdf: Vec<u8>) -> Result<Vec<u8>, Failure> {
        let (pdf, signatures) = signatures_of(pdf, "the final document").await?;
        let count = signatures.iter().filter(|s| s.document_timestamp).count();
        let last = signatures
            .iter()
            .rev()
            .find(|s| s.document_timestamp)
            .cloned()
            .ok_or_else(|| {
                Failure::Permanent("the final document has no archive timestamp".into())
            })?;
        let data = validation_data(std::slice::from_ref(&last), None, &self.revocation).await?;
        let with_dss = tokio::task::spawn_blocking(move || ltv::add_dss(&pdf, &[last], &data))
            .await
            .map_err(anyhow::Error::from)?
            .map_err(|e| Failure::Permanent(format!("the validation data: {e}")))?;
        let tsa = self.tsa.as_ref().ok_or_else(|| {
            Failure::Permanent("no timestamp authority is configured (TSA_URL)".into())
        })?;
        tsa.timestamp_document(&with_dss, &archive_field_name(count + 1))
            .await
            .map_err(|err| match err {
                RevisionError::Document(reason) => {
                    Failure::Permanent(format!("the document timestamp: {reason}"))
                }
                other => Failure::Retry(other.into()),
            })
    }

    /// Renews `envelope`'s archive timestamp: the new version stored and retained until the
    /// envelope's retention date, then recorded with its evidence and webhook.
    #[tracing::instrument(skip_all)]
    pub async fn renew(&self, envelope: &Envelope) -> Result<Renewal, Failure> {
        let (Some(key), Some(completed_at)) = (&envelope.final_s3_key, envelope.completed_at)
        else {
            return Err(Failure::Permanent(
                "the envelope has no final document".into(),
            ));
        };
        let previous = ObjectRef {
            key: key.clone(),
            version_id: envelope.final_s3_version_id.clone(),
        };
        let renewal = self.store_renewal(&previous, completed_at).await?;
        self.record_renewal(envelope, previous.version_id.as_deref(), &renewal)
            .await?;
        Ok(renewal)
    }

    /// The `previous` final document renewed and stored as a new version of it, retained
    /// until the retention date of a completion at `completed_at`. No database connection is
    /// held.
    #[tracing::instrument(skip_all)]
    async fn store_renewal(
        &self,
        previous: &ObjectRef,
        completed_at: DateTime<Utc>,
    ) -> Result<Renewal, Failure> {
        let scratch = WorkDir::new(&self.work_dir, "renew")?;
        let path = scratch.path("final.pdf");
        let store = &self.api.store;
        store
            .fetch_to_file(previous, &path, self.api.settings.max_document_bytes * 2)
            .await?;
        let renewed = self.renewed_bytes(tokio::fs::read(&path).await?).await?;
        let expires_at = crate::jobs::archive::archive_expiry_of(&renewed).await?;
        let sha256 = hex::encode(sha2::Sha256::digest(&renewed));
        tokio::fs::write(&path, &renewed).await?;
        // Same key, a new version; locked before anything points at it, so no version of a
        // completed document is ever unretained.
        let object = store
            .put_file(&previous.key, &path, "application/pdf")
            .await?;
        store
            .retain_until(&object, retention_until(completed_at), self.retention)
            .await?;
        Ok(Renewal {
            object,
            sha256,
            expires_at,
        })
    }

    /// Records `renewal` on `envelope` (still at the `previous_version` of its final
    /// document), with its evidence and webhook.
    #[tracing::instrument(skip_all)]
    async fn record_renewal(
        &self,
        envelope: &Envelope,
        previous_version: Option<&str>,
        renewal: &Renewal,
    ) -> Result<(), Failure> {
        let Renewal {
            object,
            sha256,
            expires_at,
        } = renewal;
        let base = &self.api.base;
        let mut conn = base.db.connect().await?;
        let tx = conn.begin().await?;
        let recorded = store::archive_renewed(
            &tx,
            envelope.id,
            previous_version,
            object,
            sha256,
            *expires_at,
        )
        .await?;
        if !recorded {
            return Err(Failure::Permanent(
                "the final document changed during the renewal".into(),
            ));
        }
        let details = serde_json::json!({
            "sha256": sha256,
            "previous_sha256": envelope.final_sha256,
            "archive_expires_at": expires_at,
        });
        store::record(
            &tx,
            envelope.organization_id,
            system_event(envelope, "envelope.archive_renewed", None, details),
        )
        .await?;
        let (hook, _) = outbox::webhook(
            &tx,
            envelope.organization_id,
            EventType::EnvelopeArchiveRenewed,
            serde_json::json!({
                "envelope_id": envelope.id,
                "document_id": envelope.document_id,
                "final_sha256": sha256,
                "archive_expires_at": expires_at,
            }),
        )
        .await?;
        tx.commit().await?;
        drop(conn);
        base.relay.publish(&base.db, &[hook]).await;
        Ok(())
    }
}

/// The schedule (`schedule-renew-archive-timestamps`).
pub const RENEW_ARCHIVE_TIMESTAMPS: FunctionSpec = FunctionSpec {
    name: "schedule-renew-archive-timestamps",
    init,
};

fn init(env: Env) -> InitFuture {
    Box::pin(async move {
        Ok(Handler::Invoke(Arc::new(
            ArchiveRenewer::from_env(&env).await?,
        )))
    })
}

#[async_trait]
impl InvokeHandler for ArchiveRenewer {
    async fn handle(&self, _event: serde_json::Value) -> Result<serde_json::Value, InvokeError> {
        let db = &self.api.base.db;
        let due =
            store::archive_renewals_due(&db.connect().await?, Utc::now() + self.window, BATCH)
                .await?;
        let (mut renewed, mut failed) = (0u32, 0u32);
        for envelope in &due {
            match self.renew(envelope).await {
                Ok(_) => renewed += 1,
                Err(failure) => {
                    failed += 1;
                    let reason = match &failure {
                        Failure::Retry(err) => format!("{err:#}"),
                        Failure::Permanent(reason) => reason.clone(),
                    };
                    tracing::error!(
                        envelope = %envelope.id,
                        error = reason,
                        "archive timestamp renewal failed; tried again in a day"
                    );
                    store::archive_renewal_failed(&db.connect().await?, envelope.id, &reason)
                        .await?;
                }
            }
        }
        if renewed > 0 || failed > 0 {
            tracing::info!(renewed, failed, "archive timestamps renewed");
        }
        Ok(serde_json::json!({"renewed": renewed, "failed": failed}))
    }
}
