//! The envelopes' schedules: `schedule-expire-envelopes` and `schedule-send-reminders`.

use crate::service::lifecycle::Reminders;
use crate::service::EnvelopesApi;
use crate::store::{self, Envelope};
use async_trait::async_trait;
use chrono::Utc;
use gsign_core::envelopes::{EnvelopeStatus, EvidenceEvent};
use gsign_core::webhooks::EventType;
use gsign_core::Env;
use gsign_platform::database::Transaction;
use gsign_platform::http::Caller;
use gsign_platform::lambda::{FunctionSpec, Handler, InitFuture, InvokeError, InvokeHandler};
use gsign_platform::outbox;
use std::sync::Arc;
use uuid::Uuid;

/// `schedule-expire-envelopes`: every sent envelope past its `expires_at` becomes `expired`.
pub const EXPIRE_ENVELOPES: FunctionSpec = FunctionSpec {
    name: "schedule-expire-envelopes",
    init: init_expire,
};

struct Expirer {
    api: EnvelopesApi,
}

fn init_expire(env: Env) -> InitFuture {
    Box::pin(async move {
        Ok(Handler::Invoke(Arc::new(Expirer {
            api: EnvelopesApi::from_env(&env).await?,
        })))
    })
}

impl Expirer {
    /// Expires `envelope` in `tx`, with its evidence, the sender's email and the webhook; the
    /// outbox rows to publish after commit.
    #[tracing::instrument(skip_all)]
    async fn expire(&self, tx: &Transaction<'_>, envelope: &Envelope) -> anyhow::Result<Vec<Uuid>> {
        let (org, id) = (envelope.organization_id, envelope.id);
        store::expire(tx, id).await?;
        let mut emails = Vec::new();
        store::record(
            tx,
            org,
            EvidenceEvent {
                envelope_id: id,
                sequence: 0,
                action: "envelope.expired".to_owned(),
                actor_type: "system".to_owned(),
                actor_id: None,
                recipient_id: None,
                ip: None,
                user_agent: None,
                details: serde_json::json!({"expires_at": envelope.expires_at}),
                occurred_at: Utc::now(),
            },
        )
        .await?
        .announce_with(&mut emails);
        if let Some(to) = store::sender_email(tx, id).await? {
            emails.push(outbox::email(tx, org, &self.expired_letter(envelope, to)).await?);
        }
        emails.push(
            outbox::webhook(
                tx,
                org,
                EventType::EnvelopeExpired,
                serde_json::json!({"envelope_id": id, "status": "expired"}),
            )
            .await?
            .0,
        );
        Ok(emails)
    }

    /// The email telling the sender (`to`) the envelope expired.
    fn expired_letter(&self, envelope: &Envelope, to: String) -> outbox::Email {
        let id = envelope.id;
        outbox::Email {
            template: "envelope_expired".to_owned(),
            to,
            data: serde_json::json!({
                "envelope_name": envelope.name.clone().unwrap_or_else(|| "your envelope".to_owned()),
                "link": format!("{}/envelopes/{id}", self.api.settings.app_url),
            }),
            envelope_id: Some(id),
            ..Default::default()
        }
    }
}

#[async_trait]
impl InvokeHandler for Expirer {
    async fn handle(&self, _event: serde_json::Value) -> Result<serde_json::Value, InvokeError> {
        let base = &self.api.base;
        let mut expired = 0u64;
        // One envelope per transaction: each with its evidence and mail; a later run picks up
        // whatever a failure left.
        while let Some((org, id)) = {
            let client = base.db.connect().await?;
            store::next_expired(&client).await?
        } {
            let mut conn = base.db.connect().await?;
            let tx = conn.begin().await?;
            let Some(envelope) = store::get(&tx, org, id, true).await? else {
                continue;
            };
            if envelope.status != EnvelopeStatus::Sent {
                continue;
            }
            let emails = self.expire(&tx, &envelope).await?;
            tx.commit().await?;
            base.relay.publish(&base.db, &emails).await;
            expired += 1;
        }
        Ok(serde_json::json!({"expired": expired}))
    }
}

/// `schedule-send-reminders`: every acting recipient of a sent envelope with reminders on gets
/// a fresh link once `reminder_interval_days` passed since their last one, up to
/// `reminder_max` times.
pub const SEND_REMINDERS: FunctionSpec = FunctionSpec {
    name: "schedule-send-reminders",
    init: init_reminders,
};

/// Envelopes looked at per run (the oldest first; the next run continues).
const REMINDER_BATCH: i64 = 500;

struct Reminder {
    api: EnvelopesApi,
}

fn init_reminders(env: Env) -> InitFuture {
    Box::pin(async move {
        Ok(Handler::Invoke(Arc::new(Reminder {
            api: EnvelopesApi::from_env(&env).await?,
        })))
    })
}

#[async_trait]
impl InvokeHandler for Reminder {
    async fn handle(&self, _event: serde_json::Value) -> Result<serde_json::Value, InvokeError> {
        let base = &self.api.base;
        let candidates = {
            let client = base.db.connect().await?;
            store::reminder_candidates(&client, REMINDER_BATCH).await?
        };
        let mut reminded = 0usize;
        for (org, id) in candidates {
            // The schedule acts for the platform: its evidence says `system`.
            let system = Caller {
                org,
                role: gsign_core::Role::Owner,
                user: None,
                api_key: None,
                ip: None,
                user_agent: None,
            };
            let mut conn = base.db.connect().await?;
            let tx = conn.begin().await?;
            let Some(envelope) = store::get(&tx, org, id, true).await? else {
                continue;
            };
            if envelope.status != EnvelopeStatus::Sent || !envelope.reminder_enabled {
                continue;
            }
            let due_before =
                Utc::now() - chrono::Duration::days(i64::from(envelope.reminder_interval_days));
            let Reminders {
                reminded: who,
                emails,
                ..
            } = self
                .api
                .remind_in(&tx, &system, &envelope, Some(due_before))
                .await
                .map_err(|e| anyhow::Error::new(e).context(format!("reminding {id}")))?;
            if who.is_empty() {
                continue;
            }
            tx.commit().await?;
            base.relay.publish(&base.db, &emails).await;
            reminded += who.len();
        }
        Ok(serde_json::json!({"reminded": reminded}))
    }
}
