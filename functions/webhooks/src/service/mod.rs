//! The webhooks service: [`WebhooksApi`] (endpoints and their secrets in `endpoints`, the
//! delivery log and retries in `deliveries`), and what every webhooks function is built from:
//! the service base, KMS for the secrets, DynamoDB for the delivery log, the delivery queue and
//! the delivery settings.

mod deliveries;
mod endpoints;
pub mod secrets;

pub use deliveries::DeliveryQuery;
pub use endpoints::{EndpointInput, EndpointView};

use std::time::Duration;

use chrono::{DateTime, Utc};
use gsign_core::{Env, EnvReader};
use gsign_platform::lambda::StartupError;
use gsign_platform::service::{Base, BaseConfig};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::store::delivery_log::DeliveryLog;
use secrets::SecretBox;

/// Delivery settings.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// `WEBHOOK_ALLOW_LOOPBACK`: http to loopback allowed (local development and tests only).
    pub allow_loopback: bool,
    /// `WEBHOOK_RETRY_SCHEDULE_SECONDS`: the waits after attempts 1, 2, … (comma-separated);
    /// attempts in all = waits + 1.
    pub schedule: Vec<Duration>,
    /// `WEBHOOK_TIMEOUT_MS`: one attempt's limit (15 s).
    pub timeout: Duration,
    /// `WEBHOOK_DISABLE_AFTER_HOURS`: an endpoint failing every event this long is disabled (72).
    pub disable_after: Duration,
}

impl DeliverySettings {
    /// Attempts per delivery.
    pub fn max_attempts(&self) -> usize {
        self.schedule.len() + 1
    }
}

/// The settings.
pub struct WebhooksConfig {
    base: BaseConfig,
    secrets_key_id: String,
    table: String,
    delivery_queue: String,
    delivery: DeliverySettings,
}

impl WebhooksConfig {
    /// Reads the settings, recording problems in `r`.
    pub fn read(r: &mut EnvReader<'_>) -> Option<Self> {
        let base = BaseConfig::read(r);
        let secrets_key_id = r.required::<String>("WEBHOOK_SECRETS_KEY_ID");
        let table = r.required::<String>("WEBHOOK_DELIVERIES_TABLE");
        let delivery_queue = r.required::<String>("WEBHOOK_DELIVERY_QUEUE_URL");
        let allow_loopback = r.or("WEBHOOK_ALLOW_LOOPBACK", false);
        let schedule_text = r.or(
            "WEBHOOK_RETRY_SCHEDULE_SECONDS",
            gsign_core::webhooks::DEFAULT_SCHEDULE
                .iter()
                .map(|d| d.as_secs().to_string())
                .collect::<Vec<_>>()
                .join(","),
        );
        let schedule: Option<Vec<Duration>> = schedule_text
            .split(',')
            .map(|s| s.trim().parse::<u64>().ok().map(Duration::from_secs))
            .collect();
        let schedule = match schedule.filter(|s| (1..=20).contains(&s.len())) {
            Some(schedule) => Some(schedule),
            None => {
                r.problem(
                    "WEBHOOK_RETRY_SCHEDULE_SECONDS must be 1 to 20 comma-separated whole seconds",
                );
                None
            }
        };
        let timeout = Duration::from_millis(r.or("WEBHOOK_TIMEOUT_MS", 15_000u64));
        let disable_after = Duration::from_secs(3600 * r.or("WEBHOOK_DISABLE_AFTER_HOURS", 72u64));
        Some(Self {
            base: base?,
            secrets_key_id: secrets_key_id?,
            table: table?,
            delivery_queue: delivery_queue?,
            delivery: DeliverySettings {
                allow_loopback,
                schedule: schedule?,
                timeout,
                disable_after,
            },
        })
    }
}

/// The clients, built once per container.
pub struct Services {
    /// Postgres, Redis, rate limits, outbox.
    pub base: Base,
    /// Encrypts and decrypts signing secrets.
    pub secrets: SecretBox,
    /// The delivery log.
    pub log: DeliveryLog,
    /// SQS, for delivery messages.
    pub sqs: aws_sdk_sqs::Client,
    /// The delivery queue.
    pub delivery_queue: String,
    /// Delivery settings.
    pub delivery: DeliverySettings,
}

impl Services {
    /// Builds the clients.
    #[tracing::instrument(skip_all)]
    pub async fn build(config: WebhooksConfig) -> Result<Self, StartupError> {
        let base = Base::build(config.base).await?;
        Ok(Self {
            secrets: SecretBox::new(gsign_platform::aws::kms(&base.sdk), config.secrets_key_id),
            log: DeliveryLog::new(gsign_platform::aws::dynamodb(&base.sdk), config.table),
            sqs: gsign_platform::aws::sqs(&base.sdk),
            delivery_queue: config.delivery_queue,
            delivery: config.delivery,
            base,
        })
    }

    /// Asks the delivery function to attempt `jobs` now, ten per SQS call.
    #[tracing::instrument(skip_all)]
    pub async fn enqueue_now(&self, jobs: &[Job]) -> anyhow::Result<()> {
        for chunk in jobs.chunks(10) {
            let mut batch = self
                .sqs
                .send_message_batch()
                .queue_url(&self.delivery_queue);
            for (i, job) in chunk.iter().enumerate() {
                batch = batch.entries(
                    aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(serde_json::to_string(job)?)
                        .build()?,
                );
            }
            let sent = batch
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("{}", aws_sdk_sqs::error::DisplayErrorContext(&e)))?;
            anyhow::ensure!(
                sent.failed().is_empty(),
                "SQS refused {} delivery messages",
                sent.failed().len()
            );
        }
        Ok(())
    }

    /// Asks the delivery function to attempt `job` (after `delay`, at most 15 minutes: SQS's
    /// limit; longer waits hop, see [`crate::deliver`]).
    #[tracing::instrument(skip_all)]
    pub async fn enqueue(&self, job: &Job, delay: Duration) -> anyhow::Result<()> {
        let seconds = i32::try_from(delay.as_secs().min(900)).unwrap_or(900);
        self.sqs
            .send_message()
            .queue_url(&self.delivery_queue)
            .message_body(serde_json::to_string(job)?)
            .delay_seconds(seconds)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", aws_sdk_sqs::error::DisplayErrorContext(&e)))?;
        Ok(())
    }
}

/// A delivery message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// The organization (endpoints are read within it).
    pub organization_id: Uuid,
    /// The endpoint.
    pub endpoint_id: Uuid,
    /// The event (the delivery's key with the endpoint).
    pub event_id: Uuid,
    /// Not to be attempted before then (a wait longer than SQS's delay hops).
    #[serde(default)]
    pub not_before: Option<DateTime<Utc>>,
}

/// The service behind the routes.
pub struct WebhooksApi {
    pub(crate) services: Services,
}

impl WebhooksApi {
    /// Reads the configuration from `env` (every problem at once) and builds the clients.
    pub async fn from_env(env: &Env) -> Result<Self, StartupError> {
        let mut r = env.reader();
        let config = WebhooksConfig::read(&mut r);
        let config = r.finish(|| config)?;
        Ok(Self {
            services: Services::build(config).await?,
        })
    }
}
