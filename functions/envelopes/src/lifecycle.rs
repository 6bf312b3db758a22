//! What a sender does to a sent envelope, and what time does to it:
//! `POST /v1/envelopes/{id}/void` (with a reason; recipients who were asked are told),
//! `POST /v1/envelopes/{id}/remind` (a fresh link to whoever must act now, within the
//! envelope's reminder cap), `GET /v1/envelopes/{id}/download?variant=current` (a presigned
//! link to the current revision) and `schedule-expire-envelopes` (envelopes past `expires_at`
//! end as `expired`, the sender is told).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use gsign_core::envelopes::{EnvelopeStatus, EvidenceEvent, RecipientStatus};
use gsign_core::webhooks::EventType;
use gsign_core::Env;
use gsign_platform::database::Transaction;
use gsign_platform::http::Caller;
use gsign_platform::lambda::{FunctionSpec, Handler, InitFuture, InvokeError, InvokeHandler};
use gsign_platform::outbox;
use gsign_platform::storage::{ObjectRef, Presigned};
use serde::Deserialize;
use uuid::Uuid;

use crate::acting::acting_now;
use crate::error::{EnvelopesCase, EnvelopesError};
use crate::repo::Letterhead;
use crate::repo::{self, Envelope, Recipient};
use crate::service::EnvelopesApi;

/// `POST /v1/envelopes/{id}/void` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidInput {
    /// Why, told to the recipients: 1 to 1000 characters.
    reason: String,
}

impl VoidInput {
    /// A void with `reason`.
    pub fn new(reason: String) -> Self {
        Self { reason }
    }
}

/// The sent envelope `id`, locked, or why it is not one.
#[tracing::instrument(skip_all, fields(id = %id))]
async fn sent(tx: &Transaction<'_>, caller: &Caller, id: Uuid) -> Result<Envelope, EnvelopesError> {
    EnvelopesApi::locked(tx, caller, id, EnvelopeStatus::Sent, EnvelopesCase::NotSent).await
}

impl EnvelopesApi {
    /// Voids a sent envelope.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub(crate) async fn void(
        &self,
        caller: &Caller,
        id: Uuid,
        input: VoidInput,
    ) -> Result<Envelope, EnvelopesError> {
        let reason = input.reason.trim().to_owned();
        if reason.is_empty() || reason.chars().count() > 1000 {
            return Err(EnvelopesError::invalid(
                "/reason",
                "must be 1 to 1000 characters",
            ));
        }
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        sent(&tx, caller, id).await?;
        let recipients = repo::recipients(&tx, id).await?;
        let envelope = repo::void(&tx, id, &reason).await?;
        let mut emails = Vec::new();
        repo::record(
            &tx,
            caller.org,
            Self::event(
                caller,
                id,
                "envelope.voided",
                None,
                serde_json::json!({"reason": reason}),
            ),
        )
        .await?
        .announce_with(&mut emails);
        // Everyone who was asked to act hears that they need not.
        for recipient in recipients
            .iter()
            .filter(|r| r.status != RecipientStatus::Pending)
        {
            emails.push(
                outbox::email(
                    &tx,
                    caller.org,
                    &outbox::Email {
                        template: "envelope_voided".to_owned(),
                        to: recipient.email.clone(),
                        data: serde_json::json!({
                            "recipient_name": recipient.name,
                            "envelope_name": envelope.name.clone().unwrap_or_else(|| "a document".to_owned()),
                            "reason": reason,
                        }),
                        language: envelope.language.clone(),
                        envelope_id: Some(envelope.id),
                        recipient_id: Some(recipient.id),
                        bulk: false,
                    },
                )
                .await?,
            );
        }
        emails.push(
            outbox::webhook(
                &tx,
                caller.org,
                EventType::EnvelopeVoided,
                serde_json::json!({"envelope_id": envelope.id, "status": "voided", "reason": reason}),
            )
            .await?
            .0,
        );
        tx.commit().await?;
        drop(conn);
        self.base.relay.publish(&self.base.db, &emails).await;
        Ok(envelope)
    }

    /// Sends whoever must act now a fresh link (the previous one stops working: only the
    /// newest token's hash is kept).
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub(crate) async fn remind(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<serde_json::Value, EnvelopesError> {
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let envelope = sent(&tx, caller, id).await?;
        let Reminders {
            reminded,
            emails,
            unreachable,
        } = self.remind_in(&tx, caller, &envelope, None).await?;
        if reminded.is_empty() {
            if !unreachable.is_empty() {
                return Err(EnvelopesCase::Unreachable(unreachable).into());
            }
            return Err(EnvelopesCase::NothingToRemind.into());
        }
        tx.commit().await?;
        self.base.relay.publish(&self.base.db, &emails).await;
        Ok(serde_json::json!({"reminded": reminded}))
    }

    /// Reminds, in `tx`, whoever must act now on `envelope` and has reminders left; with
    /// `due_before`, only those whose newest link went out before then. Returns who was
    /// reminded, the outbox rows to publish after commit, and the addresses of those who must
    /// act but are not mailed (bounced, complained, suppressed).
    #[tracing::instrument(skip_all)]
    async fn remind_in(
        &self,
        tx: &Transaction<'_>,
        caller: &Caller,
        envelope: &Envelope,
        due_before: Option<chrono::DateTime<Utc>>,
    ) -> Result<Reminders, EnvelopesError> {
        let recipients = repo::recipients(tx, envelope.id).await?;
        let letterhead = Letterhead::of(tx, envelope).await?;
        let mut emails = Vec::new();
        let mut reminded = Vec::new();
        let due = |r: &&Recipient| match (due_before, r.notified_at) {
            (Some(before), Some(at)) => at < before,
            (Some(_), None) => false,
            (None, _) => true,
        };
        // No reminder to an address that bounced, complained or is suppressed: the sender
        // corrects it or hands over a link instead.
        let addresses: Vec<String> = recipients.iter().map(|r| r.email.clone()).collect();
        let suppressed =
            crate::mail::suppressed_among(tx, envelope.organization_id, &addresses).await?;
        let reachable = |r: &&Recipient| {
            !matches!(
                r.mail_status.as_deref(),
                Some("bounced" | "complained" | "rejected")
            ) && !suppressed
                .iter()
                .any(|s| s.email.eq_ignore_ascii_case(&r.email))
        };
        let (acting, unreachable): (Vec<&Recipient>, Vec<&Recipient>) =
            acting_now(envelope, &recipients)
                .into_iter()
                .partition(|r| reachable(r));
        let unreachable = unreachable.iter().map(|r| r.email.clone()).collect();
        for recipient in acting.into_iter().filter(due) {
            let Some(count) = repo::try_remind(tx, recipient.id, envelope.reminder_max).await?
            else {
                continue;
            };
            emails.extend(
                self.ask(tx, envelope, recipient, &letterhead, Some(count))
                    .await?,
            );
            repo::record(
                tx,
                envelope.organization_id,
                Self::event(
                    caller,
                    envelope.id,
                    "recipient.reminded",
                    Some(recipient.id),
                    serde_json::json!({"reminder": count}),
                ),
            )
            .await?;
            reminded.push(recipient.id);
        }
        Ok(Reminders {
            reminded,
            emails,
            unreachable,
        })
    }

    /// A short-lived link to the envelope's current revision.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub(crate) async fn download(
        &self,
        caller: &Caller,
        id: Uuid,
        variant: &str,
    ) -> Result<Presigned, EnvelopesError> {
        let client = self.base.db.connect().await?;
        let envelope = repo::get(&client, caller.org, id, false)
            .await?
            .ok_or(EnvelopesError::NotFound("envelope"))?;
        let (key, version_id) = match variant {
            "current" => (
                envelope.current_s3_key.clone(),
                envelope.current_s3_version_id.clone(),
            ),
            "final" => (
                envelope.final_s3_key.clone(),
                envelope.final_s3_version_id.clone(),
            ),
            "certificate" => (
                envelope.certificate_s3_key.clone(),
                envelope.certificate_s3_version_id.clone(),
            ),
            _ => {
                return Err(EnvelopesError::invalid(
                    "/variant",
                    "must be current, final or certificate",
                ))
            }
        };
        let key =
            key.ok_or_else(|| EnvelopesCase::NotAvailable(variant.to_owned(), envelope.status))?;
        Ok(self
            .store
            .presign_get(
                &ObjectRef { key, version_id },
                "application/pdf",
                &format!("attachment; filename=\"envelope-{id}-{variant}.pdf\""),
                Duration::from_secs(300),
            )
            .await?)
    }
}

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

