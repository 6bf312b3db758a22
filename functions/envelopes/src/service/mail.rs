//! Mail you can see (issue #25): what SES says became of GSign's mail, the addresses an
//! organization does not mail, and the ways around a signing request that never arrived.
//!
//! - `sqs-record-mail-event`: SES's event notifications (the configuration set publishes to an
//!   SNS topic the feedback queue subscribes to). Each is matched to its mail through the
//!   `gsign-outbox` message tag, recorded once, and acted on: a permanent bounce (or SES's
//!   reject) of a signing request marks the recipient, adds evidence, emits
//!   `recipient.mail_bounced` and mails the sender; a complaint suppresses the address for the
//!   organization; soft bounces and delays are shown and left to SES's retries.
//! - `GET|POST /v1/mail/suppressions`, `DELETE /v1/mail/suppressions/{email}`: the
//!   organization's suppression list (owners and admins).
//! - `POST /v1/mail/unsubscribe?token=…`: RFC 8058 one-click unsubscribe from a reminder.
//! - `POST /v1/envelopes/{id}/recipients/{recipient_id}/correct`: a new address for a
//!   recipient who has not acted (the old link stops working).
//! - `POST /v1/envelopes/{id}/recipients/{recipient_id}/signing-link`: a link to hand over
//!   another way, good once.

use chrono::{DateTime, Utc};
use gsign_core::envelopes::{EnvelopeStatus, RecipientStatus};
use gsign_core::mail::{
    is_plausible_address, AddressOutcome, MailEvent, MailEventKind, MailStatus,
};
use gsign_core::webhooks::EventType;
use gsign_core::FieldError;
use gsign_platform::database::{DbError, Session, Transaction};
use gsign_platform::http::Caller;
use gsign_platform::outbox;
use gsign_platform::pagination::{Page, PageRequest};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{EnvelopesCase, EnvelopesError};
use crate::service::acting::acting_now;
use crate::service::{system_event, EnvelopesApi};
use crate::store::mail as mail_store;
use crate::store::Letterhead;
use crate::store::{self, Envelope, Recipient};

/// How long a handed-out signing link waits to be opened when the envelope has no expiry.
const HANDED_OUT_LINK_DAYS: i64 = 7;

// ------------------------------------------------------------------ SES feedback

/// What an event changed, as the log line says.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Addresses whose event was new.
    pub new: usize,
    /// Addresses whose event was recorded already (a redelivery).
    pub repeated: usize,
}

impl EnvelopesApi {
    /// Records `event` and acts on it, in one transaction; `None` when no mail of GSign's
    /// matches it.
    #[tracing::instrument(skip_all)]
    pub async fn record_mail_event(&self, event: &MailEvent) -> anyhow::Result<Option<Recorded>> {
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let by_tag = event
            .tag("gsign-outbox")
            .and_then(|tag| tag.parse::<Uuid>().ok());
        let Some(mail) = mail_store::sent_mail(&tx, by_tag, &event.ses_message_id).await? else {
            return Ok(None);
        };
        // The envelope's row lock first, as every evidence write holds it.
        let envelope = match (mail.organization_id, mail.envelope_id) {
            (Some(org), Some(id)) => store::get(&tx, org, id, true).await?,
            _ => None,
        };
        let mut recorded = Recorded::default();
        let mut publish = Vec::new();
        for outcome in &event.outcomes {
            if !mail_store::record_event(&tx, &mail, event, outcome).await? {
                recorded.repeated += 1;
                continue;
            }
            recorded.new += 1;
            let Some(status) = event.kind.status() else {
                continue;
            };
            let consequences = self
                .act_on_outcome(&tx, &mail, envelope.as_ref(), event, outcome, status)
                .await?;
            publish.extend(consequences);
        }
        tx.commit().await?;
        drop(conn);
        self.base.relay.publish(&self.base.db, &publish).await;
        Ok(Some(recorded))
    }

    /// What a new outcome of `mail` that has a mail `status` changes, in `tx`: the mail's and
    /// the recipient's status, the organization's suppression list, and the envelope; the
    /// outbox rows to publish.
    #[tracing::instrument(skip_all)]
    async fn act_on_outcome(
        &self,
        tx: &Transaction<'_>,
        mail: &mail_store::SentMail,
        envelope: Option<&Envelope>,
        event: &MailEvent,
        outcome: &AddressOutcome,
        status: MailStatus,
    ) -> anyhow::Result<Vec<Uuid>> {
        mail_store::raise_mail_status(tx, mail.id, status, outcome.diagnostic.as_deref()).await?;
        // The recipient shows what became of their newest mail, at their current address.
        let recipient = match mail.recipient_id {
            Some(recipient) => {
                mail_store::raise_recipient_mail_status(
                    tx,
                    mail,
                    recipient,
                    &outcome.address,
                    status,
                    outcome.diagnostic.as_deref(),
                )
                .await?
            }
            None => None,
        };
        suppress_if_refused(tx, mail, event, outcome).await?;
        if let (Some(envelope), Some(recipient)) = (envelope, recipient) {
            return self
                .recipient_mail_failed(tx, envelope, &recipient, event, outcome, status)
                .await;
        }
        Ok(Vec::new())
    }

