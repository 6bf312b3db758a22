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
use gsign_core::envelopes::{EnvelopeStatus, EvidenceEvent, RecipientStatus};
use gsign_core::mail::{is_plausible_address, MailEvent, MailEventKind, Suppressed};
use gsign_core::webhooks::EventType;
use gsign_core::FieldError;
use gsign_platform::database::{json_list, DbError, Row, Session, Transaction};
use gsign_platform::http::{self as web, Caller};
use gsign_platform::pagination::{Page, PageRequest};
use gsign_platform::{outbox, params};
use http::StatusCode;
use lambda_http::Request;
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{EnvelopesCase, EnvelopesError};
use crate::service::acting::acting_now;
use crate::service::EnvelopesApi;
use crate::store::Letterhead;
use crate::store::{self, Envelope, Recipient};

/// Mail states from weakest to strongest: an event only ever raises a mail's state.
const STATUS_RANK: &str = "ARRAY['sending','sent','suppressed','delayed','delivered','rejected',\
    'bounced','complained']::text[]";

/// How long a handed-out signing link waits to be opened when the envelope has no expiry.
const HANDED_OUT_LINK_DAYS: i64 = 7;

// ------------------------------------------------------------------ SES feedback

/// The mail an event is about, as GSign recorded sending it.
struct MailRecord {
    id: Uuid,
    organization_id: Option<Uuid>,
    envelope_id: Option<Uuid>,
    recipient_id: Option<Uuid>,
    sent_at: DateTime<Utc>,
}

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
        let Some(mail) = find_mail(&tx, event).await? else {
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
            let new = tx
                .fetch_optional(
                    "INSERT INTO mail_events (mail_id, ses_message_id, event_type, address, occurred_at, details) \
                     VALUES (:mail, :ses_message_id, :event_type, :address, :occurred_at, :details) \
                     ON CONFLICT ON CONSTRAINT mail_events_once DO NOTHING RETURNING id",
                    params!(
                        mail = mail.id,
                        ses_message_id = event.ses_message_id,
                        event_type = event.kind.as_str(),
                        address = outcome.address,
                        occurred_at = outcome.occurred_at,
                        details = serde_json::json!({
                            "diagnostic": outcome.diagnostic,
                            "bounce_type": match &event.kind {
                                MailEventKind::Bounce { kind, .. } => Some(kind.as_str()),
                                _ => None,
                            },
                        }),
                    ),
                )
                .await?
                .is_some();
            if !new {
                recorded.repeated += 1;
                continue;
            }
            recorded.new += 1;
            let Some(status) = event.kind.status() else {
                continue;
            };
            tx.run(
                &format!(
                    "UPDATE mail_messages SET status = :status, \
                     diagnostic = COALESCE(:diagnostic::text, diagnostic), status_at = now() \
                     WHERE id = :mail AND array_position({STATUS_RANK}, status) \
                         < array_position({STATUS_RANK}, :status::text)"
                ),
                params!(
                    mail = mail.id,
                    status = status.as_str(),
                    diagnostic = outcome.diagnostic,
                ),
            )
            .await?;
            // The recipient shows what became of their newest mail, at their current address.
            let recipient = match mail.recipient_id {
                Some(recipient) => tx
                    .fetch_optional(
                        &format!(
                            "UPDATE recipients r SET mail_status = :status, mail_status_at = now(), \
                             mail_diagnostic = :diagnostic::text \
                             WHERE r.id = :recipient AND lower(r.email) = :address \
                               AND array_position({STATUS_RANK}, COALESCE(r.mail_status, 'sent')) \
                                   < array_position({STATUS_RANK}, :status::text) \
                               AND NOT EXISTS (SELECT 1 FROM mail_messages m WHERE m.recipient_id = r.id \
                                   AND lower(m.to_address) = :address \
                                   AND m.sent_at > :sent_at::timestamptz) \
                             RETURNING r.id, r.name, r.email"
                        ),
                        params!(
                            recipient,
                            address = outcome.address,
                            status = status.as_str(),
                            diagnostic = outcome.diagnostic,
                            sent_at = mail.sent_at,
                        ),
                    )
                    .await?
                    .map(|row| -> Result<(Uuid, String, String), DbError> {
                        Ok((row.get("id")?, row.get("name")?, row.get("email")?))
                    })
                    .transpose()?,
                None => None,
            };
            let org = mail.organization_id;
            if let (Some(org), true) = (
                org,
                event.kind.failed_for_good() || event.kind == MailEventKind::Complaint,
            ) {
                let reason = if event.kind == MailEventKind::Complaint {
                    "complaint"
                } else {
                    "bounce"
                };
                tx.run(
                    "INSERT INTO mail_suppressions (organization_id, email, reason, detail) \
                     VALUES (:org, :address, :reason, :diagnostic) ON CONFLICT DO NOTHING",
                    params!(
                        org,
                        address = outcome.address,
                        reason,
                        diagnostic = outcome.diagnostic,
                    ),
                )
                .await?;
            }
            let (Some(envelope), Some((recipient_id, name, email))) = (&envelope, recipient) else {
                continue;
            };
            let system = |action: &str, details: serde_json::Value| EvidenceEvent {
                envelope_id: envelope.id,
                sequence: 0,
                action: action.to_owned(),
                actor_type: "system".to_owned(),
                actor_id: None,
                recipient_id: Some(recipient_id),
                ip: None,
                user_agent: None,
                details,
                occurred_at: Utc::now(),
            };
            if event.kind == MailEventKind::Complaint {
                store::record(
                    &tx,
                    envelope.organization_id,
                    system(
                        "recipient.mail_complained",
                        serde_json::json!({"email": email, "ses_message_id": event.ses_message_id}),
                    ),
                )
                .await?;
                continue;
            }
            if !event.kind.failed_for_good() || envelope.status != EnvelopeStatus::Sent {
                continue;
            }
            let diagnostic = outcome
                .diagnostic
                .clone()
                .unwrap_or_else(|| "the receiving server refused the mail".to_owned());
            store::record(
                &tx,
                envelope.organization_id,
                system(
                    "recipient.mail_bounced",
                    serde_json::json!({
                        "email": email,
                        "diagnostic": diagnostic,
                        "status": status.as_str(),
                        "ses_message_id": event.ses_message_id,
                    }),
                ),
            )
            .await?;
            publish.push(
                outbox::webhook(
                    &tx,
                    envelope.organization_id,
                    EventType::RecipientMailBounced,
                    serde_json::json!({
                        "envelope_id": envelope.id,
                        "recipient_id": recipient_id,
                        "email": email,
                        "mail_status": status.as_str(),
                        "diagnostic": diagnostic,
                    }),
                )
                .await?
                .0,
            );
            if let Some(to) = store::sender_email(&tx, envelope.id).await? {
                publish.push(
                    outbox::email(
                        &tx,
                        envelope.organization_id,
                        &outbox::Email {
                            template: "recipient_mail_bounced".to_owned(),
                            to,
                            data: serde_json::json!({
                                "recipient_name": name,
                                "recipient_email": email,
                                "envelope_name": envelope.name.clone().unwrap_or_else(|| "your envelope".to_owned()),
                                "diagnostic": diagnostic,
                                "link": format!("{}/envelopes/{}", self.settings.app_url, envelope.id),
                            }),
                            language: envelope.language.clone(),
                            envelope_id: Some(envelope.id),
                            recipient_id: None,
                            bulk: false,
                        },
                    )
                    .await?,
                );
            }
        }
        tx.commit().await?;
        drop(conn);
        self.base.relay.publish(&self.base.db, &publish).await;
        Ok(Some(recorded))
    }
}

