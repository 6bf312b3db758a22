//! The `envelopes`, `recipients`, `signature_fields` and `envelope_events` tables.

pub mod mail;

use chrono::{DateTime, Utc};
use gsign_core::envelopes::{
    AuthMethod, ChainedEvent, EnvelopeStatus, EvidenceEvent, FieldFacts, FieldType, NewRecipient,
    RecipientFacts, RecipientRole, RecipientStatus, RoutingType, GENESIS_HASH,
};
use gsign_platform::database::{read_json_in_slices, DbError, Row, Session, INLINE_VALUE_BYTES};
use gsign_platform::{outbox, params};
use serde::Serialize;
use uuid::Uuid;

type PgResult<T> = Result<T, DbError>;

/// An envelope row.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Envelope {
    /// Id.
    pub id: Uuid,
    #[serde(skip)]
    pub organization_id: Uuid,
    /// The sending person, if a person sent it.
    #[serde(skip)]
    pub user_id: Option<Uuid>,
    /// The document it was made for.
    pub document_id: Uuid,
    /// Its name.
    pub name: Option<String>,
    /// The signing request's subject.
    pub subject: Option<String>,
    /// The message to the recipients.
    pub message: Option<String>,
    /// Where it stands in its lifecycle.
    pub status: EnvelopeStatus,
    /// How its recipients take their turns.
    pub routing_type: RoutingType,
    /// The routing order acting now (sequential routing, once sent).
    pub current_routing_order: Option<i32>,
    /// When it expires unless completed.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether recipients who have not acted are reminded.
    pub reminder_enabled: bool,
    /// Days between reminders.
    pub reminder_interval_days: i32,
    /// Reminders per recipient at most.
    pub reminder_max: i32,
    /// `b_t` (with a trusted timestamp) or `b_b`.
    pub signature_level: String,
    /// When it was sent.
    pub sent_at: Option<DateTime<Utc>>,
    /// When the last recipient finished and it was sealed.
    pub completed_at: Option<DateTime<Utc>>,
    /// When the sender voided it.
    pub voided_at: Option<DateTime<Utc>>,
    /// The sender's reason for voiding it.
    pub void_reason: Option<String>,
    /// When a recipient declined it.
    pub declined_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The current revision in S3 (sent envelopes).
    #[serde(skip)]
    pub current_s3_key: Option<String>,
    #[serde(skip)]
    pub current_s3_version_id: Option<String>,
    /// SHA-256 of the current revision.
    pub current_sha256: Option<String>,
    /// How many signatures the PDF holds (revisions after the prepared one).
    pub revision_count: i32,
    /// SHA-256 of the final, sealed document (completed envelopes).
    pub final_sha256: Option<String>,
    /// SHA-256 of the certificate of completion.
    pub certificate_sha256: Option<String>,
    #[serde(skip)]
    pub final_s3_key: Option<String>,
    #[serde(skip)]
    pub final_s3_version_id: Option<String>,
    #[serde(skip)]
    pub certificate_s3_key: Option<String>,
    #[serde(skip)]
    pub certificate_s3_version_id: Option<String>,
    /// The signing worker's newest failure, while it retries (cleared by progress).
    pub processing_error: Option<String>,
    /// When that failure happened.
    pub processing_failed_at: Option<DateTime<Utc>>,
    /// The signing pages' language (`en`, `mn`), when the sender chose one.
    pub language: Option<String>,
}

const ENVELOPE_COLUMNS: &str =
    "id, organization_id, user_id, document_id, name, subject, message, status, \
    routing_type, current_routing_order, expires_at, reminder_enabled, reminder_interval_days, \
    reminder_max, signature_level, sent_at, completed_at, voided_at, void_reason, declined_at, \
    created_at, updated_at, current_s3_key, current_s3_version_id, current_sha256, \
    revision_count, final_sha256, certificate_sha256, final_s3_key, final_s3_version_id, \
    certificate_s3_key, certificate_s3_version_id, processing_error, processing_failed_at, \
    language";

impl TryFrom<&Row> for Envelope {
    type Error = DbError;

    fn try_from(row: &Row) -> PgResult<Self> {
        Ok(Self {
            id: row.get("id")?,
            organization_id: row.get("organization_id")?,
            user_id: row.get("user_id")?,
            document_id: row.get("document_id")?,
            name: row.get("name")?,
            subject: row.get("subject")?,
            message: row.get("message")?,
            status: row.stored("status")?,
            routing_type: row.stored("routing_type")?,
            current_routing_order: row.get("current_routing_order")?,
            expires_at: row.get("expires_at")?,
            reminder_enabled: row.get("reminder_enabled")?,
            reminder_interval_days: row.get("reminder_interval_days")?,
            reminder_max: row.get("reminder_max")?,
            signature_level: row.get("signature_level")?,
            sent_at: row.get("sent_at")?,
            completed_at: row.get("completed_at")?,
            voided_at: row.get("voided_at")?,
            void_reason: row.get("void_reason")?,
            declined_at: row.get("declined_at")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
            current_s3_key: row.get("current_s3_key")?,
            current_s3_version_id: row.get("current_s3_version_id")?,
            current_sha256: row.get("current_sha256")?,
            revision_count: row.get("revision_count")?,
            final_sha256: row.get("final_sha256")?,
            certificate_sha256: row.get("certificate_sha256")?,
            final_s3_key: row.get("final_s3_key")?,
            final_s3_version_id: row.get("final_s3_version_id")?,
            certificate_s3_key: row.get("certificate_s3_key")?,
            certificate_s3_version_id: row.get("certificate_s3_version_id")?,
            processing_error: row.get("processing_error")?,
            processing_failed_at: row.get("processing_failed_at")?,
            language: row.get("language")?,
        })
    }
}

/// The editable part of a draft.
#[derive(Debug, Clone, Default)]
pub struct DraftValues {
    pub name: Option<String>,
    pub subject: Option<String>,
    pub message: Option<String>,
    pub routing_type: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub reminder_enabled: Option<bool>,
    pub reminder_interval_days: Option<i32>,
    pub reminder_max: Option<i32>,
    pub signature_level: Option<String>,
    pub language: Option<String>,
    /// On update: remove the message (`message` is then `None`).
    pub clear_message: bool,
    /// On update: back to each recipient's browser's language (`language` is then `None`).
    pub clear_language: bool,
}

impl DraftValues {
    /// The values as the statement parameters `insert` and `update` name (`:name`, …).
    fn params(&self) -> Vec<(&'static str, gsign_platform::database::Value)> {
        params!(
            name = self.name,
            subject = self.subject,
            message = self.message,
            routing_type = self.routing_type,
            expires_at = self.expires_at,
            reminder_enabled = self.reminder_enabled,
            reminder_interval_days = self.reminder_interval_days,
            reminder_max = self.reminder_max,
            signature_level = self.signature_level,
            language = self.language,
        )
        .to_vec()
    }
}

/// Whether `document` is a live document of `org`.
#[tracing::instrument(skip_all, fields(org = %org, document = %document))]
pub async fn document_exists(
    client: &(impl Session + ?Sized),
    org: Uuid,
    document: Uuid,
) -> PgResult<bool> {
    Ok(client
        .fetch_optional(
            "SELECT 1 FROM documents WHERE organization_id = :org AND id = :document \
             AND deleted_at IS NULL",
            params!(org, document),
        )
        .await?
        .is_some())
}

/// Inserts a draft.
#[tracing::instrument(skip_all, fields(org = %org, document = %document))]
pub async fn insert(
    client: &(impl Session + ?Sized),
    org: Uuid,
    sender: (Option<Uuid>, Option<Uuid>),
    document: Uuid,
    values: &DraftValues,
) -> PgResult<Envelope> {
    let row = client
        .fetch_one(
            &format!(
                "INSERT INTO envelopes (organization_id, user_id, api_key_id, document_id, name, \
                 subject, message, routing_type, expires_at, reminder_enabled, \
                 reminder_interval_days, reminder_max, signature_level, language) \
                 VALUES (:org, :user_id, :api_key_id, :document, :name, :subject, :message, \
                 COALESCE(:routing_type::text, 'sequential'), :expires_at::timestamptz, \
                 COALESCE(:reminder_enabled::boolean, true), \
                 COALESCE(:reminder_interval_days::int, 3), COALESCE(:reminder_max::int, 3), \
                 COALESCE(:signature_level::text, 'b_lta'), :language) \
                 RETURNING {ENVELOPE_COLUMNS}"
            ),
            &[
                params!(org, user_id = sender.0, api_key_id = sender.1, document),
                values.params().as_slice(),
            ]
            .concat(),
        )
        .await?;
    Envelope::try_from(&row)
}

