//! The `envelopes`, `recipients`, `signature_fields` and `envelope_events` tables.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use gsign_core::envelopes::{
    AuthMethod, ChainedEvent, EnvelopeStatus, EvidenceEvent, FieldFacts, FieldType, NewRecipient,
    RecipientFacts, RecipientRole, RecipientStatus, RoutingType, GENESIS_HASH,
};
use gsign_platform::{db, outbox};
use serde::Serialize;
use uuid::Uuid;

type PgResult<T> = Result<T, tokio_postgres::Error>;

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

impl TryFrom<&tokio_postgres::Row> for Envelope {
    type Error = tokio_postgres::Error;

    fn try_from(row: &tokio_postgres::Row) -> PgResult<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            organization_id: row.try_get("organization_id")?,
            user_id: row.try_get("user_id")?,
            document_id: row.try_get("document_id")?,
            name: row.try_get("name")?,
            subject: row.try_get("subject")?,
            message: row.try_get("message")?,
            status: db::stored(row, "status")?,
            routing_type: db::stored(row, "routing_type")?,
            current_routing_order: row.try_get("current_routing_order")?,
            expires_at: row.try_get("expires_at")?,
            reminder_enabled: row.try_get("reminder_enabled")?,
            reminder_interval_days: row.try_get("reminder_interval_days")?,
            reminder_max: row.try_get("reminder_max")?,
            signature_level: row.try_get("signature_level")?,
            sent_at: row.try_get("sent_at")?,
            completed_at: row.try_get("completed_at")?,
            voided_at: row.try_get("voided_at")?,
            void_reason: row.try_get("void_reason")?,
            declined_at: row.try_get("declined_at")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            current_s3_key: row.try_get("current_s3_key")?,
            current_s3_version_id: row.try_get("current_s3_version_id")?,
            current_sha256: row.try_get("current_sha256")?,
            revision_count: row.try_get("revision_count")?,
            final_sha256: row.try_get("final_sha256")?,
            certificate_sha256: row.try_get("certificate_sha256")?,
            final_s3_key: row.try_get("final_s3_key")?,
            final_s3_version_id: row.try_get("final_s3_version_id")?,
            certificate_s3_key: row.try_get("certificate_s3_key")?,
            certificate_s3_version_id: row.try_get("certificate_s3_version_id")?,
            processing_error: row.try_get("processing_error")?,
            processing_failed_at: row.try_get("processing_failed_at")?,
            language: row.try_get("language")?,
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
}

/// Whether `document` is a live document of `org`.
#[tracing::instrument(skip_all, fields(org = %org, document = %document))]
pub async fn document_exists(
    client: &impl GenericClient,
    org: Uuid,
    document: Uuid,
) -> PgResult<bool> {
    Ok(client
        .query_opt(
            "SELECT 1 FROM documents WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL",
            &[&org, &document],
        )
        .await?
        .is_some())
}

/// Inserts a draft.
#[tracing::instrument(skip_all, fields(org = %org, document = %document))]
pub async fn insert(
    client: &impl GenericClient,
    org: Uuid,
    sender: (Option<Uuid>, Option<Uuid>),
    document: Uuid,
    values: &DraftValues,
) -> PgResult<Envelope> {
    let row = client
        .query_one(
            &format!(
                "INSERT INTO envelopes (organization_id, user_id, api_key_id, document_id, name, \
                 subject, message, routing_type, expires_at, reminder_enabled, \
                 reminder_interval_days, reminder_max, signature_level, language) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($8, 'sequential'), $9, \
                 COALESCE($10, true), COALESCE($11, 3), COALESCE($12, 3), COALESCE($13, 'b_lta'), \
                 $14) \
                 RETURNING {ENVELOPE_COLUMNS}"
            ),
            &[
                &org,
                &sender.0,
                &sender.1,
                &document,
                &values.name,
                &values.subject,
                &values.message,
                &values.routing_type,
                &values.expires_at,
                &values.reminder_enabled,
                &values.reminder_interval_days,
                &values.reminder_max,
                &values.signature_level,
                &values.language,
            ],
        )
        .await?;
    Envelope::try_from(&row)
}

/// The envelope `id` of `org`; `lock` takes its row lock (every change to an envelope and
/// its evidence chain holds it).
#[tracing::instrument(skip_all, fields(org = %org, id = %id))]
pub async fn get(
    client: &impl GenericClient,
    org: Uuid,
    id: Uuid,
    lock: bool,
) -> PgResult<Option<Envelope>> {
    let sql = format!(
        "SELECT {ENVELOPE_COLUMNS} FROM envelopes WHERE organization_id = $1 AND id = $2{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    client
        .query_opt(&sql, &[&org, &id])
        .await?
        .as_ref()
        .map(Envelope::try_from)
        .transpose()
}

/// Applies `values` (present ones only) to a draft.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn update(
    client: &impl GenericClient,
    id: Uuid,
    values: &DraftValues,
) -> PgResult<Envelope> {
    let row = client
        .query_one(
            &format!(
                "UPDATE envelopes SET name = COALESCE($2, name), subject = COALESCE($3, subject), \
                 message = COALESCE($4, message), routing_type = COALESCE($5, routing_type), \
                 expires_at = COALESCE($6, expires_at), \
                 reminder_enabled = COALESCE($7, reminder_enabled), \
                 reminder_interval_days = COALESCE($8, reminder_interval_days), \
                 reminder_max = COALESCE($9, reminder_max), \
                 signature_level = COALESCE($10, signature_level), \
                 language = COALESCE($11, language) \
                 WHERE id = $1 RETURNING {ENVELOPE_COLUMNS}"
            ),
            &[
                &id,
                &values.name,
                &values.subject,
                &values.message,
                &values.routing_type,
                &values.expires_at,
                &values.reminder_enabled,
                &values.reminder_interval_days,
                &values.reminder_max,
                &values.signature_level,
                &values.language,
            ],
        )
        .await?;
    Envelope::try_from(&row)
}

/// Deletes a draft with its recipients, fields and evidence.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn delete(client: &impl GenericClient, id: Uuid) -> PgResult<()> {
    client
        .execute("DELETE FROM envelopes WHERE id = $1", &[&id])
        .await?;
    Ok(())
}

