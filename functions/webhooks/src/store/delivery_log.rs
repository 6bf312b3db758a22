//! The delivery log: DynamoDB `webhook_deliveries` (seed 000's fields), one item per event
//! and endpoint (`pk` = `endpoint#{id}`, `sk` = the event id, a UUIDv7, so an endpoint's
//! deliveries read newest first), with every attempt's time, status and error, so the
//! backoff between attempts is visible. Queryable per endpoint (the key) and per event (the
//! `by-event` index).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use gsign_core::webhooks::DeliveryStatus;
use serde::Serialize;
use uuid::Uuid;

/// How long a delivery stays in the log.
const KEEP_DAYS: i64 = 90;
/// The response body kept per attempt.
pub const BODY_EXCERPT_BYTES: usize = 1024;

/// One attempt.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "WebhookAttempt")]
pub struct Attempt {
    /// When it started.
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status, if it answered.
    pub response_code: Option<u16>,
    /// Why it failed, if it did (a refusal of the SSRF guard, a timeout, a redirect, …).
    pub error: Option<String>,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}

/// A delivery as the log holds it: one event to one endpoint, with every attempt.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "WebhookDelivery")]
pub struct Delivery {
    /// The event id (the `webhook-id` the receiver sees, without `msg_`).
    pub id: Uuid,
    #[serde(skip)]
    pub endpoint_id: Uuid,
    #[serde(skip)]
    pub organization_id: Uuid,
    /// The event's type, e.g. `envelope.completed`.
    pub event_type: String,
    /// The endpoint's URL when the delivery was made.
    pub endpoint_url: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made (since the last replay).
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// The receiver's HTTP status at the last attempt, if it answered.
    pub response_code: Option<u16>,
    /// The first KiB of the receiver's last answer, if it answered.
    pub response_body: Option<String>,
    /// When the last attempt was made.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When an attempt last succeeded.
    pub delivered_at: Option<DateTime<Utc>>,
    /// When the delivery was logged.
    pub created_at: DateTime<Utc>,
    /// Every attempt, oldest first.
    pub attempt_log: Vec<Attempt>,
    /// The exact body sent (and re-sent on every attempt).
    #[schemars(with = "gsign_core::webhooks::Event")]
    pub payload: serde_json::Value,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn pk(endpoint: Uuid) -> String {
    format!("endpoint#{endpoint}")
}

fn ddb_error<E>(err: aws_sdk_dynamodb::error::SdkError<E>) -> anyhow::Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    anyhow::anyhow!(
        "DynamoDB: {}",
        aws_sdk_dynamodb::error::DisplayErrorContext(&err)
    )
}

fn text(item: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    item.get(name)?.as_s().ok().cloned()
}

fn number<T: std::str::FromStr>(item: &HashMap<String, AttributeValue>, name: &str) -> Option<T> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

fn time(item: &HashMap<String, AttributeValue>, name: &str) -> Option<DateTime<Utc>> {
    text(item, name)?.parse().ok()
}

fn attempt_item(attempt: &Attempt) -> AttributeValue {
    let mut map = HashMap::from([
        ("at".to_owned(), s(attempt.at.to_rfc3339())),
        ("duration_ms".to_owned(), n(attempt.duration_ms)),
    ]);
    if let Some(code) = attempt.response_code {
        map.insert("response_code".to_owned(), n(code));
    }
    if let Some(error) = &attempt.error {
        map.insert("error".to_owned(), s(error.clone()));
    }
    AttributeValue::M(map)
}

/// A stored delivery, or an error naming the item and what of it could not be read (an
/// unknown status included): never skipped, never defaulted.
fn delivery(item: &HashMap<String, AttributeValue>) -> anyhow::Result<Delivery> {
    read_delivery(item).ok_or_else(|| {
        anyhow::anyhow!(
            "the delivery item {:?} / {:?} cannot be read (a missing attribute or an unknown \
             status {:?})",
            text(item, "pk"),
            text(item, "sk"),
            text(item, "status"),
        )
    })
}