/// The envelope `id` of `org`; `lock` takes its row lock (every change to an envelope and
/// its evidence chain holds it).
#[tracing::instrument(skip_all, fields(org = %org, id = %id))]
pub async fn get(
    client: &(impl Session + ?Sized),
    org: Uuid,
    id: Uuid,
    lock: bool,
) -> PgResult<Option<Envelope>> {
    let sql = format!(
        "SELECT {ENVELOPE_COLUMNS} FROM envelopes WHERE organization_id = :org AND id = :id{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    client
        .fetch_optional(&sql, params!(org, id))
        .await?
        .as_ref()
        .map(Envelope::try_from)
        .transpose()
}

/// Applies `values` (present ones only) to a draft.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn update(
    client: &(impl Session + ?Sized),
    id: Uuid,
    values: &DraftValues,
) -> PgResult<Envelope> {
    let row = client
        .fetch_one(
            &format!(
                "UPDATE envelopes SET name = COALESCE(:name::text, name), \
                 subject = COALESCE(:subject::text, subject), \
                 message = CASE WHEN :clear_message::boolean THEN NULL \
                                ELSE COALESCE(:message::text, message) END, \
                 routing_type = COALESCE(:routing_type::text, routing_type), \
                 expires_at = COALESCE(:expires_at::timestamptz, expires_at), \
                 reminder_enabled = COALESCE(:reminder_enabled::boolean, reminder_enabled), \
                 reminder_interval_days = COALESCE(:reminder_interval_days::int, reminder_interval_days), \
                 reminder_max = COALESCE(:reminder_max::int, reminder_max), \
                 signature_level = COALESCE(:signature_level::text, signature_level), \
                 language = CASE WHEN :clear_language::boolean THEN NULL \
                                 ELSE COALESCE(:language::text, language) END \
                 WHERE id = :id RETURNING {ENVELOPE_COLUMNS}"
            ),
            &[
                params!(
                    id,
                    clear_message = values.clear_message,
                    clear_language = values.clear_language,
                ),
                values.params().as_slice(),
            ]
            .concat(),
        )
        .await?;
    Envelope::try_from(&row)
}

/// Deletes a draft with its recipients, fields and evidence.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn delete(client: &(impl Session + ?Sized), id: Uuid) -> PgResult<()> {
    client
        .run("DELETE FROM envelopes WHERE id = :id", params!(id))
        .await?;
    Ok(())
}

/// Filters of the list route.
#[derive(Debug, Default)]
pub struct ListFilter {
    pub status: Option<EnvelopeStatus>,
    pub document_id: Option<Uuid>,
    pub after: Option<(DateTime<Utc>, Uuid)>,
    /// Only envelopes waiting for this user to act (a recipient with their address whose
    /// turn it is and who has not acted).
    pub waiting_for: Option<Uuid>,
}

/// The condition "waits for the user whose id is parameter `user` to act": a recipient with
/// their address whose turn it is and who has not acted, on a sent envelope.
fn waiting_for(user: &str) -> String {
    format!(
        "(status = 'sent' AND EXISTS ( \
           SELECT 1 FROM recipients r JOIN users u ON u.id = {user} \
           WHERE r.envelope_id = envelopes.id AND lower(r.email) = lower(u.email) \
           AND r.role <> 'cc' AND r.status NOT IN ('signed', 'approved', 'declined') \
           AND (envelopes.routing_type = 'parallel' \
                OR r.routing_order = envelopes.current_routing_order)))"
    )
}

/// How many of the organization's envelopes are in each state, and (for a person) how many
/// wait for them.
#[derive(Debug, Default, Serialize, schemars::JsonSchema)]
pub struct EnvelopeCounts {
    /// Drafts.
    pub draft: i64,
    /// Out for signature.
    pub sent: i64,
    /// Completed.
    pub completed: i64,
    /// Declined.
    pub declined: i64,
    /// Voided.
    pub voided: i64,
    /// Expired.
    pub expired: i64,
    /// Waiting for the signed-in person to act (`null` for an API key).
    pub waiting_for_me: Option<i64>,
}

/// The organization's envelope counts; `user` adds how many wait for them.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn counts(
    client: &(impl Session + ?Sized),
    org: Uuid,
    user: Option<Uuid>,
) -> PgResult<EnvelopeCounts> {
    let mut counts = EnvelopeCounts::default();
    let rows = client
        .fetch_all(
            "SELECT status, count(*) AS n FROM envelopes \
             WHERE organization_id = :org AND deleted_at IS NULL GROUP BY status",
            params!(org),
        )
        .await?;
    for row in rows {
        let n: i64 = row.get("n")?;
        match row.get::<String>("status")?.as_str() {
            "draft" => counts.draft = n,
            "sent" => counts.sent = n,
            "completed" => counts.completed = n,
            "declined" => counts.declined = n,
            "voided" => counts.voided = n,
            "expired" => counts.expired = n,
            _ => {}
        }
    }
    if let Some(user) = user {
        let row = client
            .fetch_one(
                &format!(
                    "SELECT count(*) AS n FROM envelopes WHERE organization_id = :org \
                     AND deleted_at IS NULL AND {}",
                    waiting_for(":user")
                ),
                params!(org, user),
            )
            .await?;
        counts.waiting_for_me = Some(row.get("n")?);
    }
    Ok(counts)
}

/// One page of the organization's envelopes, newest first.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn list(
    client: &(impl Session + ?Sized),
    org: Uuid,
    filter: &ListFilter,
    limit: i64,
) -> PgResult<Vec<Envelope>> {
    let (after_t, after_id) = filter.after.unzip();
    let rows = client
        .fetch_all(
            &format!(
                "SELECT {ENVELOPE_COLUMNS} FROM envelopes WHERE organization_id = :org \
                 AND deleted_at IS NULL AND (:status::text IS NULL OR status = :status) \
                 AND (:document_id::uuid IS NULL OR document_id = :document_id) \
                 AND (:after_t::timestamptz IS NULL \
                      OR (created_at, id) < (:after_t::timestamptz, :after_id::uuid)) \
                 AND (:waiting_for::uuid IS NULL OR {waiting}) \
                 ORDER BY created_at DESC, id DESC LIMIT :limit",
                waiting = waiting_for(":waiting_for::uuid")
            ),
            params!(
                org,
                status = filter.status.map(EnvelopeStatus::as_str),
                document_id = filter.document_id,
                after_t,
                after_id,
                limit,
                waiting_for = filter.waiting_for,
            ),
        )
        .await?;
    rows.iter().map(Envelope::try_from).collect()
}

/// A recipient row (secrets excluded).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Recipient {
    /// Id.
    pub id: Uuid,
    /// Email address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// What they do.
    pub role: RecipientRole,
    /// Routing order (1 acts first).
    pub routing_order: i32,
    /// Where they stand in the ceremony.
    pub status: RecipientStatus,
    /// How they prove who they are beyond the link.
    pub auth_method: AuthMethod,
    /// When they first viewed the document.
    pub viewed_at: Option<DateTime<Utc>>,
    /// When they signed or approved.
    pub signed_at: Option<DateTime<Utc>>,
    /// When they declined.
    pub declined_at: Option<DateTime<Utc>>,
    /// Their reason for declining.
    pub decline_reason: Option<String>,
    /// When their newest signing link went out.
    pub notified_at: Option<DateTime<Utc>>,
    /// Reminders sent to them so far.
    pub reminders_sent: i32,
    /// When the signing worker put this signer's signature in the PDF.
    pub applied_at: Option<DateTime<Utc>>,
    /// SHA-256 of the revision holding that signature.
    pub revision_sha256: Option<String>,
    /// When they were added.
    pub created_at: DateTime<Utc>,
    /// Signs inside the sender's page (no signing mail).
    pub embedded: bool,
    /// What became of the newest mail asking them to act (`sent`, `delivered`, `delayed`,
    /// `bounced`, `complained`, `rejected`, `suppressed`); `null` before any.
    pub mail_status: Option<String>,
    /// Since when.
    pub mail_status_at: Option<DateTime<Utc>>,
    /// The receiving server's words (a bounce's SMTP diagnostic), or why it was not sent.
    pub mail_diagnostic: Option<String>,
}

const RECIPIENT_COLUMNS: &str = "id, email, name, role, routing_order, status, auth_method, \
    viewed_at, signed_at, declined_at, decline_reason, notified_at, reminders_sent, applied_at, \
    revision_sha256, created_at, embedded, mail_status, mail_status_at, mail_diagnostic";

impl TryFrom<&Row> for Recipient {
    type Error = DbError;

    fn try_from(row: &Row) -> PgResult<Self> {
        Ok(Self {
            id: row.get("id")?,
            email: row.get("email")?,
            name: row.get("name")?,
            role: row.stored("role")?,
            routing_order: row.get("routing_order")?,
            status: row.stored("status")?,
            auth_method: row.stored("auth_method")?,
            viewed_at: row.get("viewed_at")?,
            signed_at: row.get("signed_at")?,
            declined_at: row.get("declined_at")?,
            decline_reason: row.get("decline_reason")?,
            notified_at: row.get("notified_at")?,
            reminders_sent: row.get("reminders_sent")?,
            applied_at: row.get("applied_at")?,
            revision_sha256: row.get("revision_sha256")?,
            created_at: row.get("created_at")?,
            embedded: row.get("embedded")?,
            mail_status: row.get("mail_status")?,
            mail_status_at: row.get("mail_status_at")?,
            mail_diagnostic: row.get("mail_diagnostic")?,
        })
    }
}

impl Recipient {
    /// What the evidence records of a recipient added or changed.
    pub fn evidence(&self) -> serde_json::Value {
        serde_json::json!({
            "email": self.email,
            "role": self.role,
            "routing_order": self.routing_order,
        })
    }

    /// Where this recipient stands in the routing.
    pub fn party(&self) -> gsign_core::routing::Party {
        gsign_core::routing::Party {
            id: self.id,
            role: self.role,
            routing_order: self.routing_order,
            status: self.status,
            applied: self.applied_at.is_some(),
        }
    }

