//! The transactional outbox: side effects (audit events, emails, later webhooks and usage)
//! are rows written in the same transaction as the state change, so they exist exactly when
//! the change does. [`Relay::publish`] sends them to their SQS queue right after commit; the
//! scheduled sweeper ([`Relay::sweep`]) sends whatever a crash left behind. Delivery is at
//! least once: every consumer is idempotent on the row's id, which is the stable event id.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::database::{json_list, Database, Row, Session};
use crate::params;

/// What a row is for, and so which queue carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// An audit event, recorded in DynamoDB.
    Audit,
    /// An email, sent through SES.
    Email,
    /// A job for the envelope signing worker ([`SigningJob`]).
    Signing,
    /// A webhook event ([`gsign_core::webhooks::Event`]), fanned out to the endpoints.
    Webhook,
    /// An announced envelope evidence event ([`EnvelopeEvent`]), for the areas that follow
    /// envelopes (doc packs).
    #[serde(rename = "envelope_event")]
    EnvelopeEvent,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Audit => "audit",
            Kind::Email => "email",
            Kind::Signing => "signing",
            Kind::Webhook => "webhook",
            Kind::EnvelopeEvent => "envelope_event",
        }
    }
}

/// An audit event: who did what to which resource, from where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// e.g. `user.registered`, `auth.login_failed`, `api_key.revoked`.
    pub action: String,
    /// The organization it belongs to.
    pub organization_id: Uuid,
    /// The acting user, if a person acted.
    pub actor_user_id: Option<Uuid>,
    /// The acting API key, if a key acted.
    pub actor_api_key_id: Option<Uuid>,
    /// e.g. `user`, `session`, `api_key`, `organization`.
    pub resource_type: String,
    /// The resource's id.
    pub resource_id: String,
    /// Client IP address.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// Anything else worth keeping (never secrets).
    pub details: serde_json::Value,
}

/// An email to send from a template kept in the repository.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Email {
    /// Template name (`verify_email`, `password_reset`, `invitation`).
    pub template: String,
    /// Recipient address.
    pub to: String,
    /// Template variables.
    pub data: serde_json::Value,
    /// The language to write it in (`en`, `mn`); English when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The envelope it is about: SES's delivery events come back to it (message tags).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope_id: Option<Uuid>,
    /// The recipient it asks to act: a bounce or complaint marks that recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_id: Option<Uuid>,
    /// Not transactional (a reminder): it carries a one-click `List-Unsubscribe`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bulk: bool,
}

/// Work for the envelope signing worker: apply the envelope's submitted signatures, advance its
/// routing, complete it. The envelope's state says what is due, so a job is only a wake-up:
/// duplicates and reordering change nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningJob {
    /// The envelope's organization.
    pub organization_id: Uuid,
    /// The envelope.
    pub envelope_id: Uuid,
}

/// An envelope's evidence event as it is announced to the areas that follow envelopes: the
/// event as recorded (its `sequence` orders the events of one envelope, since messages may
/// arrive twice or out of order).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnvelopeEvent {
    /// The envelope's organization.
    pub organization_id: Uuid,
    /// The recorded event.
    pub event: gsign_core::envelopes::EvidenceEvent,
}

/// One outbox row as it travels through SQS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The stable event id (the row's id).
    pub id: Uuid,
    /// What it is.
    pub kind: Kind,
    /// Its organization.
    pub organization_id: Option<Uuid>,
    /// The event itself.
    pub payload: serde_json::Value,
    /// When the state change committed.
    pub created_at: DateTime<Utc>,
}

/// Writes an audit event into the outbox within `tx`.
#[tracing::instrument(skip_all)]
pub async fn audit(tx: &(impl Session + ?Sized), event: &AuditEvent) -> anyhow::Result<Uuid> {
    enqueue(
        tx,
        Some(event.organization_id),
        Kind::Audit,
        &serde_json::to_value(event)?,
    )
    .await
}

/// Writes an email into the outbox within `tx`.
#[tracing::instrument(skip_all, fields(organization_id = %organization_id))]
pub async fn email(
    tx: &(impl Session + ?Sized),
    organization_id: Uuid,
    email: &Email,
) -> anyhow::Result<Uuid> {
    enqueue(
        tx,
        Some(organization_id),
        Kind::Email,
        &serde_json::to_value(email)?,
    )
    .await
}

/// Writes a signing job into the outbox within `tx`.
#[tracing::instrument(skip_all)]
pub async fn signing(tx: &(impl Session + ?Sized), job: &SigningJob) -> anyhow::Result<Uuid> {
    enqueue(
        tx,
        Some(job.organization_id),
        Kind::Signing,
        &serde_json::to_value(job)?,
    )
    .await
}