    /// What a complaint or a permanent failure of a signing request does to its envelope,
    /// recorded in `tx`: evidence, and for a bounce while the envelope is out, the
    /// `recipient.mail_bounced` webhook and a mail to the sender; the outbox rows to publish.
    #[tracing::instrument(skip_all, fields(envelope = %envelope.id))]
    async fn recipient_mail_failed(
        &self,
        tx: &Transaction<'_>,
        envelope: &Envelope,
        recipient: &mail_store::MailedRecipient,
        event: &MailEvent,
        outcome: &AddressOutcome,
        status: MailStatus,
    ) -> anyhow::Result<Vec<Uuid>> {
        let email = &recipient.email;
        if event.kind == MailEventKind::Complaint {
            let details =
                serde_json::json!({"email": email, "ses_message_id": event.ses_message_id});
            let complained = system_event(
                envelope,
                "recipient.mail_complained",
                Some(recipient.id),
                details,
            );
            store::record(tx, envelope.organization_id, complained).await?;
            return Ok(Vec::new());
        }
        if !event.kind.failed_for_good() || envelope.status != EnvelopeStatus::Sent {
            return Ok(Vec::new());
        }
        let diagnostic = outcome
            .diagnostic
            .clone()
            .unwrap_or_else(|| "the receiving server refused the mail".to_owned());
        let details = serde_json::json!({
            "email": email,
            "diagnostic": diagnostic,
            "status": status.as_str(),
            "ses_message_id": event.ses_message_id,
        });
        let bounced = system_event(
            envelope,
            "recipient.mail_bounced",
            Some(recipient.id),
            details,
        );
        store::record(tx, envelope.organization_id, bounced).await?;
        let mut publish =
            vec![bounced_webhook(tx, envelope, recipient, status, &diagnostic).await?];
        if let Some(to) = store::sender_email(tx, envelope.id).await? {
            let letter = self.bounced_letter(envelope, recipient, to, &diagnostic);
            publish.push(outbox::email(tx, envelope.organization_id, &letter).await?);
        }
        Ok(publish)
    }

    /// The email telling the sender (`to`) the recipient's signing request bounced.
    fn bounced_letter(
        &self,
        envelope: &Envelope,
        recipient: &mail_store::MailedRecipient,
        to: String,
        diagnostic: &str,
    ) -> outbox::Email {
        outbox::Email {
            template: "recipient_mail_bounced".to_owned(),
            to,
            data: serde_json::json!({
                "recipient_name": recipient.name,
                "recipient_email": recipient.email,
                "envelope_name": envelope.name.clone().unwrap_or_else(|| "your envelope".to_owned()),
                "diagnostic": diagnostic,
                "link": format!("{}/envelopes/{}", self.settings.app_url, envelope.id),
            }),
            language: envelope.language.clone(),
            envelope_id: Some(envelope.id),
            recipient_id: None,
            bulk: false,
        }
    }
}

/// After a complaint or a permanent failure, the address joins the mail's organization's
/// suppression list (when the mail has an organization).
#[tracing::instrument(skip_all)]
async fn suppress_if_refused(
    tx: &Transaction<'_>,
    mail: &mail_store::SentMail,
    event: &MailEvent,
    outcome: &AddressOutcome,
) -> Result<(), DbError> {
    if let (Some(org), true) = (
        mail.organization_id,
        event.kind.failed_for_good() || event.kind == MailEventKind::Complaint,
    ) {
        let reason = if event.kind == MailEventKind::Complaint {
            "complaint"
        } else {
            "bounce"
        };
        mail_store::suppress(
            tx,
            org,
            &outcome.address,
            reason,
            outcome.diagnostic.as_deref(),
        )
        .await?;
    }
    Ok(())
}