    /// What send validation needs.
    pub fn facts(&self) -> RecipientFacts {
        RecipientFacts {
            id: self.id,
            role: self.role,
            routing_order: self.routing_order,
        }
    }
}

/// The envelope's recipients, by routing order.
#[tracing::instrument(skip_all, fields(envelope = %envelope))]
pub async fn recipients(
    client: &(impl Session + ?Sized),
    envelope: Uuid,
) -> PgResult<Vec<Recipient>> {
    let rows = client
        .fetch_all(
            &format!(
                "SELECT {RECIPIENT_COLUMNS} FROM recipients WHERE envelope_id = :envelope \
                 ORDER BY routing_order, created_at, id"
            ),
            params!(envelope),
        )
        .await?;
    rows.iter().map(Recipient::try_from).collect()
}

/// Adds a recipient; `code_hash` is the access code's Argon2id hash when one is required.
#[tracing::instrument(skip_all, fields(org = %org, envelope = %envelope))]
pub async fn insert_recipient(
    client: &(impl Session + ?Sized),
    org: Uuid,
    envelope: Uuid,
    new: &NewRecipient,
    code_hash: Option<&str>,
) -> PgResult<Recipient> {
    let row = client
        .fetch_one(
            &format!(
                "INSERT INTO recipients (organization_id, envelope_id, email, name, role, \
                 routing_order, auth_method, access_code_hash, embedded) \
                 VALUES (:org, :envelope, :email, :name, :role, :routing_order, :auth_method, \
                 :code_hash, :embedded) RETURNING {RECIPIENT_COLUMNS}"
            ),
            params!(
                org,
                envelope,
                email = new.email,
                name = new.name,
                role = new.role.as_str(),
                routing_order = new.routing_order,
                auth_method = new.auth_method.as_str(),
                code_hash,
                embedded = new.embedded,
            ),
        )
        .await?;
    Recipient::try_from(&row)
}

/// Whether a draft's recipient has an access code stored; `None` if there is no such recipient.
#[tracing::instrument(skip_all, fields(envelope = %envelope, id = %id))]
pub async fn has_access_code(
    client: &(impl Session + ?Sized),
    envelope: Uuid,
    id: Uuid,
) -> PgResult<Option<bool>> {
    client
        .fetch_optional(
            "SELECT access_code_hash IS NOT NULL AS has_code FROM recipients \
             WHERE envelope_id = :envelope AND id = :id",
            params!(envelope, id),
        )
        .await?
        .map(|row| row.get("has_code"))
        .transpose()
}

/// Replaces a recipient's values; with `auth_method` `access_code` and no `code_hash`, the
/// stored code is kept.
#[tracing::instrument(skip_all, fields(envelope = %envelope, id = %id))]
pub async fn update_recipient(
    client: &(impl Session + ?Sized),
    envelope: Uuid,
    id: Uuid,
    new: &NewRecipient,
    code_hash: Option<&str>,
) -> PgResult<Option<Recipient>> {
    client
        .fetch_optional(
            &format!(
                "UPDATE recipients SET email = :email, name = :name, role = :role, \
                 routing_order = :routing_order, auth_method = :auth_method, \
                 access_code_hash = CASE WHEN :keep_code THEN access_code_hash \
                                    ELSE :code_hash::text END, \
                 embedded = :embedded \
                 WHERE envelope_id = :envelope AND id = :id \
                 RETURNING {RECIPIENT_COLUMNS}"
            ),
            params!(
                envelope,
                id,
                email = new.email,
                name = new.name,
                role = new.role.as_str(),
                routing_order = new.routing_order,
                auth_method = new.auth_method.as_str(),
                code_hash,
                embedded = new.embedded,
                keep_code = new.auth_method == AuthMethod::AccessCode && code_hash.is_none(),
            ),
        )
        .await?
        .as_ref()
        .map(Recipient::try_from)
        .transpose()
}

/// Removes a recipient (and their fields); whether there was one.
#[tracing::instrument(skip_all, fields(envelope = %envelope, id = %id))]
pub async fn delete_recipient(
    client: &(impl Session + ?Sized),
    envelope: Uuid,
    id: Uuid,
) -> PgResult<bool> {
    Ok(client
        .run(
            "DELETE FROM recipients WHERE envelope_id = :envelope AND id = :id",
            params!(envelope, id),
        )
        .await?
        == 1)
}

/// A field row.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "EnvelopeField")]
pub struct Field {
    /// Id.
    pub id: Uuid,
    /// The recipient who fills it.
    pub recipient_id: Uuid,
    /// `signature`, `initial`, `text`, `date` or `checkbox`.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// A label for people.
    pub label: Option<String>,
    /// 1-based page.
    pub page: i32,
    /// Points from the left edge.
    pub x: f64,
    /// Points from the top edge.
    pub y: f64,
    /// Width in points.
    pub width: f64,
    /// Height in points.
    pub height: f64,
    /// Whether the recipient must fill it.
    pub required: bool,
    /// The value filled in, once signed.
    pub value: Option<String>,
    /// When it was filled in.
    pub signed_at: Option<DateTime<Utc>>,
}

impl Field {
    /// What send validation needs.
    pub fn facts(&self) -> FieldFacts {
        FieldFacts {
            id: self.id,
            recipient_id: self.recipient_id,
            field_type: self.field_type,
            page: self.page,
            x: self.x,
            y: self.y,
            width: self.width,
            height: self.height,
        }
    }
}

/// The envelope's fields.
#[tracing::instrument(skip_all, fields(envelope = %envelope))]
pub async fn fields(client: &(impl Session + ?Sized), envelope: Uuid) -> PgResult<Vec<Field>> {
    let rows = client
        .fetch_all(
            "SELECT id, recipient_id, type, label, page_number, x::float8 AS x, y::float8 AS y, \
             width::float8 AS width, height::float8 AS height, required, value, signed_at \
             FROM signature_fields WHERE envelope_id = :envelope ORDER BY page_number, y, x, id",
            params!(envelope),
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Field {
                id: row.get("id")?,
                recipient_id: row.get("recipient_id")?,
                field_type: row.stored("type")?,
                label: row.get("label")?,
                page: row.get("page_number")?,
                x: row.get("x")?,
                y: row.get("y")?,
                width: row.get("width")?,
                height: row.get("height")?,
                required: row.get("required")?,
                value: row.get("value")?,
                signed_at: row.get("signed_at")?,
            })
        })
        .collect()
}

/// Replaces every field of a draft.
#[tracing::instrument(skip_all, fields(envelope = %envelope))]
pub async fn replace_fields(
    client: &(impl Session + ?Sized),
    envelope: Uuid,
    fields: &[gsign_core::envelopes::FieldInput],
) -> PgResult<()> {
    client
        .run(
            "DELETE FROM signature_fields WHERE envelope_id = :envelope",
            params!(envelope),
        )
        .await?;
    // One call for every field on the Data API (`BatchExecuteStatement`).
    let sets: Vec<Vec<(&str, gsign_platform::database::Value)>> = fields
        .iter()
        .map(|field| {
            params!(
                envelope,
                recipient_id = field.recipient_id,
                field_type = field.field_type.as_str(),
                label = field.label,
                page = field.page,
                x = field.x,
                y = field.y,
                width = field.width,
                height = field.height,
                required = field.required.unwrap_or(true),
            )
            .to_vec()
        })
        .collect();
    client
        .run_batch(
            "INSERT INTO signature_fields (envelope_id, recipient_id, type, label, \
             page_number, x, y, width, height, required) \
             VALUES (:envelope, :recipient_id, :field_type, :label, :page, :x::float8::numeric, \
             :y::float8::numeric, :width::float8::numeric, :height::float8::numeric, :required)",
            &sets,
        )
        .await?;
    Ok(())
}

/// An evidence event as appended, and the outbox row announcing it, if its action is
/// announced ([`gsign_core::envelopes::is_announced`]): the caller publishes that row with
/// its others after commit (the sweeper publishes any it does not).
#[derive(Debug)]
pub struct Recorded {
    /// The event in the chain.
    pub chained: ChainedEvent,
    /// The outbox row announcing it to the areas that follow envelopes.
    pub announcement: Option<Uuid>,
}

impl Recorded {
    /// Adds the announcement, if any, to the outbox rows to publish after commit.
    pub fn announce_with(self, outbox: &mut Vec<Uuid>) -> ChainedEvent {
        outbox.extend(self.announcement);
        self.chained
    }
}

/// Appends an evidence event to the envelope's chain (the caller holds the envelope's row
/// lock, so sequences and links are never raced) and, for the actions other areas follow,
/// announces it through the outbox in the same transaction.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn record(
    client: &(impl Session + ?Sized),
    org: Uuid,
    mut event: EvidenceEvent,
) -> anyhow::Result<Recorded> {
    let (sequence, previous_hash) = next_link(client, event.envelope_id).await?;
    event.sequence = sequence;
    event.occurred_at = EvidenceEvent::at(event.occurred_at);
    let hash = event.hash(&previous_hash);
    insert_event(client, org, &event, &previous_hash, &hash).await?;
    let announcement = if gsign_core::envelopes::is_announced(&event.action) {
        let announced = outbox::EnvelopeEvent {
            organization_id: org,
            event: event.clone(),
        };
        Some(outbox::envelope_event(client, &announced).await?)
    } else {
        None
    };
    Ok(Recorded {
        chained: ChainedEvent {
            event,
            previous_hash,
            hash,
        },
        announcement,
    })
}

