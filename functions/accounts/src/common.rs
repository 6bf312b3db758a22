//! What every account service is built from: Postgres, Redis (sessions and rate limits), the
//! outbox relay, the AWS configuration and the web app's URL for email links.

use std::sync::Arc;

use aws_config::SdkConfig;
use gsign_core::EnvReader;
use gsign_platform::aws;
use gsign_platform::cache::{Cache, CacheConfig};
use gsign_platform::db::{self, DbConfig};
use gsign_platform::lambda::StartupError;
use gsign_platform::outbox::Relay;
use gsign_platform::ratelimit::{RateLimitConfig, RateLimiter};

/// The shared settings, read with the caller's reader so every problem is reported at once.
pub struct CommonConfig {
    db: DbConfig,
    cache: CacheConfig,
    aws: aws::AwsConfig,
    audit_queue: String,
    email_queue: String,
    app_url: url::Url,
    limits: RateLimitConfig,
}

impl CommonConfig {
    /// Reads the shared settings, recording problems in `r`.
    pub fn read(r: &mut EnvReader<'_>) -> Option<Self> {
        let db = DbConfig::read(r);
        let cache = CacheConfig::read(r);
        let aws = aws::AwsConfig::read(r);
        let audit_queue = r.required::<String>("AUDIT_QUEUE_URL");
        let email_queue = r.required::<String>("EMAIL_QUEUE_URL");
        let app_url = r.required::<url::Url>("APP_URL");
        let limits = RateLimitConfig::read(r);
        Some(Self {
            db: db?,
            cache: cache?,
            aws: aws?,
            audit_queue: audit_queue?,
            email_queue: email_queue?,
            app_url: app_url?,
            limits: limits?,
        })
    }
}

/// The shared clients, built once per container.
pub struct Common {
    /// Postgres.
    pub pool: deadpool_postgres::Pool,
    /// Redis (sessions).
    pub cache: Arc<Cache>,
    /// Rate limits on the same Redis.
    pub limiter: RateLimiter,
    /// Publishes outbox rows after commit.
    pub relay: Relay,
    /// For further AWS clients.
    pub sdk: SdkConfig,
    /// The web app's base URL, without a trailing slash.
    pub app_url: String,
}

impl Common {
    /// Builds the clients (nothing connects yet).
    pub async fn build(config: CommonConfig) -> Result<Self, StartupError> {
        let cache = Arc::new(Cache::new(&config.cache).map_err(anyhow::Error::from)?);
        let sdk = aws::sdk_config(&config.aws).await;
        Ok(Self {
            pool: db::pool(&config.db).map_err(anyhow::Error::from)?,
            limiter: RateLimiter::new(Arc::clone(&cache), config.limits),
            cache,
            relay: Relay::new(aws::sqs(&sdk), config.audit_queue, config.email_queue),
            app_url: config.app_url.as_str().trim_end_matches('/').to_owned(),
            sdk,
        })
    }
}
