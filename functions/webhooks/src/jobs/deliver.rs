//! `sqs-deliver-webhook`: one attempt per message. The endpoint's URL goes through the SSRF
//! guard again (DNS may have changed since registration) and the request goes to the vetted
//! address only, redirects not followed; the body is the event as logged, signed with every
//! active secret (Standard Webhooks). 2xx is delivered; 410 disables the endpoint; anything
//! else (3xx, 4xx, 5xx, a timeout, a refused address) waits for the next attempt of the
//! schedule (with jitter, never before the receiver's `Retry-After`) until the last one,
//! then the delivery is `failed` and kept for replay.
//!
//! Waits longer than SQS's 15-minute message delay hop: the message carries `not_before`
//! and is sent again with the remaining delay (at most 15 minutes) until it is due, so a
//! 24-hour wait costs about 96 empty invocations and no scheduler. An endpoint that fails
//! every event for `WEBHOOK_DISABLE_AFTER_HOURS` is disabled and its organization's admins
//! are mailed. Completion events never wait on email: each event is its own message.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use gsign_core::webhooks::{message_id, retry_delay, signature_header, DeliveryStatus};
use gsign_core::Env;
use gsign_platform::lambda::{
    each_message, FunctionSpec, Handler, InitFuture, InvokeError, MessageOutcome, SqsHandler,
};
use gsign_platform::outbox;
use uuid::Uuid;

use crate::service::{Job, Services, WebhooksConfig};
use crate::store;
use crate::store::delivery_log::{Attempt, Delivery, Outcome, BODY_EXCERPT_BYTES};

/// What the receiver (or the way to it) did.
struct Response {
    code: Option<u16>,
    body: Option<String>,
    retry_after: Option<Duration>,
    error: Option<String>,
}

struct Deliverer {
    services: Services,
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    // Honoured up to a day: a receiver cannot park a delivery for longer.
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds.min(24 * 3600)));
    }
    let at = DateTime::parse_from_rfc2822(value.trim()).ok()?;
    let wait = (at.with_timezone(&Utc) - Utc::now()).to_std().ok()?;
    Some(wait.min(Duration::from_secs(24 * 3600)))
}

impl Response {
    /// No answer: the request failed, or was never sent, for `error`.
    fn failed(error: String) -> Self {
        Self {
            code: None,
            body: None,
            retry_after: None,
            error: Some(error),
        }
    }
}

/// The endpoint's URL and the address it may be reached at, or the failed attempt.
#[tracing::instrument(skip_all)]
async fn vetted(raw: &str, allow_loopback: bool) -> Result<(url::Url, SocketAddr), Response> {
    let url = match url::Url::parse(raw) {
        Ok(url) => url,
        Err(err) => return Err(Response::failed(format!("the URL does not parse: {err}"))),
    };
    match gsign_platform::ssrf::vet(&url, allow_loopback).await {
        Ok(address) => Ok((url, address)),
        Err(refusal) => Err(Response::failed(format!("refused: {refusal}"))),
    }
}

/// The receiver's answer: its status, `Retry-After` and the start of its body.
#[tracing::instrument(skip_all)]
async fn received(mut response: reqwest::Response) -> Response {
    let code = response.status().as_u16();
    let retry_after = retry_after(response.headers());
    let mut excerpt = Vec::new();
    while excerpt.len() < BODY_EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
            _ => break,
        }
    }
    excerpt.truncate(BODY_EXCERPT_BYTES);
    Response {
        code: Some(code),
        body: Some(String::from_utf8_lossy(&excerpt).into_owned()),
        retry_after,
        error: (300..400)
            .contains(&code)
            .then(|| "redirects are not followed".to_owned()),
    }
}

/// The delivery after `attempt`: delivered, pending for the `next` wait, or failed.
fn outcome(
    attempt: Attempt,
    delivered: bool,
    next: Option<Duration>,
    response_body: Option<String>,
) -> Outcome {
    let next_attempt_at =
        next.map(|wait| attempt.at + chrono::Duration::from_std(wait).unwrap_or_default());
    Outcome {
        attempt,
        status: if delivered {
            DeliveryStatus::Delivered
        } else if next_attempt_at.is_some() {
            DeliveryStatus::Pending
        } else {
            DeliveryStatus::Failed
        },
        next_attempt_at,
        response_body,
    }
}

