//! Redis (ElastiCache in AWS) through the `redis` crate's auto-reconnecting
//! `ConnectionManager`, connected lazily so a cold start never waits on Redis and a Redis that
//! was down is picked up again without a restart. Key scheme (seed 000): `session:`,
//! `cache:user:`, `rate:ip:`, `rate:api:`.

use std::time::Duration;

use gsign_core::EnvReader;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::OnceCell;

/// Redis settings.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// `REDIS_URL`: `redis://host:port/db` or `rediss://` for TLS (ElastiCache in-transit
    /// encryption). May carry an AUTH token, hence secret.
    pub url: SecretString,
    /// `REDIS_TIMEOUT_MS`: connect and response timeout (default 1000).
    pub timeout: Duration,
}

impl CacheConfig {
    /// Reads the Redis settings, recording problems in `r`.
    pub fn read(r: &mut EnvReader<'_>) -> Option<Self> {
        let url = r.secret("REDIS_URL");
        let timeout = Duration::from_millis(r.or("REDIS_TIMEOUT_MS", 1000u64));
        if let Some(url) = &url {
            if let Err(err) = redis::Client::open(url.expose_secret()) {
                r.problem(format!("REDIS_URL is invalid: {:?}", err.kind()));
            }
        }
        Some(Self { url: url?, timeout })
    }
}

/// A lazily connected, self-healing Redis handle; cheap to share.
pub struct Cache {
    client: redis::Client,
    timeout: Duration,
    manager: OnceCell<ConnectionManager>,
}

impl Cache {
    /// A handle for `config`; does not connect yet.
    pub fn new(config: &CacheConfig) -> Result<Self, redis::RedisError> {
        Ok(Self {
            client: redis::Client::open(config.url.expose_secret())?,
            timeout: config.timeout,
            manager: OnceCell::new(),
        })
    }

    /// A connection (a clone of the shared manager), connecting on first use. A failed first
    /// connection is retried on the next call.
    pub async fn connection(&self) -> redis::RedisResult<ConnectionManager> {
        self.manager
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(Some(self.timeout))
                    .set_number_of_retries(1);
                ConnectionManager::new_with_config(self.client.clone(), config).await
            })
            .await
            .cloned()
    }

    /// `PING`, answered `PONG`.
    pub async fn ping(&self) -> anyhow::Result<()> {
        let mut conn = self.connection().await?;
        let pong: String = redis::cmd("PING").query_async(&mut conn).await?;
        anyhow::ensure!(pong == "PONG", "unexpected PING reply {pong:?}");
        Ok(())
    }

    /// The JSON value cached at `key`, if any and readable. A cache that cannot answer is a
    /// miss: the caller falls back to the source of truth.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Option<T> {
        let mut conn = self.connection().await.ok()?;
        let text: Option<String> = redis::cmd("GET")
            .arg(key)
            .query_async(&mut conn)
            .await
            .ok()?;
        serde_json::from_str(&text?).ok()
    }

    /// Caches `value` at `key` for `ttl`.
    pub async fn set_json<T: serde::Serialize>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> anyhow::Result<()> {
        let text = serde_json::to_string(value)?;
        let mut conn = self.connection().await?;
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg(text)
            .arg("EX")
            .arg(ttl.as_secs().max(1))
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    /// Removes `key`.
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        let mut conn = self.connection().await?;
        let _: () = redis::cmd("DEL").arg(key).query_async(&mut conn).await?;
        Ok(())
    }

    /// Takes the lock `key` for at most `ttl` (`SET NX PX`); `Some(token)` if taken. The
    /// token releases only this holder's lock, never a successor's after expiry.
    pub async fn try_lock(&self, key: &str, ttl: Duration) -> anyhow::Result<Option<String>> {
        let token = uuid::Uuid::new_v4().to_string();
        let mut conn = self.connection().await?;
        let set: Option<String> = redis::cmd("SET")
            .arg(key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
            .query_async(&mut conn)
            .await?;
        Ok(set.map(|_| token))
    }

    /// Releases a lock taken with [`Cache::try_lock`] if `token` still holds it.
    pub async fn unlock(&self, key: &str, token: &str) -> anyhow::Result<()> {
        const RELEASE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
            return redis.call('DEL', KEYS[1]) else return 0 end";
        let mut conn = self.connection().await?;
        let _: i64 = redis::Script::new(RELEASE)
            .key(key)
            .arg(token)
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }
}
