//! What a sender does to a sent envelope, and what time does to it:
//! `POST /v1/envelopes/{id}/void` (with a reason; recipients who were asked are told),
//! `POST /v1/envelopes/{id}/remind` (a fresh link to whoever must act now, within the
//! envelope's reminder cap), `GET /v1/envelopes/{id}/download?variant=current` (a presigned
//! link to the current revision) and `schedule-expire-envelopes` (envelopes past `expires_at`
//! end as `expired`, the sender is told).

use std::time::Duration;

use chrono::Utc;
use gsign_core::envelopes::{EnvelopeStatus, RecipientStatus};
use gsign_core::webhooks::EventType;
use gsign_platform::database::Transaction;
use gsign_platform::http::Caller;
use gsign_platform::outbox;
use gsign_platform::storage::{ObjectRef, Presigned};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::{EnvelopesCase, EnvelopesError};
use crate::service::acting::acting_now;
use crate::service::EnvelopesApi;
use crate::store::Letterhead;
use crate::store::{self, Envelope, Recipient};

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
        let recipients = store::recipients(&tx, id).await?;
        let envelope = store::void(&tx, id, &reason).await?;
        let mut emails = Vec::new();
        store::record(
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
            let letter = voided_letter(&envelope, recipient, &reason);
            emails.push(outbox::email(&tx, caller.org, &letter).await?);
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
    pub(crate) async fn remind_in(
        &self,
        tx: &Transaction<'_>,
        caller: &Caller,
        envelope: &Envelope,
        due_before: Option<chrono::DateTime<Utc>>,
    ) -> Result<Reminders, EnvelopesError> {
        let recipients = store::recipients(tx, envelope.id).await?;
        let letterhead = Letterhead::of(tx, envelope).await?;
        let mut emails = Vec::new();
        let mut reminded = Vec::new();
        let due = |r: &&Recipient| is_due(r, due_before);
        let (acting, unreachable) = reachable_acting(tx, envelope, &recipients).await?;
        for recipient in acting.into_iter().filter(due) {
            let Some(count) = store::try_remind(tx, recipient.id, envelope.reminder_max).await?
            else {
                continue;
            };
            emails.extend(
                self.ask(tx, envelope, recipient, &letterhead, Some(count))
                    .await?,
            );
            store::record(
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
        let envelope = store::get(&client, caller.org, id, false)
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

/// Whether `recipient` is due a reminder: with `due_before`, only if their newest link went
/// out before then.
fn is_due(recipient: &Recipient, due_before: Option<chrono::DateTime<Utc>>) -> bool {
    match (due_before, recipient.notified_at) {
        (Some(before), Some(at)) => at < before,
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// Who must act now on `envelope`, split into those GSign mails and the addresses of those
/// it does not: no reminder to an address that bounced, complained or is suppressed (the
/// sender corrects it or hands over a link instead).
#[tracing::instrument(skip_all)]
async fn reachable_acting<'r>(
    tx: &Transaction<'_>,
    envelope: &Envelope,
    recipients: &'r [Recipient],
) -> Result<(Vec<&'r Recipient>, Vec<String>), EnvelopesError> {
    let addresses: Vec<String> = recipients.iter().map(|r| r.email.clone()).collect();
    let suppressed =
        crate::store::mail::suppressed_among(tx, envelope.organization_id, &addresses).await?;
    let reachable = |r: &&Recipient| {
        !matches!(
            r.mail_status.as_deref(),
            Some("bounced" | "complained" | "rejected")
        ) && !suppressed
            .iter()
            .any(|s| s.email.eq_ignore_ascii_case(&r.email))
    };
    let (acting, unreachable): (Vec<&Recipient>, Vec<&Recipient>) =
        acting_now(envelope, recipients)
            .into_iter()
            .partition(|r| reachable(r));
    let unreachable = unreachable.iter().map(|r| r.email.clone()).collect();
    Ok((acting, unreachable))
}

/// The email telling `recipient` the envelope was voided, and why.
fn voided_letter(envelope: &Envelope, recipient: &Recipient, reason: &str) -> outbox::Email {
    outbox::Email {
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
    }
}

/// What reminding an envelope did.
pub(crate) struct Reminders {
    /// The recipients reminded.
    pub(crate) reminded: Vec<Uuid>,
    /// The outbox rows of their mail, to publish after commit.
    pub(crate) emails: Vec<Uuid>,
    /// The addresses of those who must act but are not mailed (bounced, complained,
    /// suppressed).
    pub(crate) unreachable: Vec<String>,
}
