//! `sqs-record-mail-event`: SES's feedback (deliveries, bounces, complaints, delays)
//! recorded on the mail and its recipient.

use crate::service::EnvelopesApi;
use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use gsign_core::mail::parse_notification;
use gsign_core::Env;
use gsign_platform::lambda::{
    each_message, FunctionSpec, Handler, InitFuture, InvokeError, MessageOutcome, SqsHandler,
};
use std::sync::Arc;

/// `sqs-record-mail-event`.
pub const RECORD_MAIL_EVENT: FunctionSpec = FunctionSpec {
    name: "sqs-record-mail-event",
    init: init_feedback,
};

struct Feedback {
    api: EnvelopesApi,
}

fn init_feedback(env: Env) -> InitFuture {
    Box::pin(async move {
        Ok(Handler::Sqs(Arc::new(Feedback {
            api: EnvelopesApi::from_env(&env).await?,
        })))
    })
}

#[async_trait]
impl SqsHandler for Feedback {
    async fn handle(&self, event: SqsEvent) -> Result<SqsBatchResponse, InvokeError> {
        Ok(each_message(event, |m| self.record(m.body)).await)
    }
}

impl Feedback {
    #[tracing::instrument(skip_all)]
    async fn record(&self, body: Option<String>) -> MessageOutcome {
        let event = match parse_notification(body.as_deref().unwrap_or_default()) {
            Ok(event) => event,
            Err(reason) => return MessageOutcome::Rejected(reason),
        };
        match self.api.record_mail_event(&event).await {
            Ok(Some(recorded)) => {
                tracing::info!(
                    kind = event.kind.as_str(),
                    ses_message_id = event.ses_message_id,
                    ?recorded,
                    "mail event recorded"
                );
                MessageOutcome::Done
            }
            Ok(None) => {
                // Not ours (another sender on the account) or purged long ago: nothing to
                // change, and retrying cannot make it known.
                tracing::warn!(
                    kind = event.kind.as_str(),
                    ses_message_id = event.ses_message_id,
                    outbox = event.tag("gsign-outbox"),
                    "a mail event for a mail GSign has no record of: acknowledged, nothing changed"
                );
                MessageOutcome::Done
            }
            Err(err) => MessageOutcome::Retry(err),
        }
    }
}
