//! The mail tables: the mails GSign sent, SES's events about them, what they did to a
//! recipient's mail status, and the organization's suppression list.

use chrono::{DateTime, Utc};
use gsign_core::mail::Suppressed;
use gsign_core::mail::{AddressOutcome, MailEvent, MailEventKind, MailStatus};
use gsign_platform::database::{json_list, Row};
use gsign_platform::database::{DbError, Session};
use gsign_platform::params;
use serde::Serialize;
use uuid::Uuid;

/// Mail states from weakest to strongest: an event only ever raises a mail's state.
const STATUS_RANK: &str = "ARRAY['sending','sent','suppressed','delayed','delivered','rejected',\
    'bounced','complained']::text[]";

/// The mail an event is about, as GSign recorded sending it.
pub struct SentMail {
    /// Its row.
    pub id: Uuid,
    /// Its organization (none for account mail sent before one existed).
    pub organization_id: Option<Uuid>,
    /// The envelope it was about, if any.
    pub envelope_id: Option<Uuid>,
    /// The recipient it went to, if any.
    pub recipient_id: Option<Uuid>,
    /// When SES took it.
    pub sent_at: DateTime<Utc>,
}

/// The sent mail `tagged` (the `gsign-outbox` tag GSign sets) or, untagged, with SES's id,
/// locked for the event's transaction.
#[tracing::instrument(skip_all)]
pub async fn sent_mail(
    db: &(impl Session + ?Sized),
    tagged: Option<Uuid>,
    ses_message_id: &str,
) -> Result<Option<SentMail>, DbError> {
    let row = match tagged {
        Some(id) => {
            db.fetch_optional(
                "SELECT id, organization_id, envelope_id, recipient_id, sent_at \
                 FROM mail_messages WHERE id = :id FOR UPDATE",
                params!(id),
            )
            .await?
        }
        None => {
            db.fetch_optional(
                "SELECT id, organization_id, envelope_id, recipient_id, sent_at \
                 FROM mail_messages WHERE ses_message_id = :ses_message_id FOR UPDATE",
                params!(ses_message_id),
            )
            .await?
        }
    };
    row.map(|row| {
        Ok(SentMail {
            id: row.get("id")?,
            organization_id: row.get("organization_id")?,
            envelope_id: row.get("envelope_id")?,
            recipient_id: row.get("recipient_id")?,
            sent_at: row.get("sent_at")?,
        })
    })
    .transpose()
}

/// Records `event`'s `outcome` for `mail` once; whether it was new (not a redelivery).
#[tracing::instrument(skip_all, fields(mail = %mail.id))]
pub async fn record_event(
    db: &(impl Session + ?Sized),
    mail: &SentMail,
    event: &MailEvent,
    outcome: &AddressOutcome,
) -> Result<bool, DbError> {
    Ok(db
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
        .is_some())
}

/// Raises the mail's status to `status` (never lowers it).
#[tracing::instrument(skip_all, fields(mail = %mail))]
pub async fn raise_mail_status(
    db: &(impl Session + ?Sized),
    mail: Uuid,
    status: MailStatus,
    diagnostic: Option<&str>,
) -> Result<(), DbError> {
    db.run(
        &format!(
            "UPDATE mail_messages SET status = :status, \
             diagnostic = COALESCE(:diagnostic::text, diagnostic), status_at = now() \
             WHERE id = :mail AND array_position({STATUS_RANK}, status) \
                 < array_position({STATUS_RANK}, :status::text)"
        ),
        params!(mail, status = status.as_str(), diagnostic),
    )
    .await?;
    Ok(())
}

/// The recipient whose mail status an event changed.
pub struct MailedRecipient {
    /// The recipient.
    pub id: Uuid,
    /// Their name.
    pub name: String,
    /// Their (current) address.
    pub email: String,
}

/// Raises the recipient's mail status to `status` when `mail` is their newest mail to their
/// current `address` (never lowers it); the recipient when it changed.
#[tracing::instrument(skip_all, fields(recipient = %recipient))]
pub async fn raise_recipient_mail_status(
    db: &(impl Session + ?Sized),
    mail: &SentMail,
    recipient: Uuid,
    address: &str,
    status: MailStatus,
    diagnostic: Option<&str>,
) -> Result<Option<MailedRecipient>, DbError> {
    db.fetch_optional(
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
            address,
            status = status.as_str(),
            diagnostic,
            sent_at = mail.sent_at,
        ),
    )
    .await?
    .map(|row| {
        Ok(MailedRecipient {
            id: row.get("id")?,
            name: row.get("name")?,
            email: row.get("email")?,
        })
    })
    .transpose()
}