/// The mail `event` is about: by the `gsign-outbox` tag GSign sets, else by SES's id.
#[tracing::instrument(skip_all)]
async fn find_mail(
    client: &(impl Session + ?Sized),
    event: &MailEvent,
) -> Result<Option<MailRecord>, DbError> {
    let by_tag = event
        .tag("gsign-outbox")
        .and_then(|tag| tag.parse::<Uuid>().ok());
    let row = match by_tag {
        Some(id) => {
            client
                .fetch_optional(
                    "SELECT id, organization_id, envelope_id, recipient_id, sent_at \
                     FROM mail_messages WHERE id = :id FOR UPDATE",
                    params!(id),
                )
                .await?
        }
        None => {
            client
                .fetch_optional(
                    "SELECT id, organization_id, envelope_id, recipient_id, sent_at \
                     FROM mail_messages WHERE ses_message_id = :ses_message_id FOR UPDATE",
                    params!(ses_message_id = event.ses_message_id),
                )
                .await?
        }
    };
    row.map(|row| {
        Ok(MailRecord {
            id: row.get("id")?,
            organization_id: row.get("organization_id")?,
            envelope_id: row.get("envelope_id")?,
            recipient_id: row.get("recipient_id")?,
            sent_at: row.get("sent_at")?,
        })
    })
    .transpose()
}

// ------------------------------------------------------------------ suppression list

