//! `GET /v1/health` (function `api-health`, no authorizer): checks every dependency the
//! platform needs, concurrently and each under a timeout, and answers 200 when all are up or
//! 503 when one is down. Clients connect lazily and heal, so a dependency that comes back is
//! reported up again without a restart.
//!
//! The route is public, so anyone learns only `ok` or `down`. The operator's monitor, holding
//! the token whose SHA-256 is `HEALTH_DETAIL_TOKEN_SHA256`, also learns which dependencies are
//! down with each one's latency; error details are only logged (with the request id). The HSM
//! is checked without logging in: this function holds no PIN.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use gsign_core::Env;
use gsign_platform::cache::{Cache, CacheConfig};
use gsign_platform::database::Database;
use gsign_platform::db::DbConfig;
use gsign_platform::hsm::{self, HsmTokenConfig};
use gsign_platform::lambda::StartupError;
use gsign_platform::{aws, db};
use serde::Serialize;

/// Everything the health check reads from its environment.
pub struct HealthConfig {
    db: DbConfig,
    pub(crate) cache: CacheConfig,
    aws: aws::AwsConfig,
    hsm: HsmTokenConfig,
    /// SHA-256 of the operator's token that unlocks the per-dependency report (none: never).
    pub(crate) detail_token_sha256: Option<[u8; 32]>,
    documents_bucket: String,
    ingest_queue_url: String,
    audit_events_table: String,
    documents_key_id: String,
    check_timeout: Duration,
}

impl HealthConfig {
    /// Reads and checks the configuration, reporting every problem at once.
    pub fn from_env(env: &Env) -> Result<Self, gsign_core::ConfigError> {
        let mut r = env.reader();
        let db = DbConfig::read(&mut r);
        let cache = CacheConfig::read(&mut r);
        let aws = aws::AwsConfig::read(&mut r);
        let hsm = HsmTokenConfig::read(&mut r);
        let detail_token_sha256 =
            r.optional::<String>("HEALTH_DETAIL_TOKEN_SHA256")
                .and_then(|text| {
                    let digest = hex::decode(text.trim())
                        .ok()
                        .and_then(|b| b.try_into().ok());
                    if digest.is_none() {
                        r.problem("HEALTH_DETAIL_TOKEN_SHA256 must be 64 hex digits (a SHA-256)");
                    }
                    digest
                });
        let documents_bucket = r.required("DOCUMENTS_BUCKET");
        let ingest_queue_url = r.required("INGEST_QUEUE_URL");
        let audit_events_table = r.required("AUDIT_EVENTS_TABLE");
        let documents_key_id = r.required("DOCUMENTS_KEY_ID");
        let check_timeout = Duration::from_millis(r.or("HEALTH_CHECK_TIMEOUT_MS", 2000u64));
        r.finish(|| {
            Some(Self {
                db: db?,
                cache: cache?,
                aws: aws?,
                hsm: hsm?,
                detail_token_sha256,
                documents_bucket: documents_bucket?,
                ingest_queue_url: ingest_queue_url?,
                audit_events_table: audit_events_table?,
                documents_key_id: documents_key_id?,
                check_timeout,
            })
        })
    }
}

/// The health check's clients, built once per container.
pub struct HealthCheck {
    pub(crate) config: HealthConfig,
    db: Database,
    cache: Cache,
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    kms: aws_sdk_kms::Client,
    dynamodb: aws_sdk_dynamodb::Client,
}

/// One dependency's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Answered correctly within the timeout.
    Up,
    /// Failed or timed out.
    Down,
}

/// One dependency's result.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Check {
    /// Up or down.
    pub status: State,
    /// How long the check took, in milliseconds.
    pub latency_ms: u64,
    /// `timeout` or `error` when down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// The health report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `ok` or `down`.
    pub status: &'static str,
    /// The dependencies that are down, by name.
    pub down: Vec<&'static str>,
    /// Every dependency's result, by name.
    pub checks: BTreeMap<&'static str, Check>,
}

impl HealthCheck {
    /// Builds the clients (no network I/O: everything connects lazily).
    #[tracing::instrument(skip_all)]
    pub async fn new(config: HealthConfig) -> Result<Self, StartupError> {
        let cache = Cache::new(&config.cache).map_err(anyhow::Error::from)?;
        let sdk = aws::sdk_config(&config.aws).await;
        Ok(Self {
            db: db::database(&config.db, &sdk).map_err(anyhow::Error::from)?,
            cache,
            s3: aws::s3(&sdk),
            sqs: aws::sqs(&sdk),
            kms: aws::kms(&sdk),
            dynamodb: aws::dynamodb(&sdk),
            config,
        })
    }