/// Counted once per delivery (the log records each attempt once): what the dashboard shows
/// as webhook failures.
fn count(status: DeliveryStatus) {
    match status {
        DeliveryStatus::Failed => {
            gsign_platform::telemetry::metric("WebhookDeliveriesFailed", 1.0, "Count")
        }
        DeliveryStatus::Delivered => {
            gsign_platform::telemetry::metric("WebhookDeliveriesSucceeded", 1.0, "Count")
        }
        DeliveryStatus::Pending => {}
    }
}

impl Deliverer {
    #[tracing::instrument(skip_all)]
    async fn process(&self, message: SqsMessage) -> MessageOutcome {
        let Some(job) = message
            .body
            .as_deref()
            .and_then(|body| serde_json::from_str::<Job>(body).ok())
        else {
            return MessageOutcome::Rejected("not a delivery job".to_owned());
        };
        let now = Utc::now();
        if let Some(due) = job
            .not_before
            .filter(|due| *due > now + chrono::Duration::seconds(1))
        {
            let wait = (due - now).to_std().unwrap_or_default();
            return match self.services.enqueue(&job, wait).await {
                Ok(()) => MessageOutcome::Done,
                Err(err) => MessageOutcome::Retry(err),
            };
        }
        match self.attempt(job).await {
            Ok(()) => MessageOutcome::Done,
            Err(err) => MessageOutcome::Retry(err),
        }
    }

