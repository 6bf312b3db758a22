//! The statements of the system's jobs: the mails the sender hands to SES (their records,
//! suppressions, the recipient's mail state), what the sweeper deletes when it is no longer
//! kept, and the gauges it measures. (The outbox's own statements are the platform's.)

use std::time::Duration;

use gsign_platform::database::{DbError, Session};
use gsign_platform::params;
use uuid::Uuid;

/// How long the sweeper keeps what is no longer needed.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// `OUTBOX_RETENTION_DAYS` (7): published outbox rows are deleted after this.
    pub outbox_days: i32,
    /// `UNVERIFIED_ACCOUNT_TTL_DAYS` (7): registrations never verified and invitations never
    /// accepted are deleted after this.
    pub unverified_days: i32,
}

/// What one purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Purged {
    /// Published outbox rows past their retention.
    pub outbox_rows: u64,
    /// Expired `Idempotency-Key` records.
    pub idempotency_records: u64,
    /// Organizations whose only account registered and never verified its address.
    pub unverified_registrations: u64,
    /// Invitations never accepted.
    pub stale_invitations: u64,
    /// Records of mails handed to SES more than 90 days ago (their delivery events came).
    pub mail_records: u64,
}

/// What the operator's dashboard and alarms watch, measured once a minute by the sweeper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gauges {
    /// Outbox rows past the grace period, neither published nor parked: side effects that
    /// should have left and have not.
    pub outbox_rows_waiting: i64,
    /// Envelopes out for signature whose signing worker's last attempt failed (a signature
    /// accepted but not yet applied).
    pub signing_stalled: i64,
}

/// Deletes, in bounded batches, what no longer needs keeping: published outbox rows (their
/// raw links and payloads), expired idempotency records, registrations never verified,
/// invitations never accepted and records of mails sent 90 days ago.
#[tracing::instrument(skip_all)]
pub async fn purge(db: &(impl Session + ?Sized), retention: &Retention) -> Result<Purged, DbError> {
    let outbox_days = retention.outbox_days;
    let unverified_days = retention.unverified_days;
    let outbox_rows = db
        .run(
            "DELETE FROM outbox WHERE id IN (
               SELECT id FROM outbox
                WHERE published_at < now() - make_interval(days => :outbox_days::int)
                LIMIT 5000)",
            params!(outbox_days),
        )
        .await?;
    let idempotency_records = db
        .run(
            "DELETE FROM idempotency_records WHERE (scope, key) IN (
               SELECT scope, key FROM idempotency_records WHERE expires_at < now() LIMIT 5000)",
            params!(),
        )
        .await?;
    // An organization whose every account is an owner that never verified its address
    // nor signed in: a registration nobody confirmed. Deleting it removes its rows.
    let unverified_registrations = db
        .run(
            "DELETE FROM organizations o WHERE o.id IN (
               SELECT u.organization_id FROM users u
                GROUP BY u.organization_id
               HAVING bool_and(u.email_verified_at IS NULL AND u.last_login_at IS NULL
                               AND u.created_at < now()
                                   - make_interval(days => :unverified_days::int))
                LIMIT 1000)",
            params!(unverified_days),
        )
        .await?;
    let stale_invitations = db
        .run(
            "DELETE FROM users WHERE id IN (
               SELECT id FROM users WHERE status = 'invited'
                  AND created_at < now() - make_interval(days => :unverified_days::int)
                LIMIT 1000)",
            params!(unverified_days),
        )
        .await?;
    let mail_records = db
        .run(
            "DELETE FROM mail_messages WHERE id IN (
               SELECT id FROM mail_messages WHERE sent_at < now() - interval '90 days' LIMIT 5000)",
            params!(),
        )
        .await?;
    let purged = Purged {
        outbox_rows,
        idempotency_records,
        unverified_registrations,
        stale_invitations,
        mail_records,
    };
    Ok(purged)
}

/// Measures [`Gauges`].
#[tracing::instrument(skip_all)]
pub async fn gauges(db: &(impl Session + ?Sized), grace: Duration) -> Result<Gauges, DbError> {
    let row = db
        .fetch_one(
            "SELECT
               (SELECT count(*) FROM outbox WHERE published_at IS NULL AND parked_at IS NULL
                  AND created_at < now() - make_interval(secs => :grace)) AS waiting,
               (SELECT count(*) FROM envelopes WHERE status = 'sent'
                  AND processing_error IS NOT NULL) AS stalled",
            params!(grace = grace.as_secs_f64()),
        )
        .await?;
    let gauges = Gauges {
        outbox_rows_waiting: row.get("waiting")?,
        signing_stalled: row.get("stalled")?,
    };
    Ok(gauges)
}

