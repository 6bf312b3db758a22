//! Redis (ElastiCache in AWS) through the `redis` crate's auto-reconnecting
//! `ConnectionManager`, connected lazily so a cold start never waits on Redis and a Redis that
//! was down is picked up again without a restart. Key scheme (seed 000): `session:`,
//! `cache:user:`, `rate:ip:`, `rate:api:`.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// After Redis failed to answer, how long [`Cache::try_run`] fails at once instead of waiting
/// on it again: a Redis that is down (an unreachable host waits out the whole timeout) costs
/// one request in this interval the timeout, not every request.
pub const COOL_DOWN: Duration = Duration::from_secs(5);

/// Whether Redis failed a moment ago: open for [`COOL_DOWN`] after a failure.
#[derive(Debug, Default)]
pub struct Breaker {
    failed_at: Mutex<Option<Instant>>,
}

impl Breaker {
    /// Whether calls skip Redis at `now` (it failed less than [`COOL_DOWN`] before).
    pub fn is_open(&self, now: Instant) -> bool {
        self.failed_at
            .lock()
            .map(|at| at.is_some_and(|at| now.saturating_duration_since(at) < COOL_DOWN))
            .unwrap_or(false)
    }

    /// Records a failure at `now`.
    pub fn trip(&self, now: Instant) {
        if let Ok(mut at) = self.failed_at.lock() {
            *at = Some(now);
        }
    }

    /// Records an answer: calls go to Redis again.
    pub fn reset(&self) {
        if let Ok(mut at) = self.failed_at.lock() {
            *at = None;
        }
    }
}

/// Whether `err` says Redis could not be reached or did not answer in time (not a refused
/// command).
fn unreachable(err: &redis::RedisError) -> bool {
    err.is_timeout()
        || err.is_io_error()
        || err.is_connection_refusal()
        || err.is_connection_dropped()
}

/// A lazily connected, self-healing Redis handle; cheap to share.
pub struct Cache {
    client: redis::Client,
    timeout: Duration,
    manager: OnceCell<ConnectionManager>,
    breaker: Breaker,
}

impl Cache {
    /// A handle for `config`; does not connect yet.
    pub fn new(config: &CacheConfig) -> Result<Self, redis::RedisError> {
        Ok(Self {
            client: redis::Client::open(config.url.expose_secret())?,
            timeout: config.timeout,
            manager: OnceCell::new(),
            breaker: Breaker::default(),
        })
    }

    /// Runs `command` on a connection, unless Redis failed to answer less than [`COOL_DOWN`]
    /// ago: then it fails at once. For what has a fallback (a cache read, a rate limit that
    /// fails open); what must reach Redis (invalidating sessions) uses [`Cache::connection`].
    pub async fn try_run<T, F, Fut>(&self, command: F) -> redis::RedisResult<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if self.breaker.is_open(Instant::now()) {
            return Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "Redis did not answer a moment ago",
                "not tried again until the cool-down ends".to_owned(),
            )));
        }
        let answer = match self.connection().await {
            Ok(conn) => command(conn).await,
            Err(err) => Err(err),
        };
        match &answer {
            Ok(_) => self.breaker.reset(),
            Err(err) if unreachable(err) => self.breaker.trip(Instant::now()),
            Err(_) => {}
        }
        answer
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
        let text: Option<String> = self
            .try_run(
                |mut conn| async move { redis::cmd("GET").arg(key).query_async(&mut conn).await },
            )
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
        self.try_run(|mut conn| async move {
            redis::cmd("SET")
                .arg(key)
                .arg(text)
                .arg("EX")
                .arg(ttl.as_secs().max(1))
                .query_async::<()>(&mut conn)
                .await
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breaker_opens_on_a_failure_for_the_cool_down_and_closes_on_an_answer() {
        let breaker = Breaker::default();
        let start = Instant::now();
        assert!(!breaker.is_open(start));
        breaker.trip(start);
        assert!(breaker.is_open(start));
        assert!(breaker.is_open(start + COOL_DOWN - Duration::from_millis(1)));
        assert!(!breaker.is_open(start + COOL_DOWN));
        breaker.trip(start);
        breaker.reset();
        assert!(!breaker.is_open(start));
    }

    #[tokio::test]
    async fn after_redis_failed_to_answer_the_next_call_is_not_sent() {
        // Port 1 on the loopback: nothing listens, the connection is refused.
        let cache = Cache::new(&CacheConfig {
            url: SecretString::from("redis://127.0.0.1:1/0"),
            timeout: Duration::from_millis(500),
        })
        .expect("a valid URL");
        let ping = |mut conn: ConnectionManager| async move {
            redis::cmd("PING").query_async::<String>(&mut conn).await
        };
        let cooling = Some("not tried again until the cool-down ends");
        let refused = cache.try_run(ping).await.expect_err("nothing listens");
        assert_ne!(refused.detail(), cooling, "the first call tries: {refused}");
        let skipped = cache.try_run(ping).await.expect_err("cooling down");
        assert_eq!(skipped.detail(), cooling, "the next is not sent: {skipped}");
        assert!(cache.get_json::<String>("anything").await.is_none());
    }
}