/// An address on the organization's suppression list.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "MailSuppression")]
pub struct SuppressionView {
    /// The address, lower-cased.
    pub email: String,
    /// `bounce`, `complaint`, `unsubscribe` or `manual`.
    pub reason: String,
    /// The bounce's diagnostic, the complaint's feedback type, or the note given.
    pub detail: Option<String>,
    /// Who put it there (a person; `null` for SES's feedback and unsubscribes).
    pub created_by: Option<Uuid>,
    /// Since when.
    pub created_at: DateTime<Utc>,
    #[serde(skip)]
    id: Uuid,
}

impl TryFrom<&Row> for SuppressionView {
    type Error = DbError;
    fn try_from(row: &Row) -> Result<Self, DbError> {
        Ok(Self {
            id: row.get("id")?,
            email: row.get("email")?,
            reason: row.get("reason")?,
            detail: row.get("detail")?,
            created_by: row.get("created_by")?,
            created_at: row.get("created_at")?,
        })
    }
}

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

/// The organization's suppressed addresses among `emails`.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn suppressed_among(
    client: &(impl Session + ?Sized),
    org: Uuid,
    emails: &[String],
) -> Result<Vec<Suppressed>, DbError> {
    let lowered: Vec<String> = emails.iter().map(|e| e.to_lowercase()).collect();
    client
        .fetch_all(
            "SELECT email, reason, created_at FROM mail_suppressions \
             WHERE organization_id = :org \
             AND email IN (SELECT jsonb_array_elements_text(:emails::jsonb))",
            params!(org, emails = json_list(&lowered)),
        )
        .await?
        .iter()
        .map(|row| {
            Ok(Suppressed {
                email: row.get("email")?,
                reason: row.get("reason")?,
                since: row.get("created_at")?,
            })
        })
        .collect::<Result<_, DbError>>()
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
    let suppressed = suppressed_among(client, org, &emails).await?;
    let mailed: Vec<(&str, bool)> = recipients
        .iter()
        .map(|r| (r.email.as_str(), !r.embedded))
        .collect();
    Ok(gsign_core::mail::suppression_problems(&mailed, &suppressed))
}

impl EnvelopesApi {
    #[tracing::instrument(skip_all)]
    pub(crate) async fn list_suppressions(
        &self,
        caller: &Caller,
        req: &Request,
    ) -> Result<Page<SuppressionView>, EnvelopesError> {
        let mut errors = Vec::new();
        let page = PageRequest::read(req, 50, 200, &mut errors);
        if !errors.is_empty() {
            return Err(EnvelopesError::Validation(errors));
        }
        let email = web::query(req, "email").map(str::to_lowercase);
        let (after_t, after_id) = page.after.unzip();
        let client = self.base.db.connect().await?;
        let mut rows: Vec<SuppressionView> = client
            .fetch_all(
                "SELECT id, email, reason, detail, created_by, created_at FROM mail_suppressions \
                 WHERE organization_id = :org AND (:email::text IS NULL OR email = :email) \
                   AND (:after_t::timestamptz IS NULL \
                        OR (created_at, id) < (:after_t::timestamptz, :after_id::uuid)) \
                 ORDER BY created_at DESC, id DESC LIMIT :limit",
                params!(
                    org = caller.org,
                    email,
                    after_t,
                    after_id,
                    limit = page.fetch()
                ),
            )
            .await?
            .iter()
            .map(SuppressionView::try_from)
            .collect::<Result<_, _>>()?;
        let next_cursor = page.finish(&mut rows, |r| (r.created_at, r.id));
        Ok(Page {
            data: rows,
            next_cursor,
        })
    }