#[async_trait]
impl InvokeHandler for Expirer {
    async fn handle(&self, _event: serde_json::Value) -> Result<serde_json::Value, InvokeError> {
        let base = &self.api.base;
        let mut expired = 0u64;
        // One envelope per transaction: each with its evidence and mail; a later run picks up
        // whatever a failure left.
        while let Some((org, id)) = {
            let client = base.db.connect().await?;
            repo::next_expired(&client).await?
        } {
            let mut conn = base.db.connect().await?;
            let tx = conn.begin().await?;
            let Some(envelope) = repo::get(&tx, org, id, true).await? else {
                continue;
            };
            if envelope.status != EnvelopeStatus::Sent {
                continue;
            }
            repo::expire(&tx, id).await?;
            let mut emails = Vec::new();
            repo::record(
                &tx,
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
            if let Some(to) = repo::sender_email(&tx, id).await? {
                emails.push(
                    outbox::email(
                        &tx,
                        org,
                        &outbox::Email {
                            template: "envelope_expired".to_owned(),
                            to,
                            data: serde_json::json!({
                                "envelope_name": envelope.name.clone().unwrap_or_else(|| "your envelope".to_owned()),
                                "link": format!("{}/envelopes/{id}", self.api.settings.app_url),
                            }),
                            envelope_id: Some(id),
                            ..Default::default()
                        },
                    )
                    .await?,
                );
            }
            emails.push(
                outbox::webhook(
                    &tx,
                    org,
                    EventType::EnvelopeExpired,
                    serde_json::json!({"envelope_id": id, "status": "expired"}),
                )
                .await?
                .0,
            );
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
            repo::reminder_candidates(&client, REMINDER_BATCH).await?
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
            let Some(envelope) = repo::get(&tx, org, id, true).await? else {
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

/// What reminding an envelope did.
struct Reminders {
    /// The recipients reminded.
    reminded: Vec<Uuid>,
    /// The outbox rows of their mail, to publish after commit.
    emails: Vec<Uuid>,
    /// The addresses of those who must act but are not mailed (bounced, complained,
    /// suppressed).
    unreachable: Vec<String>,
}