/// The sequence of the envelope's next event and the hash it links to: the last event's, or
/// the genesis hash for the first.
#[tracing::instrument(skip_all)]
async fn next_link(client: &(impl Session + ?Sized), envelope: Uuid) -> PgResult<(i32, String)> {
    let last = client
        .fetch_optional(
            "SELECT sequence, hash FROM envelope_events WHERE envelope_id = :envelope \
             ORDER BY sequence DESC LIMIT 1",
            params!(envelope),
        )
        .await?;
    Ok(match last {
        Some(row) => (row.get::<i32>("sequence")? + 1, row.get::<String>("hash")?),
        None => (1, GENESIS_HASH.to_owned()),
    })
}

/// Inserts the chained `event` (its sequence set, linked to `previous_hash`).
#[tracing::instrument(skip_all)]
async fn insert_event(
    client: &(impl Session + ?Sized),
    org: Uuid,
    event: &EvidenceEvent,
    previous_hash: &str,
    hash: &str,
) -> PgResult<()> {
    client
        .run(
            "INSERT INTO envelope_events (envelope_id, sequence, organization_id, action, \
             actor_type, actor_id, recipient_id, ip, user_agent, details, occurred_at, \
             previous_hash, hash) VALUES (:envelope, :sequence, :org, :action, :actor_type, \
             :actor_id, :recipient_id, :ip, :user_agent, :details, :occurred_at, :previous_hash, \
             :hash)",
            params!(
                envelope = event.envelope_id,
                sequence = event.sequence,
                org,
                action = event.action,
                actor_type = event.actor_type,
                actor_id = event.actor_id,
                recipient_id = event.recipient_id,
                ip = event.ip,
                user_agent = event.user_agent,
                details = event.details,
                occurred_at = event.occurred_at,
                previous_hash,
                hash,
            ),
        )
        .await?;
    Ok(())
}

/// The envelope's evidence, in order.
#[tracing::instrument(skip_all, fields(envelope = %envelope))]
pub async fn events(
    client: &(impl Session + ?Sized),
    envelope: Uuid,
) -> PgResult<Vec<ChainedEvent>> {
    let rows = client
        .fetch_all(
            "SELECT envelope_id, sequence, action, actor_type, actor_id, recipient_id, ip, \
             user_agent, details, occurred_at, previous_hash, hash FROM envelope_events \
             WHERE envelope_id = :envelope ORDER BY sequence",
            params!(envelope),
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(ChainedEvent {
                event: EvidenceEvent {
                    envelope_id: row.get("envelope_id")?,
                    sequence: row.get("sequence")?,
                    action: row.get("action")?,
                    actor_type: row.get("actor_type")?,
                    actor_id: row.get("actor_id")?,
                    recipient_id: row.get("recipient_id")?,
                    ip: row.get("ip")?,
                    user_agent: row.get("user_agent")?,
                    details: row.get("details")?,
                    occurred_at: row.get("occurred_at")?,
                },
                previous_hash: row.get("previous_hash")?,
                hash: row.get("hash")?,
            })
        })
        .collect()
}

/// The PDF of a ready document (the original, or its conversion).
#[tracing::instrument(skip_all, fields(document = %document))]
pub async fn document_pdf(
    client: &(impl Session + ?Sized),
    document: Uuid,
) -> PgResult<Option<gsign_platform::storage::ObjectRef>> {
    Ok(client
        .fetch_optional(
            "SELECT pdf_s3_key, pdf_s3_version_id FROM documents \
             WHERE id = :document AND status = 'ready'",
            params!(document),
        )
        .await?
        .map(|row| -> PgResult<_> {
            let key: Option<String> = row.get("pdf_s3_key")?;
            let version_id: Option<String> = row.get("pdf_s3_version_id")?;
            Ok(key.map(|key| gsign_platform::storage::ObjectRef { key, version_id }))
        })
        .transpose()?
        .flatten())
}

/// Marks the envelope sent with its prepared revision.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn mark_sent(
    client: &(impl Session + ?Sized),
    id: Uuid,
    routing_order: Option<i32>,
    expires_at: DateTime<Utc>,
    prepared: &gsign_platform::storage::ObjectRef,
    sha256: &str,
) -> PgResult<Envelope> {
    let row = client
        .fetch_one(
            &format!(
                "UPDATE envelopes SET status = 'sent', sent_at = now(), \
                 current_routing_order = :routing_order::int, expires_at = :expires_at, \
                 current_s3_key = :key, current_s3_version_id = :version_id, \
                 current_sha256 = :sha256 WHERE id = :id RETURNING {ENVELOPE_COLUMNS}"
            ),
            params!(
                id,
                routing_order,
                expires_at,
                key = prepared.key,
                version_id = prepared.version_id,
                sha256,
            ),
        )
        .await?;
    Envelope::try_from(&row)
}

/// Records that a recipient was asked to act, with the hash of their signing token.
#[tracing::instrument(skip_all, fields(recipient = %recipient))]
pub async fn mark_notified(
    client: &(impl Session + ?Sized),
    recipient: Uuid,
    token_hash: &str,
) -> PgResult<()> {
    client
        .run(
            "UPDATE recipients SET status = CASE WHEN status = 'pending' THEN 'sent' ELSE status END, \
             signing_token_hash = :token_hash, notified_at = now() WHERE id = :recipient",
            params!(recipient, token_hash),
        )
        .await?;
    Ok(())
}

/// How a sender is named in emails.
#[tracing::instrument(skip_all)]
pub async fn sender_name(client: &(impl Session + ?Sized), user: Option<Uuid>) -> PgResult<String> {
    let Some(user) = user else {
        return Ok("Your correspondent".to_owned());
    };
    Ok(client
        .fetch_optional(
            "SELECT COALESCE(NULLIF(btrim(concat_ws(' ', first_name, last_name)), ''), email) \
             AS name FROM users WHERE id = :user",
            params!(user),
        )
        .await?
        .map(|row| row.get("name"))
        .transpose()?
        .unwrap_or_else(|| "Your correspondent".to_owned()))
}

/// The organization's name.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn organization_name(client: &(impl Session + ?Sized), org: Uuid) -> PgResult<String> {
    client
        .fetch_one(
            "SELECT name FROM organizations WHERE id = :org",
            params!(org),
        )
        .await?
        .get("name")
}

/// A recipient as the signing ceremony sees them (secrets' hashes included).
#[derive(Debug, Clone)]
pub struct CeremonyRecipient {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub envelope_id: Uuid,
    pub name: String,
    pub email: String,
    pub role: RecipientRole,
    pub routing_order: i32,
    pub status: RecipientStatus,
    pub auth_method: AuthMethod,
    pub access_code_hash: Option<String>,
    pub access_code_failures: i32,
    pub locked_until: Option<DateTime<Utc>>,
    pub access_verified_until: Option<DateTime<Utc>>,
    pub consented_at: Option<DateTime<Utc>>,
    pub viewed_at: Option<DateTime<Utc>>,
    /// When the link stops working (set once the envelope completed).
    pub link_expires_at: Option<DateTime<Utc>>,
    /// When a fresh link was last mailed on request.
    pub link_renewed_at: Option<DateTime<Utc>>,
}

/// The recipient whose signing token hashes to `token_hash`.
#[tracing::instrument(skip_all)]
pub async fn recipient_by_token(
    client: &(impl Session + ?Sized),
    token_hash: &str,
) -> PgResult<Option<CeremonyRecipient>> {
    client
        .fetch_optional(
            "SELECT id, organization_id, envelope_id, name, email, role, routing_order, status, \
             auth_method, access_code_hash, access_code_failures, locked_until, \
             access_verified_until, consented_at, viewed_at, link_expires_at, link_renewed_at \
             FROM recipients WHERE signing_token_hash = :token_hash",
            params!(token_hash),
        )
        .await?
        .map(|row| -> PgResult<CeremonyRecipient> {
            Ok(CeremonyRecipient {
                id: row.get("id")?,
                organization_id: row.get("organization_id")?,
                envelope_id: row.get("envelope_id")?,
                name: row.get("name")?,
                email: row.get("email")?,
                role: row.stored("role")?,
                routing_order: row.get("routing_order")?,
                status: row.stored("status")?,
                auth_method: row.stored("auth_method")?,
                access_code_hash: row.get("access_code_hash")?,
                access_code_failures: row.get("access_code_failures")?,
                locked_until: row.get("locked_until")?,
                access_verified_until: row.get("access_verified_until")?,
                consented_at: row.get("consented_at")?,
                viewed_at: row.get("viewed_at")?,
                link_expires_at: row.get("link_expires_at")?,
                link_renewed_at: row.get("link_renewed_at")?,
            })
        })
        .transpose()
}

/// First view of the signing page.
#[tracing::instrument(skip_all, fields(recipient = %recipient))]
pub async fn mark_viewed(client: &(impl Session + ?Sized), recipient: Uuid) -> PgResult<()> {
    client
        .run(
            "UPDATE recipients SET viewed_at = COALESCE(viewed_at, now()), \
             status = CASE WHEN status = 'sent' THEN 'viewed' ELSE status END WHERE id = :recipient",
            params!(recipient),
        )
        .await?;
    Ok(())
}

