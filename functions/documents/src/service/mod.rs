//! The documents service: [`DocumentsApi`] (its use cases in `documents`; erasure, retention
//! and LibreOffice conversion as children), and what every documents function is built from: Postgres, Redis (cache, locks, rate limits),
//! the outbox relay and the documents bucket, configured once per container.

pub mod convert;
pub mod documents;
pub mod erasure;
pub mod retention;

pub use documents::{
    Created, DocumentQuery, DocumentUpdate, DocumentView, Download, DownloadVariant, LegalHold,
};

use std::sync::Arc;
use std::time::Duration;

use gsign_core::{Env, EnvReader};
use gsign_platform::cache::Cache;
use gsign_platform::database::Database;
use gsign_platform::http::Caller;
use gsign_platform::lambda::StartupError;
use gsign_platform::outbox::Relay;
use gsign_platform::ratelimit::RateLimiter;
use gsign_platform::service::{Base, BaseConfig};
use gsign_platform::storage::DocumentStore;
use gsign_platform::{aws, outbox};
use uuid::Uuid;

use crate::error::DocumentsError;

/// The default upload limit: 25 MB.
pub const DEFAULT_MAX_BYTES: u64 = 25 * 1024 * 1024;

/// How long document metadata stays in Redis (`cache:document:{id}`, seed 000).
pub const CACHE_TTL: Duration = Duration::from_secs(300);

pub use gsign_core::documents::cache_key;

/// The shared settings.
pub struct DocumentsConfig {
    base: BaseConfig,
    bucket: String,
    kms_key_id: String,
    /// `DOCUMENT_MAX_BYTES`: the largest upload (default 25 MB).
    pub max_bytes: u64,
    /// `DOCUMENT_UPLOAD_URL_TTL_SECONDS`: life of an upload URL (900).
    pub upload_ttl: Duration,
    /// `DOCUMENT_DOWNLOAD_URL_TTL_SECONDS`: life of a download URL (300).
    pub download_ttl: Duration,
}

impl DocumentsConfig {
    /// Reads the shared settings, recording problems in `r`.
    pub fn read(r: &mut EnvReader<'_>) -> Option<Self> {
        let base = BaseConfig::read(r);
        let bucket = r.required::<String>("DOCUMENTS_BUCKET");
        let kms_key_id = r.required::<String>("DOCUMENTS_KEY_ID");
        let max_bytes = r.or("DOCUMENT_MAX_BYTES", DEFAULT_MAX_BYTES);
        let upload_ttl = r.or("DOCUMENT_UPLOAD_URL_TTL_SECONDS", 900u64);
        let download_ttl = r.or("DOCUMENT_DOWNLOAD_URL_TTL_SECONDS", 300u64);
        // S3 presigned URLs live at most 7 days; shorter is the point here.
        for (name, secs) in [
            ("DOCUMENT_UPLOAD_URL_TTL_SECONDS", upload_ttl),
            ("DOCUMENT_DOWNLOAD_URL_TTL_SECONDS", download_ttl),
        ] {
            if !(1..=3600).contains(&secs) {
                r.problem(format!("{name} must be 1 to 3600 seconds"));
            }
        }
        if max_bytes == 0 {
            r.problem("DOCUMENT_MAX_BYTES must be positive");
        }
        Some(Self {
            base: base?,
            bucket: bucket?,
            kms_key_id: kms_key_id?,
            max_bytes,
            upload_ttl: Duration::from_secs(upload_ttl),
            download_ttl: Duration::from_secs(download_ttl),
        })
    }
}

/// The shared clients, built once per container.
pub struct Services {
    /// The database (either backend).
    pub db: Database,
    /// Redis: document cache and ingest locks.
    pub cache: Arc<Cache>,
    /// Rate limits on the same Redis.
    pub limiter: RateLimiter,
    /// Publishes outbox rows after commit.
    pub relay: Relay,
    /// The documents bucket.
    pub store: DocumentStore,
    /// Largest upload.
    pub max_bytes: u64,
    /// Life of upload URLs.
    pub upload_ttl: Duration,
    /// Life of download URLs.
    pub download_ttl: Duration,
}

impl Services {
    /// Builds the clients (nothing connects yet).
    #[tracing::instrument(skip_all)]
    pub async fn build(config: DocumentsConfig) -> Result<Self, StartupError> {
        let Base {
            db,
            cache,
            limiter,
            relay,
            sdk,
        } = Base::build(config.base).await?;
        Ok(Self {
            db,
            limiter,
            cache,
            relay,
            store: DocumentStore::new(aws::s3(&sdk), config.bucket, config.kms_key_id),
            max_bytes: config.max_bytes,
            upload_ttl: config.upload_ttl,
            download_ttl: config.download_ttl,
        })
    }

    /// Drops a document's cached metadata; a cache that cannot be told expires in 5 minutes.
    #[tracing::instrument(skip_all)]
    pub async fn forget(&self, id: uuid::Uuid) {
        if let Err(err) = self.cache.delete(&cache_key(id)).await {
            tracing::warn!(
                error = format!("{err:#}"),
                "could not invalidate cached document"
            );
        }
    }
}

/// The service behind the routes.
pub struct DocumentsApi {
    pub(crate) services: Services,
}

impl DocumentsApi {
    /// Reads the configuration from `env` (every problem at once) and builds the clients.
    #[tracing::instrument(skip_all)]
    pub async fn from_env(env: &Env) -> Result<Self, gsign_platform::lambda::StartupError> {
        let mut r = env.reader();
        let config = DocumentsConfig::read(&mut r);
        let config = r.finish(|| config)?;
        Ok(Self {
            services: Services::build(config).await?,
        })
    }

    /// Records the caller's audit event for document `id` in `tx`, commits, publishes the
    /// event and drops the document's cached copy: the tail of every change.
    #[tracing::instrument(skip_all, fields(id = %id))]
    async fn commit_audited(
        &self,
        tx: gsign_platform::database::Transaction<'_>,
        caller: &Caller,
        action: &str,
        id: Uuid,
        details: serde_json::Value,
    ) -> Result<(), DocumentsError> {
        let event = outbox::audit(&tx, &caller.audit(action, "document", id, details)).await?;
        tx.commit().await?;
        let s = &self.services;
        s.relay.publish(&s.db, &[event]).await;
        s.forget(id).await;
        Ok(())
    }
}