    #[tracing::instrument(skip_all)]
    pub(crate) async fn add_suppression(
        &self,
        caller: &Caller,
        input: AddSuppression,
    ) -> Result<(StatusCode, SuppressionView), EnvelopesError> {
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
        let added = tx
            .fetch_optional(
                "INSERT INTO mail_suppressions (organization_id, email, reason, detail, created_by) \
                 VALUES (:org, :email, 'manual', :detail, :user) ON CONFLICT DO NOTHING \
                 RETURNING id, email, reason, detail, created_by, created_at",
                params!(org = caller.org, email, detail = input.detail, user = caller.user),
            )
            .await?;
        let Some(row) = added else {
            // On the list already: unchanged, as it is.
            let row = tx
                .fetch_one(
                    "SELECT id, email, reason, detail, created_by, created_at FROM mail_suppressions \
                     WHERE organization_id = :org AND email = :email",
                    params!(org = caller.org, email),
                )
                .await?;
            return Ok((StatusCode::OK, SuppressionView::try_from(&row)?));
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
        Ok((StatusCode::CREATED, SuppressionView::try_from(&row)?))
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
        let removed = tx
            .fetch_optional(
                "DELETE FROM mail_suppressions WHERE organization_id = :org AND email = :email \
                 RETURNING reason",
                params!(org = caller.org, email),
            )
            .await?
            .ok_or(EnvelopesError::NotFound("suppressed address"))?;
        let audit = outbox::audit(
            &tx,
            &caller.audit(
                "mail.suppression_removed",
                "mail_suppression",
                &email,
                serde_json::json!({"reason": removed.get::<String>("reason")?}),
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
        let changed = client
            .run(
                "INSERT INTO mail_suppressions (organization_id, email, reason, detail) \
                 SELECT organization_id, lower(to_address), 'unsubscribe', 'one-click unsubscribe' \
                   FROM mail_messages WHERE unsubscribe_token_hash = :hash \
                   AND organization_id IS NOT NULL \
                 ON CONFLICT DO NOTHING",
                params!(hash),
            )
            .await?;
        if changed == 0 {
            let known = client
                .fetch_optional(
                    "SELECT 1 FROM mail_messages WHERE unsubscribe_token_hash = :hash",
                    params!(hash),
                )
                .await?
                .is_some();
            if !known {
                return Err(EnvelopesError::NotFound("unsubscribe link"));
            }
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
        let mut errors = Vec::new();
        if !is_plausible_address(&email) {
            errors.push(FieldError::new("/email", "must be a mail address"));
        }
        if name
            .as_ref()
            .is_some_and(|n| n.is_empty() || n.chars().count() > 255)
        {
            errors.push(FieldError::new("/name", "must be 1 to 255 characters"));
        }
        if !errors.is_empty() {
            return Err(EnvelopesError::Validation(errors));
        }
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let (envelope, recipients, before) =
            Self::waiting_recipient(&tx, caller, id, recipient).await?;
        if !before.embedded {
            let suppressed =
                suppressed_among(&tx, caller.org, std::slice::from_ref(&email)).await?;
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
        if recipients.iter().any(|r| {
            r.id != before.id && r.role == before.role && r.email.eq_ignore_ascii_case(&email)
        }) {
            return Err(EnvelopesError::invalid(
                "/email",
                "another recipient of this envelope has this address in the same role",
            ));
        }
        let name = name.unwrap_or_else(|| before.name.clone());
        // A new person: nothing the old address did carries over (its link, its consent, its
        // access-code session, its view).
        let row = tx
            .fetch_one(
                "UPDATE recipients SET email = :email, name = :name, signing_token_hash = NULL, \
                     status = CASE WHEN status = 'viewed' THEN 'sent' ELSE status END, \
                     viewed_at = NULL, consented_at = NULL, disclosure_version = NULL, \
                     access_verified_until = NULL, view_ticket_hash = NULL, \
                     view_ticket_expires_at = NULL, view_ticket_used_at = NULL, \
                     mail_status = NULL, mail_status_at = NULL, mail_diagnostic = NULL, \
                     reminders_sent = 0, last_reminded_at = NULL \
                 WHERE id = :id RETURNING id",
                params!(id = before.id, email, name),
            )
            .await?;
        let _: Uuid = row.get("id")?;
        store::record(
            &tx,
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
        let recipients = store::recipients(&tx, id).await?;
        let corrected = recipients
            .iter()
            .find(|r| r.id == before.id)
            .cloned()
            .ok_or(EnvelopesError::NotFound("recipient"))?;
        let mut publish = Vec::new();
        if acting_now(&envelope, &recipients)
            .iter()
            .any(|r| r.id == corrected.id)
        {
            let letterhead = Letterhead::of(&tx, &envelope).await?;
            publish.extend(
                self.ask(&tx, &envelope, &corrected, &letterhead, None)
                    .await?,
            );
            let mut notified = Self::event(
                caller,
                envelope.id,
                "recipient.notified",
                Some(corrected.id),
                serde_json::json!({"email": corrected.email, "routing_order": corrected.routing_order}),
            );
            notified.actor_type = "system".to_owned();
            notified.actor_id = None;
            store::record(&tx, caller.org, notified)
                .await?
                .announce_with(&mut publish);
        }
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
        tx.run(
            "UPDATE recipients SET view_ticket_hash = :hash, view_ticket_expires_at = :expires_at, \
                 view_ticket_used_at = NULL WHERE id = :id",
            params!(id = found.id, hash = ticket.hash, expires_at),
        )
        .await?;
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