    #[tracing::instrument(skip_all)]
    async fn attempt(&self, job: Job) -> anyhow::Result<()> {
        let s = &self.services;
        let Some(delivery) = self.due(job).await? else {
            return Ok(());
        };
        let endpoint = {
            let client = s.base.db.connect().await?;
            store::get(&client, job.organization_id, job.endpoint_id, false).await?
        };
        let started = Instant::now();
        let at = Utc::now();
        let response = match endpoint.as_ref().filter(|e| e.active) {
            None => Response::failed("the endpoint is disabled or deleted".to_owned()),
            Some(endpoint) => self.post(endpoint, &delivery).await?,
        };
        let attempt = Attempt {
            at,
            response_code: response.code,
            error: response.error.clone(),
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        let delivered = response.code.is_some_and(|c| (200..300).contains(&c));
        let gone = response.code == Some(410);
        let endpoint_closed = endpoint.as_ref().is_none_or(|e| !e.active);
        let finished = delivered || gone || endpoint_closed;
        let next = self.next_wait(&delivery, finished, response.retry_after);
        let outcome = outcome(attempt, delivered, next, response.body);
        // The endpoint's streak first (each step is idempotent): a failure after it retries
        // the whole attempt, never leaving the log ahead of the endpoint.
        let streak = endpoint.as_ref().is_some_and(|e| e.failing_since.is_some());
        if !endpoint_closed && (!delivered || streak) {
            self.track_endpoint(job, delivered, gone).await?;
        }
        if !s
            .log
            .record(job.endpoint_id, job.event_id, delivery.attempts, &outcome)
            .await?
        {
            // Another copy of this message recorded this attempt first.
            return Ok(());
        }
        let attempts = delivery.attempts as usize + 1;
        tracing::info!(event = %job.event_id, endpoint = %job.endpoint_id, attempt = attempts, status = outcome.status.as_str(), code = ?outcome.attempt.response_code, "webhook attempt");
        count(outcome.status);
        if let (Some(due), Some(wait)) = (outcome.next_attempt_at, next) {
            let job = Job {
                not_before: Some(due),
                ..job
            };
            s.enqueue(&job, wait).await?;
        }
        Ok(())
    }

    /// The pending delivery `job` attempts, once due: a copy that arrived early is sent
    /// again for the attempt's time.
    #[tracing::instrument(skip_all)]
    async fn due(&self, job: Job) -> anyhow::Result<Option<Delivery>> {
        let s = &self.services;
        let Some(delivery) = s.log.get(job.endpoint_id, job.event_id).await? else {
            tracing::warn!(event = %job.event_id, "no such delivery; dropped");
            return Ok(None);
        };
        if delivery.status != DeliveryStatus::Pending {
            return Ok(None);
        }
        if let Some(due) = delivery
            .next_attempt_at
            .filter(|due| *due > Utc::now() + chrono::Duration::seconds(1))
        {
            // A copy that arrived early: wait for the attempt's time.
            let wait = (due - Utc::now()).to_std().unwrap_or_default();
            let job = Job {
                not_before: Some(due),
                ..job
            };
            s.enqueue(&job, wait).await?;
            return Ok(None);
        }
        Ok(Some(delivery))
    }

    /// The wait before the delivery's next attempt: none once `finished` or at its last one.
    fn next_wait(
        &self,
        delivery: &Delivery,
        finished: bool,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let attempts = delivery.attempts as usize + 1;
        if finished || attempts >= delivery.max_attempts as usize {
            return None;
        }
        retry_delay(
            &self.services.delivery.schedule,
            attempts,
            rand::random::<f64>(),
            retry_after,
        )
    }

    /// One signed POST to the vetted address.
    #[tracing::instrument(skip_all)]
    async fn post(
        &self,
        endpoint: &store::Endpoint,
        delivery: &Delivery,
    ) -> anyhow::Result<Response> {
        let s = &self.services;
        let (url, address) = match vetted(&endpoint.url, s.delivery.allow_loopback).await {
            Ok(vetted) => vetted,
            Err(refused) => return Ok(refused),
        };
        let keys = self.signing_keys(endpoint.id).await?;
        if keys.is_empty() {
            return Ok(Response::failed(
                "the endpoint has no signing secret".to_owned(),
            ));
        }
        let body = serde_json::to_vec(&delivery.payload)?;
        let id = message_id(delivery.id);
        let timestamp = Utc::now().timestamp();
        let client = self.pinned_client(&url, address)?;
        let sent = client
            .post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signature_header(&keys, &id, timestamp, &body),
            )
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) => Ok(received(response).await),
            Err(err) => {
                let what = if err.is_timeout() {
                    "timed out"
                } else {
                    "could not connect"
                };
                Ok(Response::failed(format!("{what}: {err}")))
            }
        }
    }

    /// The endpoint's active signing secrets, opened.
    #[tracing::instrument(skip_all)]
    async fn signing_keys(&self, endpoint: Uuid) -> anyhow::Result<Vec<Vec<u8>>> {
        let s = &self.services;
        let ciphertexts = {
            let client = s.base.db.connect().await?;
            store::active_secrets(&client, endpoint).await?
        };
        s.secrets.keys(endpoint, ciphertexts).await
    }

    /// A client per attempt: it is pinned to the address just vetted (no second DNS
    /// answer can redirect it), and follows no redirect.
    fn pinned_client(
        &self,
        url: &url::Url,
        address: SocketAddr,
    ) -> reqwest::Result<reqwest::Client> {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve the name itself, around the pin.
            .no_proxy()
            .timeout(self.services.delivery.timeout)
            .resolve(url.host_str().unwrap_or_default(), address)
            .user_agent("GSign-Webhooks/1.0")
            .build()
    }

    /// The endpoint's failure streak; disabling (and telling the admins) when it ends badly.
    #[tracing::instrument(skip_all)]
    async fn track_endpoint(&self, job: Job, delivered: bool, gone: bool) -> anyhow::Result<()> {
        let s = &self.services;
        let mut conn = s.base.db.connect().await?;
        let tx = conn.begin().await?;
        let disabled = if delivered {
            store::succeeded(&tx, job.endpoint_id).await?;
            false
        } else if gone {
            store::gone(&tx, job.endpoint_id).await?
        } else {
            store::failed(&tx, job.endpoint_id, s.delivery.disable_after.as_secs_f64()).await?
        };
        let mut emails = Vec::new();
        if disabled {
            let endpoint = store::get(&tx, job.organization_id, job.endpoint_id, false).await?;
            if let Some(endpoint) = endpoint {
                for to in store::admin_emails(&tx, job.organization_id).await? {
                    emails.push(
                        outbox::email(
                            &tx,
                            job.organization_id,
                            &outbox::Email {
                                template: "webhook_disabled".to_owned(),
                                to,
                                data: serde_json::json!({
                                    "url": endpoint.url,
                                    "reason": endpoint.disabled_reason,
                                    "endpoint_id": endpoint.id,
                                }),
                                ..Default::default()
                            },
                        )
                        .await?,
                    );
                }
            }
        }
        tx.commit().await?;
        drop(conn);
        s.base.relay.publish(&s.base.db, &emails).await;
        Ok(())
    }
}

#[async_trait]
impl SqsHandler for Deliverer {
    async fn handle(&self, event: SqsEvent) -> Result<SqsBatchResponse, InvokeError> {
        Ok(each_message(event, |message| self.process(message)).await)
    }
}

/// `sqs-deliver-webhook`.
pub const FUNCTION: FunctionSpec = FunctionSpec {
    name: "sqs-deliver-webhook",
    init: |env: Env| -> InitFuture {
        Box::pin(async move {
            let mut r = env.reader();
            let config = WebhooksConfig::read(&mut r);
            let config = r.finish(|| config)?;
            Ok(Handler::Sqs(Arc::new(Deliverer {
                services: Services::build(config).await?,
            })))
        })
    },
};
