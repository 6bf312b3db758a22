//! `sqs-track-pack-document`: how a pack's documents follow their envelopes. The envelopes
//! area announces the evidence events other areas may follow (outbox kind `envelope_event`,
//! written with the event); this consumer shows those of a pack's envelope on its document:
//! the envelope status, a sign event with the signer's role, and the pack `signed` once its
//! last document completes. Envelopes never write pack tables.
//!
//! Messages may come twice or out of order: a sign event is kept once per evidence sequence,
//! and the status moves only forward in the envelope's sequence.

use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use gsign_core::Env;
use gsign_platform::aws::{self, AwsConfig};
use gsign_platform::database::Database;
use gsign_platform::db::{self, DbConfig};
use gsign_platform::lambda::{
    each_message, FunctionSpec, Handler, InitFuture, InvokeError, MessageOutcome, SqsHandler,
};
use gsign_platform::outbox::{self, EnvelopeEvent};

use crate::store;

/// `sqs-track-pack-document`.
pub const TRACK_PACK_DOCUMENT: FunctionSpec = FunctionSpec {
    name: "sqs-track-pack-document",
    init: |env: Env| -> InitFuture {
        Box::pin(async move {
            let mut r = env.reader();
            let db = DbConfig::read(&mut r);
            let aws = AwsConfig::read(&mut r);
            let (db, aws) = r.finish(|| Some((db?, aws?)))?;
            Ok(Handler::Sqs(Arc::new(PackFollower {
                db: db::database(&db, &aws::sdk_config(&aws).await).map_err(anyhow::Error::from)?,
            })))
        })
    },
};

struct PackFollower {
    db: Database,
}

#[async_trait]
impl SqsHandler for PackFollower {
    async fn handle(&self, event: SqsEvent) -> Result<SqsBatchResponse, InvokeError> {
        Ok(each_message(event, |message| self.process(message)).await)
    }
}

impl PackFollower {
    #[tracing::instrument(skip_all)]
    async fn process(&self, message: SqsMessage) -> MessageOutcome {
        let announced = message
            .body
            .as_deref()
            .and_then(|body| serde_json::from_str::<outbox::Message>(body).ok())
            .filter(|m| m.kind == outbox::Kind::EnvelopeEvent)
            .and_then(|m| serde_json::from_value::<EnvelopeEvent>(m.payload).ok());
        let Some(announced) = announced else {
            return MessageOutcome::Rejected("not an announced envelope event".to_owned());
        };
        match store::apply(&self.db, announced.organization_id, &announced.event).await {
            Ok(()) => MessageOutcome::Done,
            Err(err) => MessageOutcome::Retry(err),
        }
    }
}