/// Announces a recorded envelope evidence event, within the transaction that recorded it.
#[tracing::instrument(skip_all)]
pub async fn envelope_event(
    tx: &(impl Session + ?Sized),
    event: &EnvelopeEvent,
) -> anyhow::Result<Uuid> {
    enqueue(
        tx,
        Some(event.organization_id),
        Kind::EnvelopeEvent,
        &serde_json::to_value(event)?,
    )
    .await
}

/// Writes a webhook event of `event_type` about `data` into the outbox within `tx`: the
/// event exists exactly when the change does. Returns the outbox row and the event id
/// (a UUIDv7, so deliveries sort by time), which receivers see as `webhook-id`.
#[tracing::instrument(skip_all, fields(organization_id = %organization_id))]
pub async fn webhook(
    tx: &(impl Session + ?Sized),
    organization_id: Uuid,
    event_type: gsign_core::webhooks::EventType,
    data: serde_json::Value,
) -> anyhow::Result<(Uuid, Uuid)> {
    let event = gsign_core::webhooks::Event {
        id: Uuid::now_v7(),
        event_type,
        timestamp: Utc::now(),
        data,
    };
    let row = enqueue(
        tx,
        Some(organization_id),
        Kind::Webhook,
        &serde_json::to_value(&event)?,
    )
    .await?;
    Ok((row, event.id))
}

#[tracing::instrument(skip_all)]
async fn enqueue(
    tx: &(impl Session + ?Sized),
    organization_id: Option<Uuid>,
    kind: Kind,
    payload: &serde_json::Value,
) -> anyhow::Result<Uuid> {
    Ok(tx
        .fetch_one(
            "INSERT INTO outbox (organization_id, kind, payload) \
             VALUES (:organization_id, :kind, :payload) RETURNING id",
            params!(organization_id, kind = kind.as_str(), payload),
        )
        .await
        .context("writing the outbox")?
        .get("id")?)
}

/// Sends outbox rows to SQS.
/// After this many failed attempts an outbox row is parked (an operator looks at
/// `last_error`, fixes the cause and sets `parked_at` back to NULL).
pub const MAX_PUBLISH_ATTEMPTS: i32 = 10;

/// What one publishing pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Batch {
    /// Rows taken.
    pub selected: usize,
    /// Rows sent to their queue.
    pub published: usize,
    /// Rows that failed (recorded on the row; parked after [`MAX_PUBLISH_ATTEMPTS`]).
    pub failed: usize,
}

#[derive(Clone)]
pub struct Relay {
    sqs: aws_sdk_sqs::Client,
    audit_queue_url: String,
    email_queue_url: String,
    signing_queue_url: Option<String>,
    webhook_queue_url: Option<String>,
    envelope_events_queue_url: Option<String>,
}

impl Relay {
    /// A relay to the given queues.
    pub fn new(sqs: aws_sdk_sqs::Client, audit_queue_url: String, email_queue_url: String) -> Self {
        Self {
            sqs,
            audit_queue_url,
            email_queue_url,
            signing_queue_url: None,
            webhook_queue_url: None,
            envelope_events_queue_url: None,
        }
    }

    /// Also relays announced envelope events, to `url` (functions that record envelope
    /// evidence, and the sweeper).
    pub fn with_envelope_events_queue(mut self, url: Option<String>) -> Self {
        self.envelope_events_queue_url = url;
        self
    }

    /// Also relays webhook events, to `url` (functions that write them, and the sweeper).
    pub fn with_webhook_queue(mut self, url: Option<String>) -> Self {
        self.webhook_queue_url = url;
        self
    }

    /// Also relays signing jobs, to `url` (functions that write them, and the sweeper).
    pub fn with_signing_queue(mut self, url: Option<String>) -> Self {
        self.signing_queue_url = url;
        self
    }