/// Filters of the list route.
#[derive(Debug, Default)]
pub struct ListFilter {
    pub status: Option<String>,
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
    client: &impl GenericClient,
    org: Uuid,
    user: Option<Uuid>,
) -> PgResult<EnvelopeCounts> {
    let mut counts = EnvelopeCounts::default();
    let rows = client
        .query(
            "SELECT status, count(*) FROM envelopes \
             WHERE organization_id = $1 AND deleted_at IS NULL GROUP BY status",
            &[&org],
        )
        .await?;
    for row in rows {
        let n: i64 = row.get(1);
        match row.get::<_, &str>(0) {
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
            .query_one(
                &format!(
                    "SELECT count(*) FROM envelopes WHERE organization_id = $1 \
                     AND deleted_at IS NULL AND {}",
                    waiting_for("$2")
                ),
                &[&org, &user],
            )
            .await?;
        counts.waiting_for_me = Some(row.get(0));
    }
    Ok(counts)
}

/// One page of the organization's envelopes, newest first.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn list(
    client: &impl GenericClient,
    org: Uuid,
    filter: &ListFilter,
    limit: i64,
) -> PgResult<Vec<Envelope>> {
    let (after_t, after_id) = filter.after.unzip();
    let rows = client
        .query(
            &format!(
                "SELECT {ENVELOPE_COLUMNS} FROM envelopes WHERE organization_id = $1 \
                 AND deleted_at IS NULL AND ($2::text IS NULL OR status = $2) \
                 AND ($3::uuid IS NULL OR document_id = $3) \
                 AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5)) \
                 AND ($7::uuid IS NULL OR {waiting}) \
                 ORDER BY created_at DESC, id DESC LIMIT $6",
                waiting = waiting_for("$7::uuid")
            ),
            &[
                &org,
                &filter.status,
                &filter.document_id,
                &after_t,
                &after_id,
                &limit,
                &filter.waiting_for,
            ],
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

impl TryFrom<&tokio_postgres::Row> for Recipient {
    type Error = tokio_postgres::Error;

    fn try_from(row: &tokio_postgres::Row) -> PgResult<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            email: row.try_get("email")?,
            name: row.try_get("name")?,
            role: db::stored(row, "role")?,
            routing_order: row.try_get("routing_order")?,
            status: db::stored(row, "status")?,
            auth_method: db::stored(row, "auth_method")?,
            viewed_at: row.try_get("viewed_at")?,
            signed_at: row.try_get("signed_at")?,
            declined_at: row.try_get("declined_at")?,
            decline_reason: row.try_get("decline_reason")?,
            notified_at: row.try_get("notified_at")?,
            reminders_sent: row.try_get("reminders_sent")?,
            applied_at: row.try_get("applied_at")?,
            revision_sha256: row.try_get("revision_sha256")?,
            created_at: row.try_get("created_at")?,
            embedded: row.try_get("embedded")?,
            mail_status: row.try_get("mail_status")?,
            mail_status_at: row.try_get("mail_status_at")?,
            mail_diagnostic: row.try_get("mail_diagnostic")?,
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
pub async fn recipients(client: &impl GenericClient, envelope: Uuid) -> PgResult<Vec<Recipient>> {
    let rows = client
        .query(
            &format!(
                "SELECT {RECIPIENT_COLUMNS} FROM recipients WHERE envelope_id = $1 \
                 ORDER BY routing_order, created_at, id"
            ),
            &[&envelope],
        )
        .await?;
    rows.iter().map(Recipient::try_from).collect()
}

/// Adds a recipient; `code_hash` is the access code's Argon2id hash when one is required.
#[tracing::instrument(skip_all, fields(org = %org, envelope = %envelope))]
pub async fn insert_recipient(
    client: &impl GenericClient,
    org: Uuid,
    envelope: Uuid,
    new: &NewRecipient,
    code_hash: Option<&str>,
) -> PgResult<Recipient> {
    let row = client
        .query_one(
            &format!(
                "INSERT INTO recipients (organization_id, envelope_id, email, name, role, \
                 routing_order, auth_method, access_code_hash, embedded) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {RECIPIENT_COLUMNS}"
            ),
            &[
                &org,
                &envelope,
                &new.email,
                &new.name,
                &new.role.as_str(),
                &new.routing_order,
                &new.auth_method.as_str(),
                &code_hash,
                &new.embedded,
            ],
        )
        .await?;
    Recipient::try_from(&row)
}

/// Whether a draft's recipient has an access code stored; `None` if there is no such recipient.
#[tracing::instrument(skip_all, fields(envelope = %envelope, id = %id))]
pub async fn has_access_code(
    client: &impl GenericClient,
    envelope: Uuid,
    id: Uuid,
) -> PgResult<Option<bool>> {
    Ok(client
        .query_opt(
            "SELECT access_code_hash IS NOT NULL FROM recipients WHERE envelope_id = $1 AND id = $2",
            &[&envelope, &id],
        )
        .await?
        .map(|row| row.get(0)))
}

/// Replaces a recipient's values; with `auth_method` `access_code` and no `code_hash`, the
/// stored code is kept.
#[tracing::instrument(skip_all, fields(envelope = %envelope, id = %id))]
pub async fn update_recipient(
    client: &impl GenericClient,
    envelope: Uuid,
    id: Uuid,
    new: &NewRecipient,
    code_hash: Option<&str>,
) -> PgResult<Option<Recipient>> {
    client
        .query_opt(
            &format!(
                "UPDATE recipients SET email = $3, name = $4, role = $5, routing_order = $6, \
                 auth_method = $7, \
                 access_code_hash = CASE WHEN $10 THEN access_code_hash ELSE $8 END, \
                 embedded = $9 \
                 WHERE envelope_id = $1 AND id = $2 \
                 RETURNING {RECIPIENT_COLUMNS}"
            ),
            &[
                &envelope,
                &id,
                &new.email,
                &new.name,
                &new.role.as_str(),
                &new.routing_order,
                &new.auth_method.as_str(),
                &code_hash,
                &new.embedded,
                &(new.auth_method == AuthMethod::AccessCode && code_hash.is_none()),
            ],
        )
        .await?
        .as_ref()
        .map(Recipient::try_from)
        .transpose()
}

/// Removes a recipient (and their fields); whether there was one.
#[tracing::instrument(skip_all, fields(envelope = %envelope, id = %id))]
pub async fn delete_recipient(
    client: &impl GenericClient,
    envelope: Uuid,
    id: Uuid,
) -> PgResult<bool> {
    Ok(client
        .execute(
            "DELETE FROM recipients WHERE envelope_id = $1 AND id = $2",
            &[&envelope, &id],
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
pub async fn fields(client: &impl GenericClient, envelope: Uuid) -> PgResult<Vec<Field>> {
    let rows = client
        .query(
            "SELECT id, recipient_id, type, label, page_number, x::float8 AS x, y::float8 AS y, \
             width::float8 AS width, height::float8 AS height, required, value, signed_at \
             FROM signature_fields WHERE envelope_id = $1 ORDER BY page_number, y, x, id",
            &[&envelope],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Field {
                id: row.get("id"),
                recipient_id: row.get("recipient_id"),
                field_type: db::stored(row, "type")?,
                label: row.get("label"),
                page: row.get("page_number"),
                x: row.get("x"),
                y: row.get("y"),
                width: row.get("width"),
                height: row.get("height"),
                required: row.get("required"),
                value: row.get("value"),
                signed_at: row.get("signed_at"),
            })
        })
        .collect()
}

/// Replaces every field of a draft.
#[tracing::instrument(skip_all, fields(envelope = %envelope))]
pub async fn replace_fields(
    client: &impl GenericClient,
    envelope: Uuid,
    fields: &[gsign_core::envelopes::FieldInput],
) -> PgResult<()> {
    client
        .execute(
            "DELETE FROM signature_fields WHERE envelope_id = $1",
            &[&envelope],
        )
        .await?;
    for field in fields {
        client
            .execute(
                "INSERT INTO signature_fields (envelope_id, recipient_id, type, label, \
                 page_number, x, y, width, height, required) \
                 VALUES ($1, $2, $3, $4, $5, $6::float8::numeric, $7::float8::numeric, \
                 $8::float8::numeric, $9::float8::numeric, $10)",
                &[
                    &envelope,
                    &field.recipient_id,
                    &field.field_type.as_str(),
                    &field.label,
                    &field.page,
                    &field.x,
                    &field.y,
                    &field.width,
                    &field.height,
                    &field.required.unwrap_or(true),
                ],
            )
            .await?;
    }
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
    client: &(impl GenericClient + gsign_platform::database::Session),
    org: Uuid,
    mut event: EvidenceEvent,
) -> anyhow::Result<Recorded> {
    let last = client
        .query_opt(
            "SELECT sequence, hash FROM envelope_events WHERE envelope_id = $1 \
             ORDER BY sequence DESC LIMIT 1",
            &[&event.envelope_id],
        )
        .await?;
    let (sequence, previous_hash) = match last {
        Some(row) => (row.get::<_, i32>(0) + 1, row.get::<_, String>(1)),
        None => (1, GENESIS_HASH.to_owned()),
    };
    event.sequence = sequence;
    event.occurred_at = EvidenceEvent::at(event.occurred_at);
    let hash = event.hash(&previous_hash);
    client
        .execute(
            "INSERT INTO envelope_events (envelope_id, sequence, organization_id, action, \
             actor_type, actor_id, recipient_id, ip, user_agent, details, occurred_at, \
             previous_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            &[
                &event.envelope_id,
                &event.sequence,
                &org,
                &event.action,
                &event.actor_type,
                &event.actor_id,
                &event.recipient_id,
                &event.ip,
                &event.user_agent,
                &event.details,
                &event.occurred_at,
                &previous_hash,
                &hash,
            ],
        )
        .await?;
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

/// The envelope's evidence, in order.
#[tracing::instrument(skip_all, fields(envelope = %envelope))]
pub async fn events(client: &impl GenericClient, envelope: Uuid) -> PgResult<Vec<ChainedEvent>> {
    let rows = client
        .query(
            "SELECT envelope_id, sequence, action, actor_type, actor_id, recipient_id, ip, \
             user_agent, details, occurred_at, previous_hash, hash FROM envelope_events \
             WHERE envelope_id = $1 ORDER BY sequence",
            &[&envelope],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| ChainedEvent {
            event: EvidenceEvent {
                envelope_id: row.get("envelope_id"),
                sequence: row.get("sequence"),
                action: row.get("action"),
                actor_type: row.get("actor_type"),
                actor_id: row.get("actor_id"),
                recipient_id: row.get("recipient_id"),
                ip: row.get("ip"),
                user_agent: row.get("user_agent"),
                details: row.get("details"),
                occurred_at: row.get("occurred_at"),
            },
            previous_hash: row.get("previous_hash"),
            hash: row.get("hash"),
        })
        .collect())
}

/// The PDF of a ready document (the original, or its conversion).
#[tracing::instrument(skip_all, fields(document = %document))]
pub async fn document_pdf(
    client: &impl GenericClient,
    document: Uuid,
) -> PgResult<Option<gsign_platform::storage::ObjectRef>> {
    Ok(client
        .query_opt(
            "SELECT pdf_s3_key, pdf_s3_version_id FROM documents WHERE id = $1 AND status = 'ready'",
            &[&document],
        )
        .await?
        .and_then(|row| {
            let key: Option<String> = row.get(0);
            key.map(|key| gsign_platform::storage::ObjectRef {
                key,
                version_id: row.get(1),
            })
        }))
}

/// Marks the envelope sent with its prepared revision.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn mark_sent(
    client: &impl GenericClient,
    id: Uuid,
    routing_order: Option<i32>,
    expires_at: DateTime<Utc>,
    prepared: &gsign_platform::storage::ObjectRef,
    sha256: &str,
) -> PgResult<Envelope> {
    let row = client
        .query_one(
            &format!(
                "UPDATE envelopes SET status = 'sent', sent_at = now(), current_routing_order = $2,                  expires_at = $3, current_s3_key = $4, current_s3_version_id = $5,                  current_sha256 = $6 WHERE id = $1 RETURNING {ENVELOPE_COLUMNS}"
            ),
            &[&id, &routing_order, &expires_at, &prepared.key, &prepared.version_id, &sha256],
        )
        .await?;
    Envelope::try_from(&row)
}

/// Records that a recipient was asked to act, with the hash of their signing token.
#[tracing::instrument(skip_all, fields(recipient = %recipient))]
pub async fn mark_notified(
    client: &impl GenericClient,
    recipient: Uuid,
    token_hash: &str,
) -> PgResult<()> {
    client
        .execute(
            "UPDATE recipients SET status = CASE WHEN status = 'pending' THEN 'sent' ELSE status END, \
             signing_token_hash = $2, notified_at = now() WHERE id = $1",
            &[&recipient, &token_hash],
        )
        .await?;
    Ok(())
}

/// How a sender is named in emails.
#[tracing::instrument(skip_all)]
pub async fn sender_name(client: &impl GenericClient, user: Option<Uuid>) -> PgResult<String> {
    let Some(user) = user else {
        return Ok("Your correspondent".to_owned());
    };
    Ok(client
        .query_opt(
            "SELECT COALESCE(NULLIF(btrim(concat_ws(' ', first_name, last_name)), ''), email)              FROM users WHERE id = $1",
            &[&user],
        )
        .await?
        .map(|row| row.get(0))
        .unwrap_or_else(|| "Your correspondent".to_owned()))
}

/// The organization's name.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn organization_name(client: &impl GenericClient, org: Uuid) -> PgResult<String> {
    Ok(client
        .query_one("SELECT name FROM organizations WHERE id = $1", &[&org])
        .await?
        .get(0))
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
    client: &impl GenericClient,
    token_hash: &str,
) -> PgResult<Option<CeremonyRecipient>> {
    client
        .query_opt(
            "SELECT id, organization_id, envelope_id, name, email, role, routing_order, status, \
             auth_method, access_code_hash, access_code_failures, locked_until, \
             access_verified_until, consented_at, viewed_at, link_expires_at, link_renewed_at \
             FROM recipients WHERE signing_token_hash = $1",
            &[&token_hash],
        )
        .await?
        .map(|row| -> PgResult<CeremonyRecipient> {
            Ok(CeremonyRecipient {
                id: row.try_get("id")?,
                organization_id: row.try_get("organization_id")?,
                envelope_id: row.try_get("envelope_id")?,
                name: row.try_get("name")?,
                email: row.try_get("email")?,
                role: db::stored(&row, "role")?,
                routing_order: row.try_get("routing_order")?,
                status: db::stored(&row, "status")?,
                auth_method: db::stored(&row, "auth_method")?,
                access_code_hash: row.try_get("access_code_hash")?,
                access_code_failures: row.try_get("access_code_failures")?,
                locked_until: row.try_get("locked_until")?,
                access_verified_until: row.try_get("access_verified_until")?,
                consented_at: row.try_get("consented_at")?,
                viewed_at: row.try_get("viewed_at")?,
                link_expires_at: row.try_get("link_expires_at")?,
                link_renewed_at: row.try_get("link_renewed_at")?,
            })
        })
        .transpose()
}

/// First view of the signing page.
#[tracing::instrument(skip_all, fields(recipient = %recipient))]
pub async fn mark_viewed(client: &impl GenericClient, recipient: Uuid) -> PgResult<()> {
    client
        .execute(
            "UPDATE recipients SET viewed_at = COALESCE(viewed_at, now()), \
             status = CASE WHEN status = 'sent' THEN 'viewed' ELSE status END WHERE id = $1",
            &[&recipient],
        )
        .await?;
    Ok(())
}

/// A right access code: failures reset, good until `until`.
#[tracing::instrument(skip_all, fields(recipient = %recipient))]
pub async fn code_accepted(
    client: &impl GenericClient,
    recipient: Uuid,
    until: DateTime<Utc>,
) -> PgResult<()> {
    client
        .execute(
            "UPDATE recipients SET access_code_failures = 0, locked_until = NULL, \
             access_verified_until = $2 WHERE id = $1",
            &[&recipient, &until],
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
    client: &impl GenericClient,
    recipient: Uuid,
    max_failures: i32,
    lockouts: &[std::time::Duration],
) -> PgResult<CodeRefused> {
    let seconds: Vec<f64> = lockouts.iter().map(|d| d.as_secs_f64()).collect();
    let row = client
        .query_one(
            "UPDATE recipients SET \
               access_code_failures = CASE WHEN access_code_failures + 1 >= $2 THEN 0 \
                                           ELSE access_code_failures + 1 END, \
               access_code_lockouts = access_code_lockouts + (access_code_failures + 1 >= $2)::int, \
               locked_until = CASE WHEN access_code_failures + 1 >= $2 \
                 THEN now() + make_interval(secs => ($3::float8[])[LEAST(access_code_lockouts + 1, cardinality($3::float8[]))]) \
                 ELSE locked_until END \
             WHERE id = $1 \
             RETURNING CASE WHEN access_code_failures = 0 THEN $2 ELSE access_code_failures END, \
                       CASE WHEN access_code_failures = 0 THEN locked_until END",
            &[&recipient, &max_failures, &seconds],
        )
        .await?;
    Ok(CodeRefused {
        failures: row.get(0),
        locked_until: row.get(1),
    })
}

/// Electronic-records consent given.
#[tracing::instrument(skip_all, fields(recipient = %recipient))]
pub async fn consented(
    client: &impl GenericClient,
    recipient: Uuid,
    version: &str,
) -> PgResult<()> {
    client
        .execute(
            "UPDATE recipients SET consented_at = now(), disclosure_version = $2 WHERE id = $1",
            &[&recipient, &version],
        )
        .await?;
    Ok(())
}

/// A recipient declined: the envelope ends for everyone.
#[tracing::instrument(skip_all, fields(recipient = %recipient, envelope = %envelope))]
pub async fn declined(
    client: &impl GenericClient,
    recipient: Uuid,
    envelope: Uuid,
    reason: &str,
) -> PgResult<()> {
    client
        .execute(
            "UPDATE recipients SET status = 'declined', declined_at = now(), decline_reason = $2 \
             WHERE id = $1",
            &[&recipient, &reason],
        )
        .await?;
    client
        .execute(
            "UPDATE envelopes SET status = 'declined', declined_at = now() WHERE id = $1",
            &[&envelope],
        )
        .await?;
    Ok(())
}

/// The sending user's address, if a person sent it.
#[tracing::instrument(skip_all, fields(envelope = %envelope))]
pub async fn sender_email(client: &impl GenericClient, envelope: Uuid) -> PgResult<Option<String>> {
    Ok(client
        .query_opt(
            "SELECT u.email FROM envelopes e JOIN users u ON u.id = e.user_id WHERE e.id = $1",
            &[&envelope],
        )
        .await?
        .map(|row| row.get(0)))
}

/// Voids a sent envelope.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn void(client: &impl GenericClient, id: Uuid, reason: &str) -> PgResult<Envelope> {
    let row = client
        .query_one(
            &format!(
                "UPDATE envelopes SET status = 'voided', voided_at = now(), void_reason = $2 \
                 WHERE id = $1 RETURNING {ENVELOPE_COLUMNS}"
            ),
            &[&id, &reason],
        )
        .await?;
    Envelope::try_from(&row)
}

/// Counts one more reminder for `recipient` unless `max` were sent; the new count.
#[tracing::instrument(skip_all, fields(recipient = %recipient))]
pub async fn try_remind(
    client: &impl GenericClient,
    recipient: Uuid,
    max: i32,
) -> PgResult<Option<i32>> {
    Ok(client
        .query_opt(
            "UPDATE recipients SET reminders_sent = reminders_sent + 1, last_reminded_at = now() \
             WHERE id = $1 AND reminders_sent < $2 RETURNING reminders_sent",
            &[&recipient, &max],
        )
        .await?
        .map(|row| row.get(0)))
}

/// The oldest sent envelope past its expiry.
#[tracing::instrument(skip_all)]
pub async fn next_expired(client: &impl GenericClient) -> PgResult<Option<(Uuid, Uuid)>> {
    Ok(client
        .query_opt(
            "SELECT organization_id, id FROM envelopes WHERE status = 'sent' AND expires_at < now() \
             ORDER BY expires_at LIMIT 1",
            &[],
        )
        .await?
        .map(|row| (row.get(0), row.get(1))))
}

/// Marks an envelope expired.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn expire(client: &impl GenericClient, id: Uuid) -> PgResult<()> {
    client
        .execute(
            "UPDATE envelopes SET status = 'expired', expired_at = now() WHERE id = $1 AND status = 'sent'",
            &[&id],
        )
        .await?;
    Ok(())
}