/// The `recipient.mail_bounced` webhook's outbox row.
#[tracing::instrument(skip_all)]
async fn bounced_webhook(
    tx: &Transaction<'_>,
    envelope: &Envelope,
    recipient: &mail_store::MailedRecipient,
    status: MailStatus,
    diagnostic: &str,
) -> anyhow::Result<Uuid> {
    let (hook, _) = outbox::webhook(
        tx,
        envelope.organization_id,
        EventType::RecipientMailBounced,
        serde_json::json!({
            "envelope_id": envelope.id,
            "recipient_id": recipient.id,
            "email": recipient.email,
            "mail_status": status.as_str(),
            "diagnostic": diagnostic,
        }),
    )
    .await?;
    Ok(hook)
}

// ------------------------------------------------------------------ suppression list

pub use crate::store::mail::SuppressionView;

/// `POST /v1/mail/suppressions` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AddMailSuppressionInput")]
pub struct AddSuppression {
    /// The address not to mail.
    pub email: String,
    /// Why (kept with it): at most 500 characters.
    #[serde(default)]
    pub detail: Option<String>,
}

/// The recipients GSign would mail whose address the organization suppressed, one problem
/// each (send refuses them; the draft's checklist shows them).
#[tracing::instrument(skip_all, fields(org = %org))]
pub(crate) async fn recipient_suppression_problems(
    client: &(impl Session + ?Sized),
    org: Uuid,
    recipients: &[Recipient],
) -> Result<Vec<FieldError>, DbError> {
    let emails: Vec<String> = recipients.iter().map(|r| r.email.clone()).collect();
    let suppressed = mail_store::suppressed_among(client, org, &emails).await?;
    let mailed: Vec<(&str, bool)> = recipients
        .iter()
        .map(|r| (r.email.as_str(), !r.embedded))
        .collect();
    Ok(gsign_core::mail::suppression_problems(&mailed, &suppressed))
}

/// What adding to a list did.
#[derive(Debug)]
pub enum Added<T> {
    /// Added: the new entry.
    New(T),
    /// On the list already: the entry as it was.
    Already(T),
}

impl EnvelopesApi {
    /// `GET /v1/mail/suppressions`: the organization's suppressed addresses, newest first; `email`
    /// finds one address.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn list_suppressions(
        &self,
        caller: &Caller,
        page: PageRequest,
        email: Option<&str>,
    ) -> Result<Page<SuppressionView>, EnvelopesError> {
        let email = email.map(str::to_lowercase);
        let client = self.base.db.connect().await?;
        let mut rows = mail_store::suppressions(
            &client,
            caller.org,
            email.as_deref(),
            page.after,
            page.fetch(),
        )
        .await?;
        let next_cursor = page.finish(&mut rows, |r| (r.created_at, r.id));
        Ok(Page {
            data: rows,
            next_cursor,
        })
    }

    /// `POST /v1/mail/suppressions`: suppresses an address by hand; `Added::Already` when it
    /// was on the list (left as it is).
    #[tracing::instrument(skip_all)]
    pub(crate) async fn add_suppression(
        &self,
        caller: &Caller,
        input: AddSuppression,
    ) -> Result<Added<SuppressionView>, EnvelopesError> {
        let email = input.email.trim().to_lowercase();
        let mut errors = Vec::new();
        if !is_plausible_address(&email) {
            errors.push(FieldError::new("/email", "must be a mail address"));
        }
        if input
            .detail
            .as_ref()
            .is_some_and(|d| d.chars().count() > 500)
        {
            errors.push(FieldError::new("/detail", "at most 500 characters"));
        }
        if !errors.is_empty() {
            return Err(EnvelopesError::Validation(errors));
        }
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let added = mail_store::suppress_by_hand(
            &tx,
            caller.org,
            &email,
            input.detail.as_deref(),
            caller.user,
        )
        .await?;
        let Some(view) = added else {
            // On the list already: unchanged, as it is.
            let view = mail_store::suppression(&tx, caller.org, &email).await?;
            return Ok(Added::Already(view));
        };
        let audit = outbox::audit(
            &tx,
            &caller.audit(
                "mail.suppression_added",
                "mail_suppression",
                &email,
                serde_json::json!({"reason": "manual"}),
            ),
        )
        .await?;
        tx.commit().await?;
        drop(conn);
        self.base.relay.publish(&self.base.db, &[audit]).await;
        Ok(Added::New(view))
    }

    #[tracing::instrument(skip_all)]
    pub(crate) async fn remove_suppression(
        &self,
        caller: &Caller,
        email: &str,
    ) -> Result<(), EnvelopesError> {
        let email = email.trim().to_lowercase();
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let reason = mail_store::unsuppress(&tx, caller.org, &email)
            .await?
            .ok_or(EnvelopesError::NotFound("suppressed address"))?;
        let audit = outbox::audit(
            &tx,
            &caller.audit(
                "mail.suppression_removed",
                "mail_suppression",
                &email,
                serde_json::json!({"reason": reason}),
            ),
        )
        .await?;
        tx.commit().await?;
        drop(conn);
        self.base.relay.publish(&self.base.db, &[audit]).await;
        Ok(())
    }

    /// RFC 8058 one-click unsubscribe: the mail's address joins its organization's list.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn unsubscribe(&self, token: Option<&str>) -> Result<(), EnvelopesError> {
        let token = token
            .filter(|t| (32..=128).contains(&t.len()))
            .ok_or(EnvelopesError::NotFound("unsubscribe link"))?;
        let hash = gsign_platform::credentials::sha256_hex(token);
        let client = self.base.db.connect().await?;
        let changed = mail_store::unsubscribe(&client, &hash).await?;
        if changed == 0 && !mail_store::unsubscribe_token_known(&client, &hash).await? {
            return Err(EnvelopesError::NotFound("unsubscribe link"));
        }
        Ok(())
    }
}