/// Puts `address` on the organization's suppression list (`reason`: `bounce`, `complaint`,
/// `unsubscribe` or `manual`), unless it is there already.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn suppress(
    db: &(impl Session + ?Sized),
    org: Uuid,
    address: &str,
    reason: &str,
    detail: Option<&str>,
) -> Result<(), DbError> {
    db.run(
        "INSERT INTO mail_suppressions (organization_id, email, reason, detail) \
         VALUES (:org, :address, :reason, :detail) ON CONFLICT DO NOTHING",
        params!(org, address, reason, detail),
    )
    .await?;
    Ok(())
}

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
    pub(crate) id: Uuid,
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

/// A page of the organization's suppression list, newest first (`email`: that address only).
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn suppressions(
    db: &(impl Session + ?Sized),
    org: Uuid,
    email: Option<&str>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<SuppressionView>, DbError> {
    let (after_t, after_id) = after.unzip();
    db.fetch_all(
        "SELECT id, email, reason, detail, created_by, created_at FROM mail_suppressions \
         WHERE organization_id = :org AND (:email::text IS NULL OR email = :email) \
           AND (:after_t::timestamptz IS NULL \
                OR (created_at, id) < (:after_t::timestamptz, :after_id::uuid)) \
         ORDER BY created_at DESC, id DESC LIMIT :limit",
        params!(org, email, after_t, after_id, limit),
    )
    .await?
    .iter()
    .map(SuppressionView::try_from)
    .collect()
}

/// Adds `email` to the organization's list by hand (`user` did), unless it is there; the
/// new entry.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn suppress_by_hand(
    db: &(impl Session + ?Sized),
    org: Uuid,
    email: &str,
    detail: Option<&str>,
    user: Option<Uuid>,
) -> Result<Option<SuppressionView>, DbError> {
    db.fetch_optional(
        "INSERT INTO mail_suppressions (organization_id, email, reason, detail, created_by) \
         VALUES (:org, :email, 'manual', :detail, :user) ON CONFLICT DO NOTHING \
         RETURNING id, email, reason, detail, created_by, created_at",
        params!(org, email, detail, user),
    )
    .await?
    .as_ref()
    .map(SuppressionView::try_from)
    .transpose()
}

/// The organization's entry for `email`.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn suppression(
    db: &(impl Session + ?Sized),
    org: Uuid,
    email: &str,
) -> Result<SuppressionView, DbError> {
    let row = db
        .fetch_one(
            "SELECT id, email, reason, detail, created_by, created_at FROM mail_suppressions \
             WHERE organization_id = :org AND email = :email",
            params!(org, email),
        )
        .await?;
    SuppressionView::try_from(&row)
}

/// Takes `email` off the organization's list; the reason it was on it, if it was.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn unsuppress(
    db: &(impl Session + ?Sized),
    org: Uuid,
    email: &str,
) -> Result<Option<String>, DbError> {
    db.fetch_optional(
        "DELETE FROM mail_suppressions WHERE organization_id = :org AND email = :email \
         RETURNING reason",
        params!(org, email),
    )
    .await?
    .map(|row| row.get("reason"))
    .transpose()
}

/// Suppresses the address of the mail whose unsubscribe token hashes to `hash` in its
/// organization; how many entries were added.
#[tracing::instrument(skip_all)]
pub async fn unsubscribe(db: &(impl Session + ?Sized), hash: &str) -> Result<u64, DbError> {
    db.run(
        "INSERT INTO mail_suppressions (organization_id, email, reason, detail) \
         SELECT organization_id, lower(to_address), 'unsubscribe', 'one-click unsubscribe' \
           FROM mail_messages WHERE unsubscribe_token_hash = :hash \
           AND organization_id IS NOT NULL \
         ON CONFLICT DO NOTHING",
        params!(hash),
    )
    .await
}

/// Whether a mail has the unsubscribe token hashing to `hash`.
#[tracing::instrument(skip_all)]
pub async fn unsubscribe_token_known(
    db: &(impl Session + ?Sized),
    hash: &str,
) -> Result<bool, DbError> {
    Ok(db
        .fetch_optional(
            "SELECT 1 FROM mail_messages WHERE unsubscribe_token_hash = :hash",
            params!(hash),
        )
        .await?
        .is_some())
}