/// Sent envelopes with reminders on that have a recipient due for one (acting, under the
/// cap, their newest link older than the envelope's interval), oldest first.
#[tracing::instrument(skip_all)]
pub async fn reminder_candidates(
    client: &impl GenericClient,
    limit: i64,
) -> PgResult<Vec<(Uuid, Uuid)>> {
    Ok(client
        .query(
            "SELECT e.organization_id, e.id FROM envelopes e WHERE e.status = 'sent' \
             AND e.reminder_enabled AND EXISTS (SELECT 1 FROM recipients r \
             WHERE r.envelope_id = e.id AND r.status IN ('sent', 'viewed') \
             AND r.reminders_sent < e.reminder_max \
             AND r.notified_at < now() - make_interval(days => e.reminder_interval_days)) \
             ORDER BY e.sent_at LIMIT $1",
            &[&limit],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect())
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
pub async fn submit_signature(client: &impl GenericClient, s: &Submitted<'_>) -> PgResult<()> {
    client
        .execute(
            "UPDATE recipients SET status = 'signed', signed_at = now(), signature_kind = $2, \
             signature_png = $3, signature_text = $4, last_ip = $5, last_user_agent = $6 \
             WHERE id = $1",
            &[&s.recipient, &s.kind, &s.png, &s.text, &s.ip, &s.user_agent],
        )
        .await?;
    Ok(())
}

/// An approver approved.
#[tracing::instrument(skip_all, fields(recipient = %recipient))]
pub async fn approve(
    client: &impl GenericClient,
    recipient: Uuid,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> PgResult<()> {
    client
        .execute(
            "UPDATE recipients SET status = 'approved', signed_at = now(), last_ip = $2, \
             last_user_agent = $3 WHERE id = $1",
            &[&recipient, &ip, &user_agent],
        )
        .await?;
    Ok(())
}

/// A field's submitted value.
#[tracing::instrument(skip_all, fields(field = %field))]
pub async fn fill_field(client: &impl GenericClient, field: Uuid, value: &str) -> PgResult<()> {
    client
        .execute(
            "UPDATE signature_fields SET value = $2, signed_at = now() WHERE id = $1",
            &[&field, &value],
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
    client: &impl GenericClient,
    envelope: Uuid,
) -> PgResult<Option<PendingSignature>> {
    Ok(client
        .query_opt(
            "SELECT id, name, email, signature_kind, signature_png, signature_text, signed_at \
             FROM recipients WHERE envelope_id = $1 AND role = 'signer' AND status = 'signed' \
             AND applied_at IS NULL ORDER BY signed_at, routing_order, id LIMIT 1",
            &[&envelope],
        )
        .await?
        .map(|row| PendingSignature {
            id: row.get(0),
            name: row.get(1),
            email: row.get(2),
            kind: row.get(3),
            png: row.get(4),
            text: row.get::<_, Option<String>>(5).unwrap_or_default(),
            signed_at: row.get(6),
        }))
}

/// A new revision holds `recipient`'s signature: it becomes the envelope's current one.
#[tracing::instrument(skip_all, fields(envelope = %envelope, recipient = %recipient))]
pub async fn applied(
    client: &impl GenericClient,
    envelope: Uuid,
    recipient: Uuid,
    revision: i32,
    stored: &gsign_platform::storage::ObjectRef,
    sha256: &str,
) -> PgResult<()> {
    client
        .execute(
            "UPDATE recipients SET applied_at = now(), revision = $2, revision_sha256 = $3 \
             WHERE id = $1",
            &[&recipient, &revision, &sha256],
        )
        .await?;
    client
        .execute(
            "UPDATE envelopes SET revision_count = $2, current_s3_key = $3, \
             current_s3_version_id = $4, current_sha256 = $5, processing_error = NULL, \
             processing_failed_at = NULL, processing_error_permanent = false, \
             processing_attempts = 0 WHERE id = $1",
            &[
                &envelope,
                &revision,
                &stored.key,
                &stored.version_id,
                &sha256,
            ],
        )
        .await?;
    Ok(())
}

/// The routing moves on to `order`.
#[tracing::instrument(skip_all, fields(envelope = %envelope))]
pub async fn advance(client: &impl GenericClient, envelope: Uuid, order: i32) -> PgResult<()> {
    client
        .execute(
            "UPDATE envelopes SET current_routing_order = $2 WHERE id = $1",
            &[&envelope, &order],
        )
        .await?;
    Ok(())
}

/// The worker failed on `envelope`: the newest reason, for the sender to see. Returns the
/// previous reason (evidence is written only when the reason changes).
#[tracing::instrument(skip_all, fields(envelope = %envelope))]
pub async fn processing_failed(
    client: &impl GenericClient,
    envelope: Uuid,
    reason: &str,
    permanent: bool,
) -> PgResult<Option<String>> {
    Ok(client
        .query_one(
            "UPDATE envelopes e SET processing_error = $2, processing_failed_at = now(), \
             processing_error_permanent = $3, \
             processing_attempts = e.processing_attempts + 1 FROM envelopes old \
             WHERE e.id = $1 AND old.id = e.id RETURNING old.processing_error",
            &[&envelope, &reason, &permanent],
        )
        .await?
        .get(0))
}

/// Whether the completed envelope's Object Lock retention is still to apply (it is applied
/// after completion commits).
#[tracing::instrument(skip_all, fields(envelope = %envelope))]
pub async fn retention_pending(client: &impl GenericClient, envelope: Uuid) -> PgResult<bool> {
    Ok(client
        .query_opt(
            "SELECT 1 FROM envelopes WHERE id = $1 AND status = 'completed' \
             AND retention_applied_at IS NULL",
            &[&envelope],
        )
        .await?
        .is_some())
}

/// Records that the completed envelope's objects are under retention (and clears the failure
/// that may have delayed it).
#[tracing::instrument(skip_all, fields(envelope = %envelope))]
pub async fn retention_applied(client: &impl GenericClient, envelope: Uuid) -> PgResult<()> {
    client
        .execute(
            "UPDATE envelopes SET retention_applied_at = now(), processing_error = NULL, \
             processing_failed_at = NULL, processing_error_permanent = false, \
             processing_attempts = 0 WHERE id = $1",
            &[&envelope],
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
    client: &impl GenericClient,
    envelope: Uuid,
    done: &Completed<'_>,
) -> PgResult<Envelope> {
    let row = client
        .query_one(
            &format!(
                "UPDATE envelopes SET status = 'completed', completed_at = $2, \
                 final_s3_key = $3, final_s3_version_id = $4, final_sha256 = $5, \
                 certificate_s3_key = $6, certificate_s3_version_id = $7, \
                 certificate_sha256 = $8, current_s3_key = $3, current_s3_version_id = $4, \
                 current_sha256 = $5, current_routing_order = NULL, processing_error = NULL, \
                 processing_failed_at = NULL, processing_error_permanent = false, \
                 processing_attempts = 0, archive_expires_at = $9 \
                 WHERE id = $1 RETURNING {ENVELOPE_COLUMNS}"
            ),
            &[
                &envelope,
                &done.completed_at,
                &done.final_pdf.key,
                &done.final_pdf.version_id,
                &done.final_sha256,
                &done.certificate.key,
                &done.certificate.version_id,
                &done.certificate_sha256,
                &done.archive_expires_at,
            ],
        )
        .await?;
    Envelope::try_from(&row)
}

/// Completed envelopes whose archive timestamp ends before `horizon`, not tried in the last
/// day, soonest first (at most `limit`).
#[tracing::instrument(skip_all)]
pub async fn archive_renewals_due(
    client: &impl GenericClient,
    horizon: DateTime<Utc>,
    limit: i64,
) -> PgResult<Vec<Envelope>> {
    let rows = client
        .query(
            &format!(
                "SELECT {ENVELOPE_COLUMNS} FROM envelopes WHERE status = 'completed' \
                 AND archive_expires_at < $1 AND final_s3_key IS NOT NULL \
                 AND (archive_renewal_tried_at IS NULL \
                      OR archive_renewal_tried_at < now() - interval '1 day') \
                 ORDER BY archive_expires_at LIMIT $2"
            ),
            &[&horizon, &limit],
        )
        .await?;
    rows.iter().map(Envelope::try_from).collect()
}

/// The final document's renewed version (`archive_expires_at` the new timestamp's end), if
/// the envelope still points at `previous_version` (a concurrent renewal did not win).
#[tracing::instrument(skip_all, fields(envelope = %envelope))]
pub async fn archive_renewed(
    client: &impl GenericClient,
    envelope: Uuid,
    previous_version: Option<&str>,
    renewed: &gsign_platform::storage::ObjectRef,
    sha256: &str,
    archive_expires_at: Option<DateTime<Utc>>,
) -> PgResult<bool> {
    Ok(client
        .execute(
            "UPDATE envelopes SET final_s3_version_id = $3, final_sha256 = $4, \
             current_s3_version_id = $3, current_sha256 = $4, archive_expires_at = $5, \
             archive_renewal_tried_at = now(), archive_renewal_error = NULL \
             WHERE id = $1 AND final_s3_version_id IS NOT DISTINCT FROM $2 \
               AND final_s3_key = $6",
            &[
                &envelope,
                &previous_version,
                &renewed.version_id,
                &sha256,
                &archive_expires_at,
                &renewed.key,
            ],
        )
        .await?
        == 1)
}

/// A renewal attempt failed: recorded, and tried again a day later.
#[tracing::instrument(skip_all, fields(envelope = %envelope))]
pub async fn archive_renewal_failed(
    client: &impl GenericClient,
    envelope: Uuid,
    reason: &str,
) -> PgResult<()> {
    client
        .execute(
            "UPDATE envelopes SET archive_renewal_tried_at = now(), archive_renewal_error = $2 \
             WHERE id = $1",
            &[&envelope, &reason],
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
    client: &impl GenericClient,
    envelope: Uuid,
) -> PgResult<Vec<RecipientEvidence>> {
    Ok(client
        .query(
            "SELECT r.id, r.name, r.email, r.role, r.auth_method, r.last_ip, r.last_user_agent, \
             (SELECT min(occurred_at) FROM envelope_events ev WHERE ev.envelope_id = r.envelope_id \
              AND ev.recipient_id = r.id AND ev.action = 'recipient.notified') AS sent_at, \
             r.viewed_at, r.signed_at, r.signature_png \
             FROM recipients r WHERE r.envelope_id = $1 ORDER BY r.routing_order, r.created_at, r.id",
            &[&envelope],
        )
        .await?
        .iter()
        .map(|row| RecipientEvidence {
            id: row.get(0),
            name: row.get(1),
            email: row.get(2),
            role: row.get(3),
            auth_method: row.get(4),
            ip: row.get(5),
            user_agent: row.get(6),
            sent_at: row.get(7),
            viewed_at: row.get(8),
            signed_at: row.get(9),
            signature_png: row.get(10),
        })
        .collect())
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
    client: &impl GenericClient,
    document: Uuid,
) -> PgResult<Option<SourceDocument>> {
    Ok(client
        .query_opt(
            "SELECT d.name, d.hash, d.s3_key, d.s3_version_id, d.pdf_s3_key, d.pdf_s3_version_id, \
             i.hash_s3_key, i.hash_s3_version FROM documents d \
             LEFT JOIN doc_instance i ON i.document_id = d.id WHERE d.id = $1",
            &[&document],
        )
        .await?
        .map(|row| {
            let mut objects = vec![gsign_platform::storage::ObjectRef {
                key: row.get(2),
                version_id: row.get(3),
            }];
            for (key, version) in [(4, 5), (6, 7)] {
                if let Some(key) = row.get::<_, Option<String>>(key) {
                    let object = gsign_platform::storage::ObjectRef {
                        key,
                        version_id: row.get(version),
                    };
                    if !objects.contains(&object) {
                        objects.push(object);
                    }
                }
            }
            SourceDocument {
                name: row.get(0),
                sha256: row.get::<_, Option<String>>(1).unwrap_or_default(),
                objects,
            }
        }))
}

/// Records the document's retention date (never shortening it).
#[tracing::instrument(skip_all, fields(document = %document))]
pub async fn retain_document(
    client: &impl GenericClient,
    document: Uuid,
    until: DateTime<Utc>,
) -> PgResult<()> {
    client
        .execute(
            "UPDATE documents SET retention_until = GREATEST(retention_until, $2) WHERE id = $1",
            &[&document, &until],
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
    client: &impl GenericClient,
    idle_seconds: f64,
    limit: i64,
) -> PgResult<Vec<(Uuid, Uuid)>> {
    // `gsign_core::routing::Party::is_done`, in SQL.
    const DONE: &str = "(r.role = 'cc' OR (r.role = 'signer' AND r.applied_at IS NOT NULL) \
        OR (r.role = 'approver' AND r.status = 'approved') \
        OR (r.role = 'viewer' AND r.status IN ('viewed', 'signed')))";
    const QUIET: &str = "NOT EXISTS (SELECT 1 FROM recipients r WHERE r.envelope_id = e.id \
        AND r.updated_at > now() - make_interval(secs => $1))";
    Ok(client
        .query(
            &format!(
                "SELECT e.organization_id, e.id FROM envelopes e WHERE (e.status = 'sent' \
                 AND NOT e.processing_error_permanent \
                 AND (e.processing_failed_at IS NULL \
                      OR e.processing_failed_at < now() - make_interval(secs => $1)) \
                 AND (EXISTS (SELECT 1 FROM recipients r WHERE r.envelope_id = e.id \
                       AND r.status = 'signed' AND r.role = 'signer' AND r.applied_at IS NULL \
                       AND r.signed_at < now() - make_interval(secs => $1)) \
                  OR (NOT EXISTS (SELECT 1 FROM recipients r WHERE r.envelope_id = e.id \
                       AND NOT {DONE}) AND {QUIET}) \
                  OR (e.routing_type = 'sequential' \
                   AND NOT EXISTS (SELECT 1 FROM recipients r WHERE r.envelope_id = e.id \
                       AND r.routing_order = e.current_routing_order AND NOT {DONE}) \
                   AND {QUIET}))) \
                 OR (e.status = 'completed' AND e.retention_applied_at IS NULL \
                   AND NOT e.processing_error_permanent \
                   AND e.completed_at < now() - make_interval(secs => $1) \
                   AND (e.processing_failed_at IS NULL \
                        OR e.processing_failed_at < now() - make_interval(secs => $1))) \
                 ORDER BY e.updated_at LIMIT $2"
            ),
            &[&idle_seconds, &limit],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect())
}

/// Replaces a recipient's signing token with one that stops working at `expires_at` (links to
/// a completed envelope's documents are not permanent).
#[tracing::instrument(skip_all, fields(recipient = %recipient))]
pub async fn set_expiring_token(
    client: &impl GenericClient,
    recipient: Uuid,
    token_hash: &str,
    expires_at: DateTime<Utc>,
) -> PgResult<()> {
    client
        .execute(
            "UPDATE recipients SET signing_token_hash = $2, link_expires_at = $3 WHERE id = $1",
            &[&recipient, &token_hash, &expires_at],
        )
        .await?;
    Ok(())
}

/// Replaces a recipient's signing token (only its hash is kept; older links stop working).
#[tracing::instrument(skip_all, fields(recipient = %recipient))]
pub async fn set_token(
    client: &impl GenericClient,
    recipient: Uuid,
    token_hash: &str,
) -> PgResult<()> {
    client
        .execute(
            "UPDATE recipients SET signing_token_hash = $2 WHERE id = $1",
            &[&recipient, &token_hash],
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
pub async fn sender(client: &impl GenericClient, envelope: &Envelope) -> PgResult<Sender> {
    let row = client
        .query_one(
            "SELECT o.name AS organization, \
             NULLIF(btrim(concat_ws(' ', u.first_name, u.last_name)), '') AS full_name, u.email \
             FROM organizations o LEFT JOIN users u ON u.id = $2 AND u.organization_id = o.id \
             WHERE o.id = $1",
            &[&envelope.organization_id, &envelope.user_id],
        )
        .await?;
    let organization: String = row.get("organization");
    let name = row
        .get::<_, Option<String>>("full_name")
        .or_else(|| row.get::<_, Option<String>>("email"))
        .unwrap_or_else(|| organization.clone());
    Ok(Sender { name, organization })
}

/// Gives an embedded recipient of `envelope` a view ticket (its hash) good until `expires`;
/// `None` when there is no such recipient, or it is not embedded.
#[tracing::instrument(skip_all, fields(envelope = %envelope, recipient = %recipient))]
pub async fn set_view_ticket(
    client: &impl GenericClient,
    envelope: Uuid,
    recipient: Uuid,
    ticket_hash: &str,
    expires: DateTime<Utc>,
) -> PgResult<Option<bool>> {
    Ok(client
        .query_opt(
            "UPDATE recipients SET \
             view_ticket_hash = CASE WHEN embedded THEN $3 ELSE view_ticket_hash END, \
             view_ticket_expires_at = CASE WHEN embedded THEN $4 ELSE view_ticket_expires_at END, \
             view_ticket_used_at = CASE WHEN embedded THEN NULL ELSE view_ticket_used_at END \
             WHERE envelope_id = $1 AND id = $2 RETURNING embedded",
            &[&envelope, &recipient, &ticket_hash, &expires],
        )
        .await?
        .map(|row| row.get(0)))
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
    client: &impl GenericClient,
    ticket_hash: &str,
) -> PgResult<Option<(Uuid, Uuid)>> {
    Ok(client
        .query_opt(
            "SELECT organization_id, envelope_id FROM recipients WHERE view_ticket_hash = $1",
            &[&ticket_hash],
        )
        .await?
        .map(|row| (row.get(0), row.get(1))))
}

/// Spends the view ticket `ticket_hash` (once): the recipient's signing token becomes
/// `token_hash` when the ticket is still fresh.
#[tracing::instrument(skip_all)]
pub async fn trade_view_ticket(
    client: &impl GenericClient,
    ticket_hash: &str,
    token_hash: &str,
) -> PgResult<Traded> {
    let row = client
        .query_opt(
            "UPDATE recipients SET view_ticket_used_at = now(), \
             signing_token_hash = CASE WHEN view_ticket_expires_at > now() THEN $2 \
                                       ELSE signing_token_hash END \
             WHERE view_ticket_hash = $1 AND view_ticket_used_at IS NULL \
             RETURNING envelope_id, view_ticket_expires_at > now() AS fresh",
            &[&ticket_hash, &token_hash],
        )
        .await?;
    Ok(match row {
        None => Traded::Unknown,
        Some(row) if row.get::<_, bool>("fresh") => Traded::Opened {
            envelope: row.get("envelope_id"),
        },
        Some(_) => Traded::Expired,
    })
}

/// The origins an organization lets frame its embedded signing pages (its
/// `settings.embed_origins`), found from a view ticket without spending it.
#[tracing::instrument(skip_all)]
pub async fn embed_origins_of_ticket(
    client: &impl GenericClient,
    ticket_hash: &str,
) -> PgResult<Vec<String>> {
    Ok(client
        .query_opt(
            "SELECT COALESCE(ARRAY(SELECT jsonb_array_elements_text( \
                 CASE WHEN jsonb_typeof(o.settings->'embed_origins') = 'array' \
                      THEN o.settings->'embed_origins' ELSE '[]'::jsonb END)), '{}') \
             FROM recipients r JOIN organizations o ON o.id = r.organization_id \
             WHERE r.view_ticket_hash = $1",
            &[&ticket_hash],
        )
        .await?
        .map(|row| row.get::<_, Vec<String>>(0))
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
        client: &impl deadpool_postgres::GenericClient,
        envelope: &Envelope,
    ) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            sender: sender_name(client, envelope.user_id).await?,
            organization: organization_name(client, envelope.organization_id).await?,
        })
    }
}

/// The document's status and displayed page sizes (rotation applied).
#[tracing::instrument(skip_all, fields(document = %document))]
pub async fn document_facts(
    client: &impl deadpool_postgres::GenericClient,
    document: Uuid,
) -> PgResult<gsign_core::envelopes::DocumentFacts> {
    let row = client
        .query_one(
            "SELECT status, pages, signatures, certification FROM documents WHERE id = $1",
            &[&document],
        )
        .await?;
    let pages: Option<serde_json::Value> = row.get(1);
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
        status: db::stored(&row, "status")?,
        pages,
        signatures: row.get(2),
        certification: row.get(3),
    })
}

/// Takes the signing lease of the organization's envelope `id` until `seconds` from now, if
/// no other job holds it (or its holder's lease expired); whether it was taken.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn take_signing_lease(
    client: &impl GenericClient,
    org: Uuid,
    id: Uuid,
    seconds: f64,
) -> PgResult<bool> {
    Ok(client
        .execute(
            "UPDATE envelopes SET signing_lease_until = now() + make_interval(secs => $3) \
             WHERE organization_id = $1 AND id = $2 \
             AND (signing_lease_until IS NULL OR signing_lease_until < now())",
            &[&org, &id, &seconds],
        )
        .await?
        == 1)
}

/// Gives the signing lease of envelope `id` back.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn release_signing_lease(client: &impl GenericClient, id: Uuid) -> PgResult<()> {
    client
        .execute(
            "UPDATE envelopes SET signing_lease_until = NULL WHERE id = $1",
            &[&id],
        )
        .await?;
    Ok(())
}