/// A right access code: failures reset, good until `until`.
#[tracing::instrument(skip_all, fields(recipient = %recipient))]
pub async fn code_accepted(
    client: &(impl Session + ?Sized),
    recipient: Uuid,
    until: DateTime<Utc>,
) -> PgResult<()> {
    client
        .run(
            "UPDATE recipients SET access_code_failures = 0, locked_until = NULL, \
             access_verified_until = :until WHERE id = :recipient",
            params!(recipient, until),
        )
        .await?;
    Ok(())
}

/// What a wrong access code did to the link.
#[derive(Debug, Clone, Copy)]
pub struct CodeRefused {
    /// Wrong codes since the last lockout (the one just given included).
    pub failures: i32,
    /// Set when this code locked the link.
    pub locked_until: Option<DateTime<Utc>>,
}

/// A wrong access code, counted atomically: at `max_failures` the link locks for the next of
/// `lockouts` (the last repeats), the failure count restarts and the lockout count does not.
#[tracing::instrument(skip_all, fields(recipient = %recipient))]
pub async fn code_refused(
    client: &(impl Session + ?Sized),
    recipient: Uuid,
    max_failures: i32,
    lockouts: &[std::time::Duration],
) -> PgResult<CodeRefused> {
    let seconds: Vec<f64> = lockouts.iter().map(|d| d.as_secs_f64()).collect();
    // The lockout lengths go as a JSON array (no array parameters on the Data API).
    let row = client
        .fetch_one(
            "UPDATE recipients SET \
               access_code_failures = CASE WHEN access_code_failures + 1 >= :max THEN 0 \
                                           ELSE access_code_failures + 1 END, \
               access_code_lockouts = access_code_lockouts + (access_code_failures + 1 >= :max)::int, \
               locked_until = CASE WHEN access_code_failures + 1 >= :max \
                 THEN now() + make_interval(secs => (:lockouts::jsonb \
                   ->> (LEAST(access_code_lockouts + 1, jsonb_array_length(:lockouts::jsonb)) - 1))::float8) \
                 ELSE locked_until END \
             WHERE id = :recipient \
             RETURNING (CASE WHEN access_code_failures = 0 THEN :max \
                        ELSE access_code_failures END)::int AS failures, \
                       CASE WHEN access_code_failures = 0 THEN locked_until END AS locked_until",
            params!(
                recipient,
                max = max_failures,
                lockouts = serde_json::json!(seconds),
            ),
        )
        .await?;
    Ok(CodeRefused {
        failures: row.get("failures")?,
        locked_until: row.get("locked_until")?,
    })
}

/// Electronic-records consent given.
#[tracing::instrument(skip_all, fields(recipient = %recipient))]
pub async fn consented(
    client: &(impl Session + ?Sized),
    recipient: Uuid,
    version: &str,
) -> PgResult<()> {
    client
        .run(
            "UPDATE recipients SET consented_at = now(), disclosure_version = :version \
             WHERE id = :recipient",
            params!(recipient, version),
        )
        .await?;
    Ok(())
}

/// A recipient declined: the envelope ends for everyone.
#[tracing::instrument(skip_all, fields(recipient = %recipient, envelope = %envelope))]
pub async fn declined(
    client: &(impl Session + ?Sized),
    recipient: Uuid,
    envelope: Uuid,
    reason: &str,
) -> PgResult<()> {
    client
        .run(
            "UPDATE recipients SET status = 'declined', declined_at = now(), decline_reason = :reason \
             WHERE id = :recipient",
            params!(recipient, reason),
        )
        .await?;
    client
        .run(
            "UPDATE envelopes SET status = 'declined', declined_at = now() WHERE id = :envelope",
            params!(envelope),
        )
        .await?;
    Ok(())
}

/// The sending user's address, if a person sent it.
#[tracing::instrument(skip_all, fields(envelope = %envelope))]
pub async fn sender_email(
    client: &(impl Session + ?Sized),
    envelope: Uuid,
) -> PgResult<Option<String>> {
    client
        .fetch_optional(
            "SELECT u.email FROM envelopes e JOIN users u ON u.id = e.user_id WHERE e.id = :envelope",
            params!(envelope),
        )
        .await?
        .map(|row| row.get("email"))
        .transpose()
}

/// Voids a sent envelope.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn void(client: &(impl Session + ?Sized), id: Uuid, reason: &str) -> PgResult<Envelope> {
    let row = client
        .fetch_one(
            &format!(
                "UPDATE envelopes SET status = 'voided', voided_at = now(), void_reason = :reason \
                 WHERE id = :id RETURNING {ENVELOPE_COLUMNS}"
            ),
            params!(id, reason),
        )
        .await?;
    Envelope::try_from(&row)
}

/// Counts one more reminder for `recipient` unless `max` were sent; the new count.
#[tracing::instrument(skip_all, fields(recipient = %recipient))]
pub async fn try_remind(
    client: &(impl Session + ?Sized),
    recipient: Uuid,
    max: i32,
) -> PgResult<Option<i32>> {
    client
        .fetch_optional(
            "UPDATE recipients SET reminders_sent = reminders_sent + 1, last_reminded_at = now() \
             WHERE id = :recipient AND reminders_sent < :max RETURNING reminders_sent",
            params!(recipient, max),
        )
        .await?
        .map(|row| row.get("reminders_sent"))
        .transpose()
}

/// The oldest sent envelope past its expiry.
#[tracing::instrument(skip_all)]
pub async fn next_expired(client: &(impl Session + ?Sized)) -> PgResult<Option<(Uuid, Uuid)>> {
    client
        .fetch_optional(
            "SELECT organization_id, id FROM envelopes WHERE status = 'sent' AND expires_at < now() \
             ORDER BY expires_at LIMIT 1",
            &[],
        )
        .await?
        .map(|row| -> PgResult<_> { Ok((row.get("organization_id")?, row.get("id")?)) })
        .transpose()
}

/// Marks an envelope expired.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn expire(client: &(impl Session + ?Sized), id: Uuid) -> PgResult<()> {
    client
        .run(
            "UPDATE envelopes SET status = 'expired', expired_at = now() \
             WHERE id = :id AND status = 'sent'",
            params!(id),
        )
        .await?;
    Ok(())
}

/// Sent envelopes with reminders on that have a recipient due for one (acting, under the
/// cap, their newest link older than the envelope's interval), oldest first.
#[tracing::instrument(skip_all)]
pub async fn reminder_candidates(
    client: &(impl Session + ?Sized),
    limit: i64,
) -> PgResult<Vec<(Uuid, Uuid)>> {
    client
        .fetch_all(
            "SELECT e.organization_id, e.id FROM envelopes e WHERE e.status = 'sent' \
             AND e.reminder_enabled AND EXISTS (SELECT 1 FROM recipients r \
             WHERE r.envelope_id = e.id AND r.status IN ('sent', 'viewed') \
             AND r.reminders_sent < e.reminder_max \
             AND r.notified_at < now() - make_interval(days => e.reminder_interval_days)) \
             ORDER BY e.sent_at LIMIT :limit",
            params!(limit),
        )
        .await?
        .iter()
        .map(|row| Ok((row.get("organization_id")?, row.get("id")?)))
        .collect::<PgResult<_>>()
}

/// A recipient's submitted signature, as the ceremony stores it.
pub struct Submitted<'a> {
    pub recipient: Uuid,
    /// `drawn` or `typed`.
    pub kind: &'a str,
    pub png: Option<&'a [u8]>,
    pub text: &'a str,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// A signer submitted: status `signed`, their signature kept for the worker and the
/// certificate of completion.
#[tracing::instrument(skip_all)]
pub async fn submit_signature(client: &(impl Session + ?Sized), s: &Submitted<'_>) -> PgResult<()> {
    client
        .run(
            "UPDATE recipients SET status = 'signed', signed_at = now(), signature_kind = :kind, \
             signature_png = :png::bytea, signature_text = :text, last_ip = :ip, \
             last_user_agent = :user_agent WHERE id = :recipient",
            params!(
                recipient = s.recipient,
                kind = s.kind,
                png = s.png,
                text = s.text,
                ip = s.ip,
                user_agent = s.user_agent,
            ),
        )
        .await?;
    Ok(())
}