    #[tracing::instrument(skip_all)]
    async fn timed<F>(&self, name: &'static str, check: F) -> (&'static str, Check)
    where
        F: Future<Output = anyhow::Result<()>>,
    {
        let started = Instant::now();
        let outcome = tokio::time::timeout(self.config.check_timeout, check).await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (status, reason) = match outcome {
            Ok(Ok(())) => (State::Up, None),
            Ok(Err(err)) => {
                tracing::warn!(
                    dependency = name,
                    error = format!("{err:#}"),
                    "dependency down"
                );
                (State::Down, Some("error"))
            }
            Err(_) => {
                tracing::warn!(dependency = name, "dependency check timed out");
                (State::Down, Some("timeout"))
            }
        };
        (
            name,
            Check {
                status,
                latency_ms,
                reason,
            },
        )
    }

    /// Runs every check concurrently.
    #[tracing::instrument(skip_all)]
    pub async fn report(&self) -> Report {
        let results = futures::join!(
            self.timed("postgres", async { Ok(self.db.ping().await?) }),
            self.timed("redis", self.cache.ping()),
            self.timed("s3", self.check_s3()),
            self.timed("sqs", self.check_sqs()),
            self.timed("kms", self.check_kms()),
            self.timed("dynamodb", self.check_dynamodb()),
            self.timed("hsm", self.check_hsm()),
        );
        Report::of(
            [
                results.0, results.1, results.2, results.3, results.4, results.5, results.6,
            ]
            .into_iter()
            .collect(),
        )
    }

    /// The documents bucket answers.
    #[tracing::instrument(skip_all)]
    async fn check_s3(&self) -> anyhow::Result<()> {
        self.s3
            .head_bucket()
            .bucket(&self.config.documents_bucket)
            .send()
            .await?;
        Ok(())
    }

    /// The ingest queue answers.
    #[tracing::instrument(skip_all)]
    async fn check_sqs(&self) -> anyhow::Result<()> {
        self.sqs
            .get_queue_attributes()
            .queue_url(&self.config.ingest_queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await?;
        Ok(())
    }

    /// The documents key exists and is enabled.
    #[tracing::instrument(skip_all)]
    async fn check_kms(&self) -> anyhow::Result<()> {
        let key = self
            .kms
            .describe_key()
            .key_id(&self.config.documents_key_id)
            .send()
            .await?;
        let enabled = key.key_metadata().is_some_and(|m| m.enabled());
        anyhow::ensure!(enabled, "the documents key is disabled");
        Ok(())
    }

    /// The audit events table answers.
    #[tracing::instrument(skip_all)]
    async fn check_dynamodb(&self) -> anyhow::Result<()> {
        self.dynamodb
            .describe_table()
            .table_name(&self.config.audit_events_table)
            .send()
            .await?;
        Ok(())
    }

    /// The HSM token is usable, checked without logging in (this function holds no PIN).
    #[tracing::instrument(skip_all)]
    async fn check_hsm(&self) -> anyhow::Result<()> {
        let token = self.config.hsm.clone();
        tokio::task::spawn_blocking(move || hsm::probe(&token)).await??;
        Ok(())
    }
}

impl Report {
    /// The report of `checks`: `ok` unless one is down.
    fn of(checks: BTreeMap<&'static str, Check>) -> Self {
        let down: Vec<_> = checks
            .iter()
            .filter(|(_, check)| check.status == State::Down)
            .map(|(name, _)| *name)
            .collect();
        Report {
            status: if down.is_empty() { "ok" } else { "down" },
            down,
            checks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_configuration_is_reported_in_full() {
        let err = HealthConfig::from_env(&Env::from_pairs([
            ("DATABASE_TLS", "bogus"),
            ("HEALTH_DETAIL_TOKEN_SHA256", "not-hex"),
        ]))
        .err()
        .expect("nothing is configured");
        for name in [
            "DATABASE_URL",
            "DATABASE_TLS",
            "REDIS_URL",
            "HSM_MODULE_PATH",
            "HSM_TOKEN_LABEL",
            "HEALTH_DETAIL_TOKEN_SHA256",
            "DOCUMENTS_BUCKET",
            "INGEST_QUEUE_URL",
            "AUDIT_EVENTS_TABLE",
            "DOCUMENTS_KEY_ID",
        ] {
            assert!(
                err.problems.iter().any(|p| p.starts_with(name)),
                "{name} missing from {err}"
            );
        }
        // The health function needs no PIN: it never logs into the HSM.
        assert!(
            !err.problems.iter().any(|p| p.starts_with("HSM_PIN")),
            "{err}"
        );
    }
}
