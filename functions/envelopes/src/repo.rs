//! The `envelopes`, `recipients`, `signature_fields` and `envelope_events` tables.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use gsign_core::envelopes::{
    ChainedEvent, EvidenceEvent, FieldFacts, FieldType, NewRecipient, RecipientFacts,
    RecipientRole, GENESIS_HASH,
};
use serde::Serialize;
use uuid::Uuid;

type PgResult<T> = Result<T, tokio_postgres::Error>;

/// An envelope row.
#[derive(Debug, Clone, Serialize)]
pub struct Envelope {
    pub id: Uuid,
    #[serde(skip)]
    pub organization_id: Uuid,
    /// The sending person, if a person sent it.
    #[serde(skip)]
    pub user_id: Option<Uuid>,
    pub document_id: Uuid,
    pub name: Option<String>,
    pub subject: Option<String>,
    pub message: Option<String>,
    pub status: String,
    pub routing_type: String,
    pub current_routing_order: Option<i32>,
    pub expires_at: Option<DateTime<Utc>>,
    pub reminder_enabled: bool,
    pub reminder_interval_days: i32,
    pub reminder_max: i32,
    pub signature_level: String,
    pub sent_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub voided_at: Option<DateTime<Utc>>,
    pub void_reason: Option<String>,
    pub declined_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The current revision in S3 (sent envelopes).
    #[serde(skip)]
    pub current_s3_key: Option<String>,
    #[serde(skip)]
    pub current_s3_version_id: Option<String>,
    /// SHA-256 of the current revision.
    pub current_sha256: Option<String>,
}

const ENVELOPE_COLUMNS: &str =
    "id, organization_id, user_id, document_id, name, subject, message, status, \
    routing_type, current_routing_order, expires_at, reminder_enabled, reminder_interval_days, \
    reminder_max, signature_level, sent_at, completed_at, voided_at, void_reason, declined_at, \
    created_at, updated_at, current_s3_key, current_s3_version_id, current_sha256";

impl From<&tokio_postgres::Row> for Envelope {
    fn from(row: &tokio_postgres::Row) -> Self {
        Self {
            id: row.get("id"),
            organization_id: row.get("organization_id"),
            user_id: row.get("user_id"),
            document_id: row.get("document_id"),
            name: row.get("name"),
            subject: row.get("subject"),
            message: row.get("message"),
            status: row.get("status"),
            routing_type: row.get("routing_type"),
            current_routing_order: row.get("current_routing_order"),
            expires_at: row.get("expires_at"),
            reminder_enabled: row.get("reminder_enabled"),
            reminder_interval_days: row.get("reminder_interval_days"),
            reminder_max: row.get("reminder_max"),
            signature_level: row.get("signature_level"),
            sent_at: row.get("sent_at"),
            completed_at: row.get("completed_at"),
            voided_at: row.get("voided_at"),
            void_reason: row.get("void_reason"),
            declined_at: row.get("declined_at"),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
            current_s3_key: row.get("current_s3_key"),
            current_s3_version_id: row.get("current_s3_version_id"),
            current_sha256: row.get("current_sha256"),
        }
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
}

/// Whether `document` is a live document of `org`.
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
                 reminder_interval_days, reminder_max, signature_level) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($8, 'sequential'), $9, \
                 COALESCE($10, true), COALESCE($11, 3), COALESCE($12, 3), COALESCE($13, 'b_t')) \
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
            ],
        )
        .await?;
    Ok(Envelope::from(&row))
}

/// The envelope `id` of `org`; `lock` takes its row lock (every change to an envelope and
/// its evidence chain holds it).
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
    Ok(client
        .query_opt(&sql, &[&org, &id])
        .await?
        .as_ref()
        .map(Envelope::from))
}

/// Applies `values` (present ones only) to a draft.
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
                 signature_level = COALESCE($10, signature_level) \
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
            ],
        )
        .await?;
    Ok(Envelope::from(&row))
}

/// Deletes a draft with its recipients, fields and evidence.
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
}

/// One page of the organization's envelopes, newest first.
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
                 ORDER BY created_at DESC, id DESC LIMIT $6"
            ),
            &[
                &org,
                &filter.status,
                &filter.document_id,
                &after_t,
                &after_id,
                &limit,
            ],
        )
        .await?;
    Ok(rows.iter().map(Envelope::from).collect())
}

/// A recipient row (secrets excluded).
#[derive(Debug, Clone, Serialize)]
pub struct Recipient {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: String,
    pub routing_order: i32,
    pub status: String,
    pub auth_method: String,
    pub viewed_at: Option<DateTime<Utc>>,
    pub signed_at: Option<DateTime<Utc>>,
    pub declined_at: Option<DateTime<Utc>>,
    pub decline_reason: Option<String>,
    pub notified_at: Option<DateTime<Utc>>,
    pub reminders_sent: i32,
    pub created_at: DateTime<Utc>,
}

const RECIPIENT_COLUMNS: &str = "id, email, name, role, routing_order, status, auth_method, \
    viewed_at, signed_at, declined_at, decline_reason, notified_at, reminders_sent, created_at";

impl From<&tokio_postgres::Row> for Recipient {
    fn from(row: &tokio_postgres::Row) -> Self {
        Self {
            id: row.get("id"),
            email: row.get("email"),
            name: row.get("name"),
            role: row.get("role"),
            routing_order: row.get("routing_order"),
            status: row.get("status"),
            auth_method: row.get("auth_method"),
            viewed_at: row.get("viewed_at"),
            signed_at: row.get("signed_at"),
            declined_at: row.get("declined_at"),
            decline_reason: row.get("decline_reason"),
            notified_at: row.get("notified_at"),
            reminders_sent: row.get("reminders_sent"),
            created_at: row.get("created_at"),
        }
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

    /// What send validation needs.
    pub fn facts(&self) -> Option<RecipientFacts> {
        Some(RecipientFacts {
            id: self.id,
            role: RecipientRole::parse(&self.role)?,
            routing_order: self.routing_order,
        })
    }
}

/// The envelope's recipients, by routing order.
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
    Ok(rows.iter().map(Recipient::from).collect())
}