/// An approver approved.
#[tracing::instrument(skip_all, fields(recipient = %recipient))]
pub async fn approve(
    client: &(impl Session + ?Sized),
    recipient: Uuid,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> PgResult<()> {
    client
        .run(
            "UPDATE recipients SET status = 'approved', signed_at = now(), last_ip = :ip, \
             last_user_agent = :user_agent WHERE id = :recipient",
            params!(recipient, ip, user_agent),
        )
        .await?;
    Ok(())
}

/// A field's submitted value.
#[tracing::instrument(skip_all, fields(field = %field))]
pub async fn fill_field(
    client: &(impl Session + ?Sized),
    field: Uuid,
    value: &str,
) -> PgResult<()> {
    client
        .run(
            "UPDATE signature_fields SET value = :value, signed_at = now() WHERE id = :field",
            params!(field, value),
        )
        .await?;
    Ok(())
}

/// A submitted signature the worker has yet to put in the PDF.
#[derive(Debug, Clone)]
pub struct PendingSignature {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub kind: String,
    pub png: Option<Vec<u8>>,
    pub text: String,
    pub signed_at: DateTime<Utc>,
}

/// The oldest submitted signature of `envelope` not yet in its PDF.
#[tracing::instrument(skip_all, fields(envelope = %envelope))]
pub async fn next_to_apply(
    client: &(impl Session + ?Sized),
    envelope: Uuid,
) -> PgResult<Option<PendingSignature>> {
    client
        .fetch_optional(
            "SELECT id, name, email, signature_kind, signature_png, signature_text, signed_at \
             FROM recipients WHERE envelope_id = :envelope AND role = 'signer' AND status = 'signed' \
             AND applied_at IS NULL ORDER BY signed_at, routing_order, id LIMIT 1",
            params!(envelope),
        )
        .await?
        .map(|row| -> PgResult<_> {
            Ok(PendingSignature {
                id: row.get("id")?,
                name: row.get("name")?,
                email: row.get("email")?,
                kind: row.get("signature_kind")?,
                png: row.get("signature_png")?,
                text: row
                    .get::<Option<String>>("signature_text")?
                    .unwrap_or_default(),
                signed_at: row.get("signed_at")?,
            })
        })
        .transpose()
}

/// A new revision holds `recipient`'s signature: it becomes the envelope's current one.
#[tracing::instrument(skip_all, fields(envelope = %envelope, recipient = %recipient))]
pub async fn applied(
    client: &(impl Session + ?Sized),
    envelope: Uuid,
    recipient: Uuid,
    revision: i32,
    stored: &gsign_platform::storage::ObjectRef,
    sha256: &str,
) -> PgResult<()> {
    client
        .run(
            "UPDATE recipients SET applied_at = now(), revision = :revision, \
             revision_sha256 = :sha256 WHERE id = :recipient",
            params!(recipient, revision, sha256),
        )
        .await?;
    client
        .run(
            "UPDATE envelopes SET revision_count = :revision, current_s3_key = :key, \
             current_s3_version_id = :version_id, current_sha256 = :sha256, \
             processing_error = NULL, processing_failed_at = NULL, \
             processing_error_permanent = false, processing_attempts = 0 WHERE id = :envelope",
            params!(
                envelope,
                revision,
                key = stored.key,
                version_id = stored.version_id,
                sha256,
            ),
        )
        .await?;
    Ok(())
}

/// The routing moves on to `order`.
#[tracing::instrument(skip_all, fields(envelope = %envelope))]
pub async fn advance(client: &(impl Session + ?Sized), envelope: Uuid, order: i32) -> PgResult<()> {
    client
        .run(
            "UPDATE envelopes SET current_routing_order = :order WHERE id = :envelope",
            params!(envelope, order),
        )
        .await?;
    Ok(())
}

/// The worker failed on `envelope`: the newest reason, for the sender to see. Returns the
/// previous reason (evidence is written only when the reason changes).
#[tracing::instrument(skip_all, fields(envelope = %envelope))]
pub async fn processing_failed(
    client: &(impl Session + ?Sized),
    envelope: Uuid,
    reason: &str,
    permanent: bool,
) -> PgResult<Option<String>> {
    client
        .fetch_one(
            "UPDATE envelopes e SET processing_error = :reason, processing_failed_at = now(), \
             processing_error_permanent = :permanent, \
             processing_attempts = e.processing_attempts + 1 FROM envelopes old \
             WHERE e.id = :envelope AND old.id = e.id RETURNING old.processing_error",
            params!(envelope, reason, permanent),
        )
        .await?
        .get("processing_error")
}

/// Whether the completed envelope's Object Lock retention is still to apply (it is applied
/// after completion commits).
#[tracing::instrument(skip_all, fields(envelope = %envelope))]
pub async fn retention_pending(client: &(impl Session + ?Sized), envelope: Uuid) -> PgResult<bool> {
    Ok(client
        .fetch_optional(
            "SELECT 1 FROM envelopes WHERE id = :envelope AND status = 'completed' \
             AND retention_applied_at IS NULL",
            params!(envelope),
        )
        .await?
        .is_some())
}

/// Records that the completed envelope's objects are under retention (and clears the failure
/// that may have delayed it).
#[tracing::instrument(skip_all, fields(envelope = %envelope))]
pub async fn retention_applied(client: &(impl Session + ?Sized), envelope: Uuid) -> PgResult<()> {
    client
        .run(
            "UPDATE envelopes SET retention_applied_at = now(), processing_error = NULL, \
             processing_failed_at = NULL, processing_error_permanent = false, \
             processing_attempts = 0 WHERE id = :envelope",
            params!(envelope),
        )
        .await?;
    Ok(())
}

/// The completed envelope's documents.
pub struct Completed<'a> {
    pub final_pdf: &'a gsign_platform::storage::ObjectRef,
    pub final_sha256: &'a str,
    pub certificate: &'a gsign_platform::storage::ObjectRef,
    pub certificate_sha256: &'a str,
    pub completed_at: DateTime<Utc>,
    /// When the final document's archive timestamp must be renewed by (B-LTA).
    pub archive_expires_at: Option<DateTime<Utc>>,
}

/// Marks the envelope completed with its final document and certificate of completion.
#[tracing::instrument(skip_all, fields(envelope = %envelope))]
pub async fn complete(
    client: &(impl Session + ?Sized),
    envelope: Uuid,
    done: &Completed<'_>,
) -> PgResult<Envelope> {
    let row = client
        .fetch_one(
            &format!(
                "UPDATE envelopes SET status = 'completed', completed_at = :completed_at, \
                 final_s3_key = :final_key, final_s3_version_id = :final_version, \
                 final_sha256 = :final_sha256, certificate_s3_key = :certificate_key, \
                 certificate_s3_version_id = :certificate_version, \
                 certificate_sha256 = :certificate_sha256, current_s3_key = :final_key, \
                 current_s3_version_id = :final_version, current_sha256 = :final_sha256, \
                 current_routing_order = NULL, processing_error = NULL, \
                 processing_failed_at = NULL, processing_error_permanent = false, \
                 processing_attempts = 0, archive_expires_at = :archive_expires_at::timestamptz \
                 WHERE id = :envelope RETURNING {ENVELOPE_COLUMNS}"
            ),
            params!(
                envelope,
                completed_at = done.completed_at,
                final_key = done.final_pdf.key,
                final_version = done.final_pdf.version_id,
                final_sha256 = done.final_sha256,
                certificate_key = done.certificate.key,
                certificate_version = done.certificate.version_id,
                certificate_sha256 = done.certificate_sha256,
                archive_expires_at = done.archive_expires_at,
            ),
        )
        .await?;
    Envelope::try_from(&row)
}

/// Completed envelopes whose archive timestamp ends before `horizon`, not tried in the last
/// day, soonest first (at most `limit`).
#[tracing::instrument(skip_all)]
pub async fn archive_renewals_due(
    client: &(impl Session + ?Sized),
    horizon: DateTime<Utc>,
    limit: i64,
) -> PgResult<Vec<Envelope>> {
    let rows = client
        .fetch_all(
            &format!(
                "SELECT {ENVELOPE_COLUMNS} FROM envelopes WHERE status = 'completed' \
                 AND archive_expires_at < :horizon AND final_s3_key IS NOT NULL \
                 AND (archive_renewal_tried_at IS NULL \
                      OR archive_renewal_tried_at < now() - interval '1 day') \
                 ORDER BY archive_expires_at LIMIT :limit"
            ),
            params!(horizon, limit),
        )
        .await?;
    rows.iter().map(Envelope::try_from).collect()
}

/// The final document's renewed version (`archive_expires_at` the new timestamp's end), if
/// the envelope still points at `previous_version` (a concurrent renewal did not win).
#[tracing::instrument(skip_all, fields(envelope = %envelope))]
pub async fn archive_renewed(
    client: &(impl Session + ?Sized),
    envelope: Uuid,
    previous_version: Option<&str>,
    renewed: &gsign_platform::storage::ObjectRef,
    sha256: &str,
    archive_expires_at: Option<DateTime<Utc>>,
) -> PgResult<bool> {
    Ok(client
        .run(
            "UPDATE envelopes SET final_s3_version_id = :version, final_sha256 = :sha256, \
             current_s3_version_id = :version, current_sha256 = :sha256, \
             archive_expires_at = :archive_expires_at::timestamptz, \
             archive_renewal_tried_at = now(), archive_renewal_error = NULL \
             WHERE id = :envelope AND final_s3_version_id IS NOT DISTINCT FROM :previous::text \
               AND final_s3_key = :key",
            params!(
                envelope,
                previous = previous_version,
                version = renewed.version_id,
                sha256,
                archive_expires_at,
                key = renewed.key,
            ),
        )
        .await?
        == 1)
}

/// A renewal attempt failed: recorded, and tried again a day later.
#[tracing::instrument(skip_all, fields(envelope = %envelope))]
pub async fn archive_renewal_failed(
    client: &(impl Session + ?Sized),
    envelope: Uuid,
    reason: &str,
) -> PgResult<()> {
    client
        .run(
            "UPDATE envelopes SET archive_renewal_tried_at = now(), archive_renewal_error = :reason \
             WHERE id = :envelope",
            params!(envelope, reason),
        )
        .await?;
    Ok(())
}

