//! What most HTTP functions are built from: Postgres, Redis (cache and rate limits), the
//! outbox relay and the AWS configuration, read once per container with every problem
//! reported at once.

use std::sync::Arc;

use aws_config::SdkConfig;
use gsign_core::EnvReader;

use crate::aws;
use crate::cache::{Cache, CacheConfig};
use crate::database::Database;
use crate::db::{self, DbConfig};
use crate::lambda::StartupError;
use crate::outbox::Relay;
use crate::ratelimit::{RateLimitConfig, RateLimiter};

/// The settings every such function reads.
pub struct BaseConfig {
    db: DbConfig,
    cache: CacheConfig,
    aws: aws::AwsConfig,
    limits: RateLimitConfig,
    audit_queue: String,
    email_queue: String,
    signing_queue: Option<String>,
    webhook_queue: Option<String>,
    envelope_events_queue: Option<String>,
}

impl BaseConfig {
    /// Reads the settings, recording problems in `r`.
    pub fn read(r: &mut EnvReader<'_>) -> Option<Self> {
        let db = DbConfig::read(r);
        let cache = CacheConfig::read(r);
        let aws = aws::AwsConfig::read(r);
        let limits = RateLimitConfig::read(r);
        let audit_queue = r.required::<String>("AUDIT_QUEUE_URL");
        let email_queue = r.required::<String>("EMAIL_QUEUE_URL");
        let signing_queue = r.optional::<String>("SIGNING_QUEUE_URL");
        let webhook_queue = r.optional::<String>("WEBHOOK_EVENTS_QUEUE_URL");
        let envelope_events_queue = r.optional::<String>("ENVELOPE_EVENTS_QUEUE_URL");
        Some(Self {
            db: db?,
            cache: cache?,
            aws: aws?,
            limits: limits?,
            audit_queue: audit_queue?,
            email_queue: email_queue?,
            signing_queue,
            webhook_queue,
            envelope_events_queue,
        })
    }
}

/// The clients, built once per container (nothing connects until first use).
pub struct Base {
    /// The database port over the configured backend (`DATABASE_BACKEND`).
    pub db: Database,
    /// Redis.
    pub cache: Arc<Cache>,
    /// Rate limits on the same Redis.
    pub limiter: RateLimiter,
    /// Publishes outbox rows after commit.
    pub relay: Relay,
    /// For further AWS clients.
    pub sdk: SdkConfig,
}

impl Base {
    /// Builds the clients.
    pub async fn build(config: BaseConfig) -> Result<Self, StartupError> {
        let cache = Arc::new(Cache::new(&config.cache).map_err(anyhow::Error::from)?);
        let sdk = aws::sdk_config(&config.aws).await;
        Ok(Self {
            db: db::database(&config.db, &sdk).map_err(anyhow::Error::from)?,
            limiter: RateLimiter::new(Arc::clone(&cache), config.limits),
            cache,
            relay: Relay::new(aws::sqs(&sdk), config.audit_queue, config.email_queue)
                .with_signing_queue(config.signing_queue)
                .with_webhook_queue(config.webhook_queue)
                .with_envelope_events_queue(config.envelope_events_queue),
            sdk,
        })
    }
}