/// Adds a recipient; `code_hash` is the access code's Argon2id hash when one is required.
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
                 routing_order, auth_method, access_code_hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {RECIPIENT_COLUMNS}"
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
            ],
        )
        .await?;
    Ok(Recipient::from(&row))
}

/// Replaces a recipient's values.
pub async fn update_recipient(
    client: &impl GenericClient,
    envelope: Uuid,
    id: Uuid,
    new: &NewRecipient,
    code_hash: Option<&str>,
) -> PgResult<Option<Recipient>> {
    Ok(client
        .query_opt(
            &format!(
                "UPDATE recipients SET email = $3, name = $4, role = $5, routing_order = $6, \
                 auth_method = $7, access_code_hash = $8 WHERE envelope_id = $1 AND id = $2 \
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
            ],
        )
        .await?
        .as_ref()
        .map(Recipient::from))
}

/// Removes a recipient (and their fields); whether there was one.
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
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    pub id: Uuid,
    pub recipient_id: Uuid,
    #[serde(rename = "type")]
    pub field_type: String,
    pub label: Option<String>,
    pub page: i32,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub required: bool,
    pub value: Option<String>,
    pub signed_at: Option<DateTime<Utc>>,
}

impl Field {
    /// What send validation needs.
    pub fn facts(&self) -> Option<FieldFacts> {
        Some(FieldFacts {
            id: self.id,
            recipient_id: self.recipient_id,
            field_type: FieldType::parse(&self.field_type)?,
            page: self.page,
            x: self.x,
            y: self.y,
            width: self.width,
            height: self.height,
        })
    }
}

/// The envelope's fields.
pub async fn fields(client: &impl GenericClient, envelope: Uuid) -> PgResult<Vec<Field>> {
    let rows = client
        .query(
            "SELECT id, recipient_id, type, label, page_number, x::float8 AS x, y::float8 AS y, \
             width::float8 AS width, height::float8 AS height, required, value, signed_at \
             FROM signature_fields WHERE envelope_id = $1 ORDER BY page_number, y, x, id",
            &[&envelope],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| Field {
            id: row.get("id"),
            recipient_id: row.get("recipient_id"),
            field_type: row.get("type"),
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
        .collect())
}

/// Replaces every field of a draft.
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

/// Appends an evidence event to the envelope's chain (the caller holds the envelope's row
/// lock, so sequences and links are never raced).
pub async fn record(
    client: &impl GenericClient,
    org: Uuid,
    mut event: EvidenceEvent,
) -> PgResult<ChainedEvent> {
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
    Ok(ChainedEvent {
        event,
        previous_hash,
        hash,
    })
}

/// The envelope's evidence, in order.
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
    Ok(Envelope::from(&row))
}

/// Records that a recipient was asked to act, with the hash of their signing token.
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
    pub role: String,
    pub routing_order: i32,
    pub status: String,
    pub auth_method: String,
    pub access_code_hash: Option<String>,
    pub access_code_failures: i32,
    pub locked_until: Option<DateTime<Utc>>,
    pub access_verified_until: Option<DateTime<Utc>>,
    pub consented_at: Option<DateTime<Utc>>,
    pub viewed_at: Option<DateTime<Utc>>,
}

/// The recipient whose signing token hashes to `token_hash`.
pub async fn recipient_by_token(
    client: &impl GenericClient,
    token_hash: &str,
) -> PgResult<Option<CeremonyRecipient>> {
    Ok(client
        .query_opt(
            "SELECT id, organization_id, envelope_id, name, email, role, routing_order, status, \
             auth_method, access_code_hash, access_code_failures, locked_until, \
             access_verified_until, consented_at, viewed_at \
             FROM recipients WHERE signing_token_hash = $1",
            &[&token_hash],
        )
        .await?
        .map(|row| CeremonyRecipient {
            id: row.get("id"),
            organization_id: row.get("organization_id"),
            envelope_id: row.get("envelope_id"),
            name: row.get("name"),
            email: row.get("email"),
            role: row.get("role"),
            routing_order: row.get("routing_order"),
            status: row.get("status"),
            auth_method: row.get("auth_method"),
            access_code_hash: row.get("access_code_hash"),
            access_code_failures: row.get("access_code_failures"),
            locked_until: row.get("locked_until"),
            access_verified_until: row.get("access_verified_until"),
            consented_at: row.get("consented_at"),
            viewed_at: row.get("viewed_at"),
        }))
}

/// First view of the signing page.
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

/// A wrong access code.
pub async fn code_refused(
    client: &impl GenericClient,
    recipient: Uuid,
    failures: i32,
    locked_until: Option<DateTime<Utc>>,
) -> PgResult<()> {
    client
        .execute(
            "UPDATE recipients SET access_code_failures = CASE WHEN $3::timestamptz IS NULL \
             THEN $2 ELSE 0 END, locked_until = $3 WHERE id = $1",
            &[&recipient, &failures, &locked_until],
        )
        .await?;
    Ok(())
}

/// Electronic-records consent given.
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
    Ok(Envelope::from(&row))
}

/// Counts one more reminder for `recipient` unless `max` were sent; the new count.
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