/// What the certificate of completion says of each recipient.
pub struct RecipientEvidence {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub role: String,
    pub auth_method: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub viewed_at: Option<DateTime<Utc>>,
    pub signed_at: Option<DateTime<Utc>>,
    pub signature_png: Option<Vec<u8>>,
}

/// Every recipient with what the certificate of completion lists.
#[tracing::instrument(skip_all, fields(envelope = %envelope))]
pub async fn recipient_evidence(
    client: &(impl Session + ?Sized),
    envelope: Uuid,
) -> PgResult<Vec<RecipientEvidence>> {
    client
        .fetch_all(
            "SELECT r.id, r.name, r.email, r.role, r.auth_method, r.last_ip, r.last_user_agent, \
             (SELECT min(occurred_at) FROM envelope_events ev WHERE ev.envelope_id = r.envelope_id \
              AND ev.recipient_id = r.id AND ev.action = 'recipient.notified') AS sent_at, \
             r.viewed_at, r.signed_at, r.signature_png \
             FROM recipients r WHERE r.envelope_id = :envelope \
             ORDER BY r.routing_order, r.created_at, r.id",
            params!(envelope),
        )
        .await?
        .iter()
        .map(|row| {
            Ok(RecipientEvidence {
                id: row.get("id")?,
                name: row.get("name")?,
                email: row.get("email")?,
                role: row.get("role")?,
                auth_method: row.get("auth_method")?,
                ip: row.get("last_ip")?,
                user_agent: row.get("last_user_agent")?,
                sent_at: row.get("sent_at")?,
                viewed_at: row.get("viewed_at")?,
                signed_at: row.get("signed_at")?,
                signature_png: row.get("signature_png")?,
            })
        })
        .collect::<PgResult<_>>()
}

/// A document's stored objects and what completion needs of it.
pub struct SourceDocument {
    pub name: String,
    pub sha256: String,
    pub objects: Vec<gsign_platform::storage::ObjectRef>,
}

/// The envelope's document: its name, original SHA-256 and every stored object (for a pack
/// document, its hash file too).
#[tracing::instrument(skip_all, fields(document = %document))]
pub async fn source_document(
    client: &(impl Session + ?Sized),
    document: Uuid,
) -> PgResult<Option<SourceDocument>> {
    client
        .fetch_optional(
            "SELECT d.name, d.hash, d.s3_key, d.s3_version_id, d.pdf_s3_key, d.pdf_s3_version_id, \
             i.hash_s3_key, i.hash_s3_version FROM documents d \
             LEFT JOIN doc_instance i ON i.document_id = d.id WHERE d.id = :document",
            params!(document),
        )
        .await?
        .map(|row| -> PgResult<_> {
            let mut objects = vec![gsign_platform::storage::ObjectRef {
                key: row.get("s3_key")?,
                version_id: row.get("s3_version_id")?,
            }];
            for (key, version) in [
                ("pdf_s3_key", "pdf_s3_version_id"),
                ("hash_s3_key", "hash_s3_version"),
            ] {
                if let Some(key) = row.get::<Option<String>>(key)? {
                    let object = gsign_platform::storage::ObjectRef {
                        key,
                        version_id: row.get(version)?,
                    };
                    if !objects.contains(&object) {
                        objects.push(object);
                    }
                }
            }
            Ok(SourceDocument {
                name: row.get("name")?,
                sha256: row.get::<Option<String>>("hash")?.unwrap_or_default(),
                objects,
            })
        })
        .transpose()
}

/// Records the document's retention date (never shortening it).
#[tracing::instrument(skip_all, fields(document = %document))]
pub async fn retain_document(
    client: &(impl Session + ?Sized),
    document: Uuid,
    until: DateTime<Utc>,
) -> PgResult<()> {
    client
        .run(
            "UPDATE documents SET retention_until = GREATEST(retention_until, :until) \
             WHERE id = :document",
            params!(document, until),
        )
        .await?;
    Ok(())
}

/// Envelopes with work the worker has not done for longer than `idle_seconds`: a submitted
/// signature not in the PDF, everyone done but not completed, (sequential) the current order
/// done and the next not asked (the job was lost or its retries ran out), or a completion
/// whose Object Lock retention is not applied yet. A failure marked permanent is left alone:
/// retrying cannot heal it. Oldest first.
#[tracing::instrument(skip_all)]
pub async fn stalled(
    client: &(impl Session + ?Sized),
    idle_seconds: f64,
    limit: i64,
) -> PgResult<Vec<(Uuid, Uuid)>> {
    // `gsign_core::routing::Party::is_done`, in SQL.
    const DONE: &str = "(r.role = 'cc' OR (r.role = 'signer' AND r.applied_at IS NOT NULL) \
        OR (r.role = 'approver' AND r.status = 'approved') \
        OR (r.role = 'viewer' AND r.status IN ('viewed', 'signed')))";
    const QUIET: &str = "NOT EXISTS (SELECT 1 FROM recipients r WHERE r.envelope_id = e.id \
        AND r.updated_at > now() - make_interval(secs => :idle))";
    client
        .fetch_all(
            &format!(
                "SELECT e.organization_id, e.id FROM envelopes e WHERE (e.status = 'sent' \
                 AND NOT e.processing_error_permanent \
                 AND (e.processing_failed_at IS NULL \
                      OR e.processing_failed_at < now() - make_interval(secs => :idle)) \
                 AND (EXISTS (SELECT 1 FROM recipients r WHERE r.envelope_id = e.id \
                       AND r.status = 'signed' AND r.role = 'signer' AND r.applied_at IS NULL \
                       AND r.signed_at < now() - make_interval(secs => :idle)) \
                  OR (NOT EXISTS (SELECT 1 FROM recipients r WHERE r.envelope_id = e.id \
                       AND NOT {DONE}) AND {QUIET}) \
                  OR (e.routing_type = 'sequential' \
                   AND NOT EXISTS (SELECT 1 FROM recipients r WHERE r.envelope_id = e.id \
                       AND r.routing_order = e.current_routing_order AND NOT {DONE}) \
                   AND {QUIET}))) \
                 OR (e.status = 'completed' AND e.retention_applied_at IS NULL \
                   AND NOT e.processing_error_permanent \
                   AND e.completed_at < now() - make_interval(secs => :idle) \
                   AND (e.processing_failed_at IS NULL \
                        OR e.processing_failed_at < now() - make_interval(secs => :idle))) \
                 ORDER BY e.updated_at LIMIT :limit"
            ),
            params!(idle = idle_seconds, limit),
        )
        .await?
        .iter()
        .map(|row| Ok((row.get("organization_id")?, row.get("id")?)))
        .collect::<PgResult<_>>()
}

/// Replaces a recipient's signing token with one that stops working at `expires_at` (links to
/// a completed envelope's documents are not permanent).
#[tracing::instrument(skip_all, fields(recipient = %recipient))]
pub async fn set_expiring_token(
    client: &(impl Session + ?Sized),
    recipient: Uuid,
    token_hash: &str,
    expires_at: DateTime<Utc>,
) -> PgResult<()> {
    client
        .run(
            "UPDATE recipients SET signing_token_hash = :token_hash, link_expires_at = :expires_at \
             WHERE id = :recipient",
            params!(recipient, token_hash, expires_at),
        )
        .await?;
    Ok(())
}

/// Replaces a recipient's signing token (only its hash is kept; older links stop working).
#[tracing::instrument(skip_all, fields(recipient = %recipient))]
pub async fn set_token(
    client: &(impl Session + ?Sized),
    recipient: Uuid,
    token_hash: &str,
) -> PgResult<()> {
    client
        .run(
            "UPDATE recipients SET signing_token_hash = :token_hash WHERE id = :recipient",
            params!(recipient, token_hash),
        )
        .await?;
    Ok(())
}

/// Who sent an envelope, as its signing page names them: the sender's name (or address) and
/// their organization's name.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "EnvelopeSender")]
pub struct Sender {
    /// The sender's name (or address; the organization's name when the sender is gone).
    pub name: String,
    /// Their organization's name.
    pub organization: String,
}

/// The sender of `envelope` (the organization alone when the user is gone).
#[tracing::instrument(skip_all)]
pub async fn sender(client: &(impl Session + ?Sized), envelope: &Envelope) -> PgResult<Sender> {
    let row = client
        .fetch_one(
            "SELECT o.name AS organization, \
             NULLIF(btrim(concat_ws(' ', u.first_name, u.last_name)), '') AS full_name, u.email \
             FROM organizations o LEFT JOIN users u ON u.id = :user::uuid \
             AND u.organization_id = o.id WHERE o.id = :org",
            params!(org = envelope.organization_id, user = envelope.user_id),
        )
        .await?;
    let organization: String = row.get("organization")?;
    let name = row
        .get::<Option<String>>("full_name")?
        .or(row.get::<Option<String>>("email")?)
        .unwrap_or_else(|| organization.clone());
    Ok(Sender { name, organization })
}