// ------------------------------------------------------------------ ways around a lost mail

/// `POST …/recipients/{recipient_id}/correct` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RecipientCorrection")]
pub struct Correction {
    /// The right address.
    pub email: String,
    /// A new name, if that was wrong too: 1 to 255 characters.
    #[serde(default)]
    pub name: Option<String>,
}

/// `POST …/recipients/{recipient_id}/signing-link` answer.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "HandedOutSigningLink")]
pub struct HandedOutLink {
    /// Hand it to the recipient: it opens their signing page once.
    pub url: String,
    /// When it stops working if never opened.
    pub expires_at: DateTime<Utc>,
}

impl EnvelopesApi {
    /// A sent envelope of the caller's, locked, and one of its recipients who has not acted.
    #[tracing::instrument(skip_all, fields(id = %id, recipient = %recipient))]
    async fn waiting_recipient(
        tx: &Transaction<'_>,
        caller: &Caller,
        id: Uuid,
        recipient: Uuid,
    ) -> Result<(Envelope, Vec<Recipient>, Recipient), EnvelopesError> {
        let envelope = store::get(tx, caller.org, id, true)
            .await?
            .ok_or(EnvelopesError::NotFound("envelope"))?;
        let recipients = store::recipients(tx, id).await?;
        let found = recipients
            .iter()
            .find(|r| r.id == recipient)
            .cloned()
            .ok_or(EnvelopesError::NotFound("recipient"))?;
        if envelope.status != EnvelopeStatus::Sent {
            return Err(EnvelopesCase::NotSent(envelope.status).into());
        }
        if !matches!(
            found.status,
            RecipientStatus::Pending | RecipientStatus::Sent | RecipientStatus::Viewed
        ) {
            return Err(EnvelopesCase::RecipientActed(found.status).into());
        }
        Ok((envelope, recipients, found))
    }

    /// Corrects the address (and name) of a recipient who has not acted: their old link
    /// stops working, a recipient whose turn it is gets a fresh signing request at the new
    /// address, and the evidence records who changed what.
    #[tracing::instrument(skip_all, fields(id = %id, recipient = %recipient))]
    pub(crate) async fn correct_recipient(
        &self,
        caller: &Caller,
        id: Uuid,
        recipient: Uuid,
        input: Correction,
    ) -> Result<Recipient, EnvelopesError> {
        let email = input.email.trim().to_owned();
        let name = input.name.as_deref().map(str::trim).map(str::to_owned);
        check_correction(&email, name.as_deref())?;
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let (envelope, recipients, before) =
            Self::waiting_recipient(&tx, caller, id, recipient).await?;
        check_new_address(&tx, caller, &recipients, &before, &email).await?;
        let name = name.unwrap_or_else(|| before.name.clone());
        // A new person: nothing the old address did carries over (its link, its consent, its
        // access-code session, its view).
        store::correct_recipient(&tx, before.id, &email, &name).await?;
        Self::record_correction(&tx, caller, &envelope, &before, &email, &name).await?;
        let recipients = store::recipients(&tx, id).await?;
        let corrected = recipients
            .iter()
            .find(|r| r.id == before.id)
            .cloned()
            .ok_or(EnvelopesError::NotFound("recipient"))?;
        let acting = acting_now(&envelope, &recipients);
        let publish = if acting.iter().any(|r| r.id == corrected.id) {
            let letterhead = Letterhead::of(&tx, &envelope).await?;
            let asked = [&corrected];
            self.ask_all(&tx, caller, &envelope, &asked, &letterhead)
                .await?
        } else {
            Vec::new()
        };
        tx.commit().await?;
        drop(conn);
        self.base.relay.publish(&self.base.db, &publish).await;
        let client = self.base.db.connect().await?;
        Ok(store::recipients(&client, id)
            .await?
            .into_iter()
            .find(|r| r.id == corrected.id)
            .unwrap_or(corrected))
    }