    /// Publishes the given rows (just committed) if still unpublished. A failure is recorded
    /// on the row and logged, not returned: the request already succeeded, and the sweeper
    /// will publish them.
    #[tracing::instrument(skip_all)]
    pub async fn publish(&self, db: impl Into<Database>, ids: &[Uuid]) {
        if ids.is_empty() {
            return;
        }
        let result = self
            .publish_selected(
                &db.into(),
                "SELECT id, kind, organization_id, payload, created_at FROM outbox
                  WHERE published_at IS NULL
                    AND id IN (SELECT jsonb_array_elements_text(:ids::jsonb)::uuid)
                  FOR UPDATE SKIP LOCKED",
                params!(ids = json_list(&ids.iter().map(Uuid::to_string).collect::<Vec<_>>())),
            )
            .await;
        match result {
            Ok(batch) if batch.failed > 0 => {
                tracing::warn!(
                    failed = batch.failed,
                    "outbox publish deferred to the sweeper"
                );
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(
                error = format!("{err:#}"),
                "outbox publish deferred to the sweeper"
            ),
        }
    }

    /// Publishes up to 100 rows left unpublished for longer than `older_than` (the sweeper),
    /// oldest first, skipping parked rows. A row that fails is counted and left for the next
    /// sweep; the others are sent regardless, so one unsendable row blocks nothing.
    #[tracing::instrument(skip_all)]
    pub async fn sweep(
        &self,
        db: impl Into<Database>,
        older_than: Duration,
    ) -> anyhow::Result<Batch> {
        self.publish_selected(
            &db.into(),
            "SELECT id, kind, organization_id, payload, created_at FROM outbox
              WHERE published_at IS NULL AND parked_at IS NULL
                AND created_at < now() - make_interval(secs => :seconds)
              ORDER BY created_at LIMIT 100
              FOR UPDATE SKIP LOCKED",
            params!(seconds = older_than.as_secs_f64()),
        )
        .await
    }

    /// Locks the selected rows (SKIP LOCKED: concurrent publishers take other rows) and sends
    /// each. Sent rows are marked published; a row that fails has its attempt and error
    /// recorded, and after [`MAX_PUBLISH_ATTEMPTS`] it is parked: left out of later sweeps,
    /// logged as an error and counted in the `OutboxRowsParked` metric, which alarms.
    #[tracing::instrument(skip_all)]
    async fn publish_selected(
        &self,
        db: &Database,
        select: &str,
        params: &[(&str, crate::database::Value)],
    ) -> anyhow::Result<Batch> {
        let mut connection = db.connect().await?;
        let tx = connection.begin().await?;
        let rows = tx
            .fetch_all(select, params)
            .await
            .context("selecting outbox rows")?;
        let mut sent = Vec::new();
        let mut failures = Vec::new();
        for row in &rows {
            match self.send(row).await {
                Ok(id) => sent.push(id.to_string()),
                Err(err) => failures.push((row.get::<Uuid>("id")?, format!("{err:#}"))),
            }
        }
        if !sent.is_empty() {
            tx.run(
                "UPDATE outbox SET published_at = now(), attempts = attempts + 1 \
                 WHERE id IN (SELECT jsonb_array_elements_text(:sent::jsonb)::uuid)",
                params!(sent = json_list(&sent)),
            )
            .await?;
        }
        let mut parked = 0;
        for (id, error) in &failures {
            let row = tx
                .fetch_one(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = left(:error, 2000),
                            parked_at = CASE WHEN attempts + 1 >= :max_attempts THEN now() END
                      WHERE id = :id RETURNING attempts, parked_at IS NOT NULL AS parked",
                    params!(id, error, max_attempts = MAX_PUBLISH_ATTEMPTS),
                )
                .await?;
            let attempts: i32 = row.get("attempts")?;
            if row.get::<bool>("parked")? {
                parked += 1;
                tracing::error!(outbox_id = %id, attempts, error, "outbox row parked: it could not be published");
            } else {
                tracing::warn!(outbox_id = %id, attempts, error, "outbox row not published; the sweeper retries it");
            }
        }
        tx.commit().await?;
        if parked > 0 {
            crate::telemetry::metric("OutboxRowsParked", parked as f64, "Count");
        }
        Ok(Batch {
            selected: rows.len(),
            published: sent.len(),
            failed: failures.len(),
        })
    }

    #[tracing::instrument(skip_all)]
    async fn send(&self, row: &Row) -> anyhow::Result<Uuid> {
        let kind: String = row.get("kind")?;
        let kind = match kind.as_str() {
            "audit" => Kind::Audit,
            "email" => Kind::Email,
            "signing" => Kind::Signing,
            "webhook" => Kind::Webhook,
            "envelope_event" => Kind::EnvelopeEvent,
            other => anyhow::bail!("outbox row of unknown kind {other}"),
        };
        let message = Message {
            id: row.get("id")?,
            kind,
            organization_id: row.get("organization_id")?,
            payload: row.get("payload")?,
            created_at: row.get("created_at")?,
        };
        let queue = match kind {
            Kind::Audit => &self.audit_queue_url,
            Kind::Email => &self.email_queue_url,
            Kind::Signing => self.signing_queue_url.as_ref().with_context(|| {
                format!(
                    "outbox row {} is a signing job and SIGNING_QUEUE_URL is not set",
                    message.id
                )
            })?,
            Kind::Webhook => self.webhook_queue_url.as_ref().with_context(|| {
                format!(
                    "outbox row {} is a webhook event and WEBHOOK_EVENTS_QUEUE_URL is not set",
                    message.id
                )
            })?,
            Kind::EnvelopeEvent => self.envelope_events_queue_url.as_ref().with_context(|| {
                format!(
                    "outbox row {} is an envelope event and ENVELOPE_EVENTS_QUEUE_URL is not set",
                    message.id
                )
            })?,
        };
        self.sqs
            .send_message()
            .queue_url(queue)
            .message_body(serde_json::to_string(&message)?)
            .send()
            .await
            .with_context(|| format!("sending outbox row {} to SQS", message.id))?;
        Ok(message.id)
    }
}