/// Whether the outbox row `id` (a mail) was delivered already.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn mail_delivered(db: &(impl Session + ?Sized), id: Uuid) -> Result<bool, DbError> {
    Ok(db
        .fetch_optional(
            "SELECT delivered_at IS NOT NULL AS delivered FROM outbox WHERE id = :id",
            params!(id),
        )
        .await?
        .map(|row| row.get::<bool>("delivered"))
        .transpose()?
        .unwrap_or(false))
}

/// Why the organization does not mail `to`, if it does not.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn suppression_reason(
    db: &(impl Session + ?Sized),
    org: Uuid,
    to: &str,
) -> Result<Option<String>, DbError> {
    db.fetch_optional(
        "SELECT reason FROM mail_suppressions WHERE organization_id = :org \
         AND email = lower(:to)",
        params!(org, to),
    )
    .await?
    .map(|row| row.get("reason"))
    .transpose()
}

/// A mail about to go to SES (or held back).
pub struct NewMail<'a> {
    /// Its outbox row's id.
    pub id: Uuid,
    /// Its organization, if it still exists.
    pub organization: Option<Uuid>,
    /// The envelope it is about, if it still exists.
    pub envelope: Option<Uuid>,
    /// The recipient it goes to, if it still exists.
    pub recipient: Option<Uuid>,
    /// Its template.
    pub template: &'a str,
    /// Its address.
    pub to: &'a str,
    /// Held back: the organization suppressed the address.
    pub suppressed: bool,
    /// The hash of its one-click unsubscribe token.
    pub unsubscribe_token_hash: Option<&'a str>,
}

/// Records `mail` (a redelivered message keeps its row and takes the newest token).
#[tracing::instrument(skip_all, fields(id = %mail.id))]
pub async fn record_mail(db: &(impl Session + ?Sized), mail: &NewMail<'_>) -> Result<(), DbError> {
    db.run(
        "INSERT INTO mail_messages (id, organization_id, envelope_id, recipient_id, template, \
             to_address, status, unsubscribe_token_hash) \
         VALUES (:id, (SELECT id FROM organizations WHERE id = :org::uuid), \
                 (SELECT id FROM envelopes WHERE id = :envelope::uuid), \
                 (SELECT id FROM recipients WHERE id = :recipient::uuid), \
                 :template, :to, CASE WHEN :suppressed THEN 'suppressed' ELSE 'sending' END, \
                 :unsubscribe::text) \
         ON CONFLICT (id) DO UPDATE SET unsubscribe_token_hash = EXCLUDED.unsubscribe_token_hash",
        params!(
            id = mail.id,
            org = mail.organization,
            envelope = mail.envelope,
            recipient = mail.recipient,
            template = mail.template,
            to = mail.to,
            suppressed = mail.suppressed,
            unsubscribe = mail.unsubscribe_token_hash,
        ),
    )
    .await?;
    Ok(())
}

/// SES took the mail `id` as `ses_message_id`.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn mail_sent(
    db: &(impl Session + ?Sized),
    id: Uuid,
    ses_message_id: Option<&str>,
) -> Result<(), DbError> {
    db.run(
        "UPDATE mail_messages SET ses_message_id = :ses_message_id, sent_at = now(), \
             status = CASE WHEN status = 'sending' THEN 'sent' ELSE status END, \
             status_at = CASE WHEN status = 'sending' THEN now() ELSE status_at END \
         WHERE id = :id",
        params!(id, ses_message_id),
    )
    .await?;
    Ok(())
}

/// The outbox row `id` is done; its data (links with raw tokens) is not kept.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn outbox_delivered(db: &(impl Session + ?Sized), id: Uuid) -> Result<(), DbError> {
    db.run(
        "UPDATE outbox SET delivered_at = now(), payload = payload - 'data' WHERE id = :id",
        params!(id),
    )
    .await?;
    Ok(())
}

/// The recipient's newest mail went out (or was held back): their mail state starts over,
/// unless their address is no longer `to` (corrected meanwhile).
#[tracing::instrument(skip_all, fields(recipient = %recipient))]
pub async fn mark_recipient(
    db: &(impl Session + ?Sized),
    recipient: Uuid,
    to: &str,
    status: &str,
    diagnostic: Option<&str>,
) -> Result<(), DbError> {
    db.run(
        "UPDATE recipients SET mail_status = :status, mail_status_at = now(), \
         mail_diagnostic = :diagnostic::text \
         WHERE id = :recipient AND lower(email) = lower(:to)",
        params!(recipient, to, status, diagnostic),
    )
    .await?;
    Ok(())
}