/// Gives an embedded recipient of `envelope` a view ticket (its hash) good until `expires`;
/// `None` when there is no such recipient, or it is not embedded.
#[tracing::instrument(skip_all, fields(envelope = %envelope, recipient = %recipient))]
pub async fn set_view_ticket(
    client: &(impl Session + ?Sized),
    envelope: Uuid,
    recipient: Uuid,
    ticket_hash: &str,
    expires: DateTime<Utc>,
) -> PgResult<Option<bool>> {
    client
        .fetch_optional(
            "UPDATE recipients SET \
             view_ticket_hash = CASE WHEN embedded THEN :ticket_hash ELSE view_ticket_hash END, \
             view_ticket_expires_at = CASE WHEN embedded THEN :expires \
                                      ELSE view_ticket_expires_at END, \
             view_ticket_used_at = CASE WHEN embedded THEN NULL ELSE view_ticket_used_at END \
             WHERE envelope_id = :envelope AND id = :recipient RETURNING embedded",
            params!(envelope, recipient, ticket_hash, expires),
        )
        .await?
        .map(|row| row.get("embedded"))
        .transpose()
}

/// What trading a view ticket gave.
pub enum Traded {
    /// The ticket was good: the recipient now answers to the new signing token.
    Opened { envelope: Uuid },
    /// The ticket exists but its five minutes are over (it is spent now).
    Expired,
    /// No such ticket (never issued, or used already).
    Unknown,
}

/// The organization and envelope of the recipient holding view ticket `ticket_hash`.
#[tracing::instrument(skip_all)]
pub async fn view_ticket_owner(
    client: &(impl Session + ?Sized),
    ticket_hash: &str,
) -> PgResult<Option<(Uuid, Uuid)>> {
    client
        .fetch_optional(
            "SELECT organization_id, envelope_id FROM recipients WHERE view_ticket_hash = :ticket_hash",
            params!(ticket_hash),
        )
        .await?
        .map(|row| -> PgResult<_> { Ok((row.get("organization_id")?, row.get("envelope_id")?)) })
        .transpose()
}

/// Spends the view ticket `ticket_hash` (once): the recipient's signing token becomes
/// `token_hash` when the ticket is still fresh.
#[tracing::instrument(skip_all)]
pub async fn trade_view_ticket(
    client: &(impl Session + ?Sized),
    ticket_hash: &str,
    token_hash: &str,
) -> PgResult<Traded> {
    let row = client
        .fetch_optional(
            "UPDATE recipients SET view_ticket_used_at = now(), \
             signing_token_hash = CASE WHEN view_ticket_expires_at > now() THEN :token_hash \
                                       ELSE signing_token_hash END \
             WHERE view_ticket_hash = :ticket_hash AND view_ticket_used_at IS NULL \
             RETURNING envelope_id, view_ticket_expires_at > now() AS fresh",
            params!(ticket_hash, token_hash),
        )
        .await?;
    Ok(match row {
        None => Traded::Unknown,
        Some(row) if row.get::<bool>("fresh")? => Traded::Opened {
            envelope: row.get("envelope_id")?,
        },
        Some(_) => Traded::Expired,
    })
}

/// The origins an organization lets frame its embedded signing pages (its
/// `settings.embed_origins`), found from a view ticket without spending it.
#[tracing::instrument(skip_all)]
pub async fn embed_origins_of_ticket(
    client: &(impl Session + ?Sized),
    ticket_hash: &str,
) -> PgResult<Vec<String>> {
    Ok(client
        .fetch_optional(
            "SELECT COALESCE(ARRAY(SELECT jsonb_array_elements_text( \
                 CASE WHEN jsonb_typeof(o.settings->'embed_origins') = 'array' \
                      THEN o.settings->'embed_origins' ELSE '[]'::jsonb END)), '{}') AS origins \
             FROM recipients r JOIN organizations o ON o.id = r.organization_id \
             WHERE r.view_ticket_hash = :ticket_hash",
            params!(ticket_hash),
        )
        .await?
        .map(|row| row.get::<Vec<String>>("origins"))
        .transpose()?
        .unwrap_or_default())
}

/// Who a signing request comes from.
pub struct Letterhead {
    /// The sending person (or "Your correspondent").
    pub sender: String,
    /// Their organization.
    pub organization: String,
}

impl Letterhead {
    /// The letterhead of `envelope`'s sender.
    #[tracing::instrument(skip_all)]
    pub async fn of(
        client: &(impl Session + ?Sized),
        envelope: &Envelope,
    ) -> Result<Self, DbError> {
        Ok(Self {
            sender: sender_name(client, envelope.user_id).await?,
            organization: organization_name(client, envelope.organization_id).await?,
        })
    }
}

/// The document's status and displayed page sizes (rotation applied).
#[tracing::instrument(skip_all, fields(document = %document))]
pub async fn document_facts(
    client: &(impl Session + ?Sized),
    document: Uuid,
) -> PgResult<gsign_core::envelopes::DocumentFacts> {
    let row = client
        .fetch_one(
            // The page list apart when large (a 2000-page document's exceeds a Data API row).
            &format!(
                "SELECT status, CASE WHEN octet_length(pages::text) <= {INLINE_VALUE_BYTES} \
                 THEN pages END AS pages, pages IS NOT NULL AS has_pages, signatures, \
                 certification FROM documents WHERE id = :document"
            ),
            params!(document),
        )
        .await?;
    let mut pages: Option<serde_json::Value> = row.get("pages")?;
    if pages.is_none() && row.get::<bool>("has_pages")? {
        pages = Some(
            read_json_in_slices(
                client,
                "pages",
                "documents WHERE id = :document",
                params!(document),
            )
            .await?,
        );
    }
    let pages = pages
        .and_then(|p| p.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|p| {
            let (w, h) = (
                p["width"].as_f64().unwrap_or(0.0),
                p["height"].as_f64().unwrap_or(0.0),
            );
            match p["rotation"].as_i64().unwrap_or(0).rem_euclid(360) {
                90 | 270 => (h, w),
                _ => (w, h),
            }
        })
        .collect();
    Ok(gsign_core::envelopes::DocumentFacts {
        status: row.stored("status")?,
        pages,
        signatures: row.get("signatures")?,
        certification: row.get("certification")?,
    })
}

/// Takes the signing lease of the organization's envelope `id` until `seconds` from now, if
/// no other job holds it (or its holder's lease expired); whether it was taken.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn take_signing_lease(
    client: &(impl Session + ?Sized),
    org: Uuid,
    id: Uuid,
    seconds: f64,
) -> PgResult<bool> {
    Ok(client
        .run(
            "UPDATE envelopes SET signing_lease_until = now() + make_interval(secs => :seconds) \
             WHERE organization_id = :org AND id = :id \
             AND (signing_lease_until IS NULL OR signing_lease_until < now())",
            params!(org, id, seconds),
        )
        .await?
        == 1)
}

/// Gives the signing lease of envelope `id` back.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn release_signing_lease(client: &(impl Session + ?Sized), id: Uuid) -> PgResult<()> {
    client
        .run(
            "UPDATE envelopes SET signing_lease_until = NULL WHERE id = :id",
            params!(id),
        )
        .await?;
    Ok(())
}

/// A recipient's new address (and name): a new person, so nothing the old address did carries
/// over (its link, its consent, its access-code session, its view, its mail status).
#[tracing::instrument(skip_all, fields(recipient = %recipient))]
pub async fn correct_recipient(
    client: &(impl Session + ?Sized),
    recipient: Uuid,
    email: &str,
    name: &str,
) -> PgResult<()> {
    client
        .fetch_one(
            "UPDATE recipients SET email = :email, name = :name, signing_token_hash = NULL, \
                 status = CASE WHEN status = 'viewed' THEN 'sent' ELSE status END, \
                 viewed_at = NULL, consented_at = NULL, disclosure_version = NULL, \
                 access_verified_until = NULL, view_ticket_hash = NULL, \
                 view_ticket_expires_at = NULL, view_ticket_used_at = NULL, \
                 mail_status = NULL, mail_status_at = NULL, mail_diagnostic = NULL, \
                 reminders_sent = 0, last_reminded_at = NULL \
             WHERE id = :id RETURNING id",
            params!(id = recipient, email, name),
        )
        .await?;
    Ok(())
}

/// Gives the recipient a view ticket (its hash) good once until `expires_at`.
#[tracing::instrument(skip_all, fields(recipient = %recipient))]
pub async fn set_view_ticket_once(
    client: &(impl Session + ?Sized),
    recipient: Uuid,
    hash: &str,
    expires_at: DateTime<Utc>,
) -> PgResult<()> {
    client
        .run(
            "UPDATE recipients SET view_ticket_hash = :hash, view_ticket_expires_at = :expires_at, \
                 view_ticket_used_at = NULL WHERE id = :id",
            params!(id = recipient, hash, expires_at),
        )
        .await?;
    Ok(())
}

/// Notes that the recipient was mailed a fresh link just now.
#[tracing::instrument(skip_all, fields(recipient = %recipient))]
pub async fn link_renewed(client: &(impl Session + ?Sized), recipient: Uuid) -> PgResult<()> {
    client
        .run(
            "UPDATE recipients SET link_renewed_at = now() WHERE id = :id",
            params!(id = recipient),
        )
        .await?;
    Ok(())
}

/// Whether the recipient signs embedded in the sender's application.
#[tracing::instrument(skip_all, fields(recipient = %recipient))]
pub async fn is_embedded(client: &(impl Session + ?Sized), recipient: Uuid) -> PgResult<bool> {
    client
        .fetch_one(
            "SELECT embedded FROM recipients WHERE id = :id",
            params!(id = recipient),
        )
        .await?
        .get("embedded")
}
