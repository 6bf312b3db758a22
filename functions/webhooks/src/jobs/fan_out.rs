//! `sqs-fan-out-webhook-event`: an event from the outbox (written in the transaction of its
//! state change) becomes one delivery per active endpoint of the organization that subscribes
//! to its type: a pending item in the delivery log (created once, whatever the redeliveries)
//! and a message to `sqs-deliver-webhook`. `webhook.test` goes to the endpoint it names only.

use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use gsign_core::webhooks::{DeliveryStatus, Event, EventType};
use gsign_core::Env;
use gsign_platform::lambda::{
    each_message, FunctionSpec, Handler, InitFuture, InvokeError, MessageOutcome, SqsHandler,
};
use gsign_platform::outbox;
use uuid::Uuid;

use crate::service::Job;
use crate::service::{Services, WebhooksConfig};
use crate::store;

struct FanOut {
    services: Services,
}

impl FanOut {
    #[tracing::instrument(skip_all)]
    async fn process(&self, message: SqsMessage) -> MessageOutcome {
        let parsed = message
            .body
            .as_deref()
            .and_then(|body| serde_json::from_str::<outbox::Message>(body).ok());
        let Some(message) = parsed.filter(|m| m.kind == outbox::Kind::Webhook) else {
            return MessageOutcome::Rejected("not a webhook event".to_owned());
        };
        let (Some(org), Ok(event)) = (
            message.organization_id,
            serde_json::from_value::<Event>(message.payload),
        ) else {
            return MessageOutcome::Rejected("a webhook event without organization or body".into());
        };
        match self.fan_out(org, &event).await {
            Ok(count) => {
                tracing::info!(event = %event.id, r#type = event.event_type.as_str(), endpoints = count, "fanned out");
                MessageOutcome::Done
            }
            Err(err) => MessageOutcome::Retry(err),
        }
    }

    #[tracing::instrument(skip_all, fields(org = %org))]
    async fn fan_out(&self, org: Uuid, event: &Event) -> anyhow::Result<usize> {
        let s = &self.services;
        let endpoints = {
            let client = s.base.db.connect().await?;
            store::active(&client, org).await?
        };
        let only = (event.event_type == EventType::WebhookTest)
            .then(|| {
                event.data["endpoint_id"]
                    .as_str()
                    .and_then(|id| id.parse::<Uuid>().ok())
            })
            .flatten();
        let mut jobs = Vec::new();
        for endpoint in endpoints
            .iter()
            .filter(|e| e.subscribes_to(event.event_type.as_str()) || only == Some(e.id))
            .filter(|e| only.is_none_or(|id| id == e.id))
        {
            let created = s
                .log
                .create(org, endpoint, event, s.delivery.max_attempts())
                .await?;
            // A redelivered fan-out re-sends only deliveries nobody attempted yet (the first
            // run may have stopped between the log and the queue).
            let untouched = created
                || s.log
                    .get(endpoint.id, event.id)
                    .await?
                    .is_some_and(|d| d.status == DeliveryStatus::Pending && d.attempts == 0);
            if untouched {
                jobs.push(Job {
                    organization_id: org,
                    endpoint_id: endpoint.id,
                    event_id: event.id,
                    not_before: None,
                });
            }
        }
        s.enqueue_now(&jobs).await?;
        Ok(jobs.len())
    }
}

#[async_trait]
impl SqsHandler for FanOut {
    async fn handle(&self, event: SqsEvent) -> Result<SqsBatchResponse, InvokeError> {
        Ok(each_message(event, |message| self.process(message)).await)
    }
}

/// `sqs-fan-out-webhook-event`.
pub const FUNCTION: FunctionSpec = FunctionSpec {
    name: "sqs-fan-out-webhook-event",
    init: |env: Env| -> InitFuture {
        Box::pin(async move {
            let mut r = env.reader();
            let config = WebhooksConfig::read(&mut r);
            let config = r.finish(|| config)?;
            Ok(Handler::Sqs(Arc::new(FanOut {
                services: Services::build(config).await?,
            })))
        })
    },
};
