//! What every account service is built from: Postgres, Redis (sessions and rate limits), the
//! outbox relay, the AWS configuration and the web app's URL for email links.

pub mod auth;
pub mod manage;
pub mod me;

use std::sync::Arc;

use aws_config::SdkConfig;
use gsign_core::EnvReader;
use gsign_platform::cache::Cache;
use gsign_platform::database::Database;
use gsign_platform::lambda::StartupError;
use gsign_platform::outbox::Relay;
use gsign_platform::ratelimit::RateLimiter;
use gsign_platform::service::{Base, BaseConfig};

/// The shared settings, read with the caller's reader so every problem is reported at once.
pub struct CommonConfig {
    base: BaseConfig,
    app_url: url::Url,
}

impl CommonConfig {
    /// Reads the shared settings, recording problems in `r`.
    pub fn read(r: &mut EnvReader<'_>) -> Option<Self> {
        let base = BaseConfig::read(r);
        let app_url = r.required::<url::Url>("APP_URL");
        Some(Self {
            base: base?,
            app_url: app_url?,
        })
    }
}

/// The shared clients, built once per container.
pub struct Common {
    /// The database.
    pub db: Database,
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
    #[tracing::instrument(skip_all)]
    pub async fn build(config: CommonConfig) -> Result<Self, StartupError> {
        let Base {
            db,
            cache,
            limiter,
            relay,
            sdk,
        } = Base::build(config.base).await?;
        Ok(Self {
            db,
            cache,
            limiter,
            relay,
            sdk,
            app_url: config.app_url.as_str().trim_end_matches('/').to_owned(),
        })
    }
}
