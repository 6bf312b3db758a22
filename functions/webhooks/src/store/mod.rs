//! The `webhook_endpoints` and `webhook_secrets` tables, on the database port (either
//! backend: named parameters, lists passed as JSON).
//!
//! The delivery log in DynamoDB is `delivery_log`.

pub mod delivery_log;

use chrono::{DateTime, Utc};
use gsign_platform::database::{json_list, DbError, Row, Session};
use gsign_platform::params;
use serde::Serialize;
use uuid::Uuid;

type DbResult<T> = Result<T, DbError>;

/// A webhook endpoint.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "Webhook")]
pub struct Endpoint {
    /// The endpoint's id.
    pub id: Uuid,
    #[serde(skip)]
    pub organization_id: Uuid,
    /// Where deliveries are POSTed.
    pub url: String,
    /// A note for people.
    pub description: Option<String>,
    /// The event types delivered (e.g. `envelope.completed`); empty: every event type.
    pub event_types: Vec<String>,
    /// Whether events are delivered; `false` once paused, deleted or disabled after failures.
    pub active: bool,
    /// Why it is not active.
    pub disabled_reason: Option<String>,
    /// When it stopped being active.
    pub disabled_at: Option<DateTime<Utc>>,
    /// The first failed attempt since the last success.
    pub failing_since: Option<DateTime<Utc>>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, organization_id, url, description, event_types, active, \
    disabled_reason, disabled_at, failing_since, created_at, updated_at";

impl TryFrom<&Row> for Endpoint {
    type Error = DbError;
    fn try_from(row: &Row) -> DbResult<Self> {
        Ok(Self {
            id: row.get("id")?,
            organization_id: row.get("organization_id")?,
            url: row.get("url")?,
            description: row.get("description")?,
            event_types: row.get("event_types")?,
            active: row.get("active")?,
            disabled_reason: row.get("disabled_reason")?,
            disabled_at: row.get("disabled_at")?,
            failing_since: row.get("failing_since")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

fn endpoints(rows: Vec<Row>) -> DbResult<Vec<Endpoint>> {
    rows.iter().map(Endpoint::try_from).collect()
}

impl Endpoint {
    /// Whether this endpoint wants events of `event_type`.
    pub fn subscribes_to(&self, event_type: &str) -> bool {
        self.event_types.is_empty() || self.event_types.iter().any(|t| t == event_type)
    }
}

/// Inserts an endpoint.
#[tracing::instrument(skip_all, fields(id = %id, org = %org))]
pub async fn insert(
    db: &(impl Session + ?Sized),
    id: Uuid,
    org: Uuid,
    created_by: Option<Uuid>,
    url: &str,
    description: Option<&str>,
    event_types: &[String],
) -> DbResult<Endpoint> {
    let row = db
        .fetch_one(
            &format!(
                "INSERT INTO webhook_endpoints (id, organization_id, created_by, url, description, \
                 event_types) VALUES (:id, :org, :created_by, :url, :description, \
                 ARRAY(SELECT jsonb_array_elements_text(:event_types::jsonb))) RETURNING {COLUMNS}"
            ),
            params!(
                id,
                org,
                created_by,
                url,
                description,
                event_types = json_list(event_types)
            ),
        )
        .await?;
    Endpoint::try_from(&row)
}

/// The live endpoint `id` of `org`; `lock` takes its row lock.
#[tracing::instrument(skip_all, fields(org = %org, id = %id))]
pub async fn get(
    db: &(impl Session + ?Sized),
    org: Uuid,
    id: Uuid,
    lock: bool,
) -> DbResult<Option<Endpoint>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM webhook_endpoints WHERE organization_id = :org AND id = :id \
         AND deleted_at IS NULL{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    db.fetch_optional(&sql, params!(org, id))
        .await?
        .as_ref()
        .map(Endpoint::try_from)
        .transpose()
}

/// One page of the organization's endpoints, newest first.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn list(
    db: &(impl Session + ?Sized),
    org: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> DbResult<Vec<Endpoint>> {
    let (after_t, after_id) = after.unzip();
    endpoints(
        db.fetch_all(
            &format!(
                "SELECT {COLUMNS} FROM webhook_endpoints WHERE organization_id = :org \
                 AND deleted_at IS NULL \
                 AND (:after_t::timestamptz IS NULL \
                      OR (created_at, id) < (:after_t::timestamptz, :after_id::uuid)) \
                 ORDER BY created_at DESC, id DESC LIMIT :limit"
            ),
            params!(org, after_t, after_id, limit),
        )
        .await?,
    )
}

/// The active endpoints of `org` (the fan-out filters by event type).
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn active(db: &(impl Session + ?Sized), org: Uuid) -> DbResult<Vec<Endpoint>> {
    endpoints(
        db.fetch_all(
            &format!(
                "SELECT {COLUMNS} FROM webhook_endpoints WHERE organization_id = :org \
                 AND deleted_at IS NULL AND active ORDER BY created_at, id"
            ),
            params!(org),
        )
        .await?,
    )
}

/// Changes to an endpoint (present ones only).
#[derive(Debug, Default)]
pub struct Changes {
    pub url: Option<String>,
    /// `Some(None)` removes the note.
    pub description: Option<Option<String>>,
    pub event_types: Option<Vec<String>>,
    /// `Some(true)` re-enables (and forgets the failure streak).
    pub active: Option<bool>,
}

/// Applies `changes`.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn update(
    db: &(impl Session + ?Sized),
    id: Uuid,
    changes: &Changes,
) -> DbResult<Endpoint> {
    let row = db
        .fetch_one(
            &format!(
                "UPDATE webhook_endpoints SET url = COALESCE(:url::text, url), \
                 description = CASE WHEN :clear_description::boolean THEN NULL \
                   ELSE COALESCE(:description::text, description) END, \
                 event_types = CASE WHEN :event_types::jsonb IS NULL THEN event_types \
                   ELSE ARRAY(SELECT jsonb_array_elements_text(:event_types::jsonb)) END, \
                 active = COALESCE(:active::boolean, active), \
                 disabled_reason = CASE WHEN :active::boolean IS TRUE THEN NULL \
                   WHEN :active::boolean IS FALSE THEN 'disabled by a user' \
                   ELSE disabled_reason END, \
                 disabled_at = CASE WHEN :active::boolean IS TRUE THEN NULL \
                   WHEN :active::boolean IS FALSE THEN now() ELSE disabled_at END, \
                 failing_since = CASE WHEN :active::boolean IS TRUE THEN NULL \
                   ELSE failing_since END \
                 WHERE id = :id RETURNING {COLUMNS}"
            ),
            params!(
                id,
                url = changes.url,
                description = changes.description.clone().flatten(),
                clear_description = changes.description == Some(None),
                event_types = changes.event_types.as_deref().map(json_list),
                active = changes.active,
            ),
        )
        .await?;
    Endpoint::try_from(&row)
}

/// Deletes an endpoint (soft: its deliveries stay in the log).
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn delete(db: &(impl Session + ?Sized), id: Uuid) -> DbResult<()> {
    db.run(
        "UPDATE webhook_endpoints SET deleted_at = now(), active = false, \
         disabled_reason = 'deleted', disabled_at = now() WHERE id = :id",
        params!(id),
    )
    .await?;
    Ok(())
}

/// Stores a new current secret.
#[tracing::instrument(skip_all, fields(endpoint = %endpoint))]
pub async fn add_secret(
    db: &(impl Session + ?Sized),
    endpoint: Uuid,
    ciphertext: &[u8],
) -> DbResult<()> {
    db.run(
        "INSERT INTO webhook_secrets (endpoint_id, ciphertext) VALUES (:endpoint, :ciphertext)",
        params!(endpoint, ciphertext),
    )
    .await?;
    Ok(())
}

/// Rotation: the current secret keeps signing until `until`, older ones stop now (so at most
/// two are active).
#[tracing::instrument(skip_all, fields(endpoint = %endpoint))]
pub async fn retire_secrets(
    db: &(impl Session + ?Sized),
    endpoint: Uuid,
    until: DateTime<Utc>,
) -> DbResult<()> {
    db.run(
        "UPDATE webhook_secrets SET expires_at = CASE WHEN expires_at IS NULL THEN :until \
         ELSE LEAST(expires_at, now()) END WHERE endpoint_id = :endpoint \
         AND (expires_at IS NULL OR expires_at > now())",
        params!(endpoint, until),
    )
    .await?;
    Ok(())
}

/// The ciphertexts of the secrets that sign now, newest first.
#[tracing::instrument(skip_all, fields(endpoint = %endpoint))]
pub async fn active_secrets(
    db: &(impl Session + ?Sized),
    endpoint: Uuid,
) -> DbResult<Vec<Vec<u8>>> {
    db.fetch_all(
        "SELECT ciphertext FROM webhook_secrets WHERE endpoint_id = :endpoint \
         AND (expires_at IS NULL OR expires_at > now()) ORDER BY created_at DESC LIMIT 2",
        params!(endpoint),
    )
    .await?
    .iter()
    .map(|row| row.get("ciphertext"))
    .collect()
}

/// An attempt succeeded: the failure streak ends.
#[tracing::instrument(skip_all, fields(endpoint = %endpoint))]
pub async fn succeeded(db: &(impl Session + ?Sized), endpoint: Uuid) -> DbResult<()> {
    db.run(
        "UPDATE webhook_endpoints SET failing_since = NULL \
         WHERE id = :endpoint AND failing_since IS NOT NULL",
        params!(endpoint),
    )
    .await?;
    Ok(())
}

/// An attempt failed: the streak starts (if it had not) and the endpoint is disabled once it
/// has lasted `disable_after`; whether this call disabled it.
#[tracing::instrument(skip_all, fields(endpoint = %endpoint))]
pub async fn failed(
    db: &(impl Session + ?Sized),
    endpoint: Uuid,
    disable_after_seconds: f64,
) -> DbResult<bool> {
    db.run(
        "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, now()) \
         WHERE id = :endpoint",
        params!(endpoint),
    )
    .await?;
    Ok(db
        .run(
            "UPDATE webhook_endpoints SET active = false, disabled_at = now(), \
             disabled_reason = 'every delivery failed for ' || \
               round(:seconds / 3600)::text || ' hours' \
             WHERE id = :endpoint AND active \
               AND failing_since < now() - make_interval(secs => :seconds)",
            params!(endpoint, seconds = disable_after_seconds),
        )
        .await?
        == 1)
}

/// The receiver answered 410 Gone: disabled at once.
#[tracing::instrument(skip_all, fields(endpoint = %endpoint))]
pub async fn gone(db: &(impl Session + ?Sized), endpoint: Uuid) -> DbResult<bool> {
    Ok(db
        .run(
            "UPDATE webhook_endpoints SET active = false, disabled_at = now(), \
             disabled_reason = 'the receiver answered 410 Gone' WHERE id = :endpoint AND active",
            params!(endpoint),
        )
        .await?
        == 1)
}

/// The addresses of the organization's owners and admins (told when an endpoint is disabled).
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn admin_emails(db: &(impl Session + ?Sized), org: Uuid) -> DbResult<Vec<String>> {
    db.fetch_all(
        "SELECT email FROM users WHERE organization_id = :org AND role IN ('owner', 'admin') \
         AND status = 'active'",
        params!(org),
    )
    .await?
    .iter()
    .map(|row| row.get("email"))
    .collect()
}