fn read_delivery(item: &HashMap<String, AttributeValue>) -> Option<Delivery> {
    let attempt_log = item
        .get("attempt_log")
        .and_then(|v| v.as_l().ok())
        .map(|list| {
            list.iter()
                .filter_map(|a| {
                    let a = a.as_m().ok()?;
                    Some(Attempt {
                        at: time(a, "at")?,
                        response_code: number(a, "response_code"),
                        error: text(a, "error"),
                        duration_ms: number(a, "duration_ms").unwrap_or(0),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Delivery {
        id: text(item, "sk")?.parse().ok()?,
        endpoint_id: text(item, "endpoint_id")?.parse().ok()?,
        organization_id: text(item, "organization_id")?.parse().ok()?,
        event_type: text(item, "event_type")?,
        endpoint_url: text(item, "endpoint_url")?,
        status: DeliveryStatus::parse(&text(item, "status")?)?,
        attempts: number(item, "attempts").unwrap_or(0),
        max_attempts: number(item, "max_attempts").unwrap_or(0),
        response_code: number(item, "response_code"),
        response_body: text(item, "response_body"),
        last_attempt_at: time(item, "last_attempt_at"),
        next_attempt_at: time(item, "next_attempt_at"),
        delivered_at: time(item, "delivered_at"),
        created_at: time(item, "created_at")?,
        attempt_log,
        payload: serde_json::from_str(&text(item, "payload")?).ok()?,
    })
}

/// The outcome an attempt writes.
pub struct Outcome {
    pub attempt: Attempt,
    /// Pending (another attempt at `next_attempt_at`), delivered or failed.
    pub status: DeliveryStatus,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub response_body: Option<String>,
}

/// The update expression that writes `outcome`, and the values of its optional members
/// (the response's code and body, the next attempt's time).
fn outcome_update(outcome: &Outcome) -> (String, Vec<(&'static str, AttributeValue)>) {
    let mut values = Vec::new();
    let mut set = vec![
        "attempts = :next",
        "#status = :status",
        "last_attempt_at = :at",
        "attempt_log = list_append(attempt_log, :attempt)",
    ];
    let mut remove = Vec::new();
    match outcome.attempt.response_code {
        Some(code) => {
            values.push((":code", n(code)));
            set.push("response_code = :code");
        }
        None => remove.push("response_code"),
    }
    match &outcome.response_body {
        Some(body) => {
            values.push((":body", s(body.clone())));
            set.push("response_body = :body");
        }
        None => remove.push("response_body"),
    }
    match outcome.next_attempt_at {
        Some(next) => {
            values.push((":next_at", s(next.to_rfc3339())));
            set.push("next_attempt_at = :next_at");
        }
        None => remove.push("next_attempt_at"),
    }
    if outcome.status == DeliveryStatus::Delivered {
        set.push("delivered_at = :at");
    }
    let mut expression = format!("SET {}", set.join(", "));
    if !remove.is_empty() {
        expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
    }
    (expression, values)
}

/// The `webhook_deliveries` table.
#[derive(Clone)]
pub struct DeliveryLog {
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
}

impl DeliveryLog {
    /// The log in `table`.
    pub fn new(dynamodb: aws_sdk_dynamodb::Client, table: String) -> Self {
        Self { dynamodb, table }
    }

    /// Records a new pending delivery of `event` to `endpoint`; `false` if it exists (a
    /// redelivered fan-out).
    #[tracing::instrument(skip_all, fields(org = %org))]
    pub async fn create(
        &self,
        org: Uuid,
        endpoint: &crate::store::Endpoint,
        event: &gsign_core::webhooks::Event,
        max_attempts: usize,
    ) -> anyhow::Result<bool> {
        let now = Utc::now();
        let item = HashMap::from([
            ("pk".to_owned(), s(pk(endpoint.id))),
            ("sk".to_owned(), s(event.id.to_string())),
            ("event_id".to_owned(), s(event.id.to_string())),
            ("endpoint_id".to_owned(), s(endpoint.id.to_string())),
            ("organization_id".to_owned(), s(org.to_string())),
            ("event_type".to_owned(), s(event.event_type.as_str())),
            ("endpoint_url".to_owned(), s(endpoint.url.clone())),
            ("status".to_owned(), s(DeliveryStatus::Pending.as_str())),
            ("attempts".to_owned(), n(0)),
            ("max_attempts".to_owned(), n(max_attempts)),
            ("attempt_log".to_owned(), AttributeValue::L(Vec::new())),
            ("payload".to_owned(), s(serde_json::to_string(event)?)),
            ("created_at".to_owned(), s(now.to_rfc3339())),
            ("next_attempt_at".to_owned(), s(now.to_rfc3339())),
            (
                "expires_at".to_owned(),
                n((now + chrono::Duration::days(KEEP_DAYS)).timestamp()),
            ),
        ]);
        let put = self
            .dynamodb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(ddb_error(err)),
        }
    }

    /// The delivery of `event` to `endpoint`.
    #[tracing::instrument(skip_all, fields(endpoint = %endpoint, event = %event))]
    pub async fn get(&self, endpoint: Uuid, event: Uuid) -> anyhow::Result<Option<Delivery>> {
        let got = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk(endpoint)))
            .key("sk", s(event.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(ddb_error)?;
        got.item().map(delivery).transpose()
    }

    /// Writes an attempt's outcome if the delivery still has `seen_attempts` attempts (two
    /// copies of one message cannot both count); whether it was written.
    #[tracing::instrument(skip_all, fields(endpoint = %endpoint, event = %event))]
    pub async fn record(
        &self,
        endpoint: Uuid,
        event: Uuid,
        seen_attempts: u32,
        outcome: &Outcome,
    ) -> anyhow::Result<bool> {
        let (expression, values) = outcome_update(outcome);
        let mut update = self
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk(endpoint)))
            .key("sk", s(event.to_string()))
            .condition_expression("attempts = :seen")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":seen", n(seen_attempts))
            .expression_attribute_values(":next", n(seen_attempts + 1))
            .expression_attribute_values(":status", s(outcome.status.as_str()))
            .expression_attribute_values(":at", s(outcome.attempt.at.to_rfc3339()))
            .expression_attribute_values(
                ":attempt",
                AttributeValue::L(vec![attempt_item(&outcome.attempt)]),
            );
        for (name, value) in values {
            update = update.expression_attribute_values(name, value);
        }
        let written = update.update_expression(expression).send().await;
        match written {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(ddb_error(err)),
        }
    }

    /// Replay: a failed (or delivered) delivery gets a fresh series of attempts, its history
    /// kept.
    #[tracing::instrument(skip_all, fields(endpoint = %endpoint, event = %event))]
    pub async fn replay(
        &self,
        endpoint: Uuid,
        event: Uuid,
        max_attempts: usize,
    ) -> anyhow::Result<()> {
        self.dynamodb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk(endpoint)))
            .key("sk", s(event.to_string()))
            .condition_expression("attribute_exists(pk)")
            .update_expression(
                "SET #status = :pending, attempts = :zero, max_attempts = :max, next_attempt_at = :now",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s(DeliveryStatus::Pending.as_str()))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":max", n(max_attempts))
            .expression_attribute_values(":now", s(Utc::now().to_rfc3339()))
            .send()
            .await
            .map_err(ddb_error)?;
        Ok(())
    }

    /// One page of `endpoint`'s deliveries, newest first, and the cursor of the next.
    #[tracing::instrument(skip_all, fields(endpoint = %endpoint))]
    pub async fn list(
        &self,
        endpoint: Uuid,
        after: Option<Uuid>,
        limit: i32,
    ) -> anyhow::Result<(Vec<Delivery>, Option<String>)> {
        let mut query = self
            .dynamodb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk(endpoint)))
            .scan_index_forward(false)
            .limit(limit);
        if let Some(after) = after {
            query = query
                .exclusive_start_key("pk", s(pk(endpoint)))
                .exclusive_start_key("sk", s(after.to_string()));
        }
        let page = query.send().await.map_err(ddb_error)?;
        let deliveries: Vec<Delivery> = page
            .items()
            .iter()
            .map(delivery)
            .collect::<anyhow::Result<_>>()?;
        let next = page.last_evaluated_key().and_then(|key| text(key, "sk"));
        Ok((deliveries, next))
    }
}