    /// The `recipient.email_corrected` evidence: who changed what.
    #[tracing::instrument(skip_all)]
    async fn record_correction(
        tx: &Transaction<'_>,
        caller: &Caller,
        envelope: &Envelope,
        before: &Recipient,
        email: &str,
        name: &str,
    ) -> Result<(), EnvelopesError> {
        store::record(
            tx,
            caller.org,
            Self::event(
                caller,
                envelope.id,
                "recipient.email_corrected",
                Some(before.id),
                serde_json::json!({
                    "from": {"email": before.email, "name": before.name},
                    "to": {"email": email, "name": name},
                    "previous_mail_status": before.mail_status,
                }),
            ),
        )
        .await?;
        Ok(())
    }

    /// A signing link for a recipient whose turn it is, to hand over another way than mail:
    /// good once (opening it trades it for the page's own token, and the mailed link stops
    /// working), until the envelope expires (or seven days).
    #[tracing::instrument(skip_all, fields(id = %id, recipient = %recipient))]
    pub(crate) async fn hand_out_signing_link(
        &self,
        caller: &Caller,
        id: Uuid,
        recipient: Uuid,
    ) -> Result<HandedOutLink, EnvelopesError> {
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let (envelope, recipients, found) =
            Self::waiting_recipient(&tx, caller, id, recipient).await?;
        if found.embedded {
            return Err(EnvelopesCase::Embedded.into());
        }
        if !acting_now(&envelope, &recipients)
            .iter()
            .any(|r| r.id == found.id)
        {
            return Err(EnvelopesCase::NotTheirTurn.into());
        }
        let ticket = gsign_platform::credentials::new_token();
        let week = Utc::now() + chrono::Duration::days(HANDED_OUT_LINK_DAYS);
        let expires_at = envelope.expires_at.map_or(week, |at| at.min(week));
        store::set_view_ticket_once(&tx, found.id, &ticket.hash, expires_at).await?;
        store::record(
            &tx,
            caller.org,
            Self::event(
                caller,
                envelope.id,
                "recipient.signing_link_handed_out",
                Some(found.id),
                serde_json::json!({"expires_at": expires_at, "mail_status": found.mail_status}),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(HandedOutLink {
            url: format!(
                "{}/sign?ticket={}",
                self.settings.app_url,
                ticket.secret.expose_secret()
            ),
            expires_at,
        })
    }
}

/// Refuses a correction's malformed address or name (every problem at once).
fn check_correction(email: &str, name: Option<&str>) -> Result<(), EnvelopesError> {
    let mut errors = Vec::new();
    if !is_plausible_address(email) {
        errors.push(FieldError::new("/email", "must be a mail address"));
    }
    if name.is_some_and(|n| n.is_empty() || n.chars().count() > 255) {
        errors.push(FieldError::new("/name", "must be 1 to 255 characters"));
    }
    if !errors.is_empty() {
        return Err(EnvelopesError::Validation(errors));
    }
    Ok(())
}

/// Refuses a corrected address the organization suppressed (unless GSign does not mail the
/// recipient: embedded), or that another recipient in the same role has.
#[tracing::instrument(skip_all)]
async fn check_new_address(
    tx: &Transaction<'_>,
    caller: &Caller,
    recipients: &[Recipient],
    before: &Recipient,
    email: &str,
) -> Result<(), EnvelopesError> {
    if !before.embedded {
        let suppressed = mail_store::suppressed_among(tx, caller.org, &[email.to_owned()]).await?;
        if let Some(hit) = suppressed.first() {
            return Err(EnvelopesError::invalid(
                "/email",
                format!(
                    "{} is on the organization's suppression list ({} since {}): GSign \
                     does not mail it",
                    hit.email,
                    hit.reason,
                    hit.since.format("%Y-%m-%d")
                ),
            ));
        }
    }
    if recipients
        .iter()
        .any(|r| r.id != before.id && r.role == before.role && r.email.eq_ignore_ascii_case(email))
    {
        return Err(EnvelopesError::invalid(
            "/email",
            "another recipient of this envelope has this address in the same role",
        ));
    }
    Ok(())
}
