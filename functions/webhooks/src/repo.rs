//! The `webhook_endpoints` and `webhook_secrets` tables.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde::Serialize;
use uuid::Uuid;

type PgResult<T> = Result<T, tokio_postgres::Error>;

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

impl From<&tokio_postgres::Row> for Endpoint {
    fn from(row: &tokio_postgres::Row) -> Self {
        Self {
            id: row.get("id"),
            organization_id: row.get("organization_id"),
            url: row.get("url"),
            description: row.get("description"),
            event_types: row.get("event_types"),
            active: row.get("active"),
            disabled_reason: row.get("disabled_reason"),
            disabled_at: row.get("disabled_at"),
            failing_since: row.get("failing_since"),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
        }
    }
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
    client: &impl GenericClient,
    id: Uuid,
    org: Uuid,
    created_by: Option<Uuid>,
    url: &str,
    description: Option<&str>,
    event_types: &[String],
) -> PgResult<Endpoint> {
    let row = client
        .query_one(
            &format!(
                "INSERT INTO webhook_endpoints (id, organization_id, created_by, url, description, \
                 event_types) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
            ),
            &[&id, &org, &created_by, &url, &description, &event_types],
        )
        .await?;
    Ok(Endpoint::from(&row))
}

/// The live endpoint `id` of `org`; `lock` takes its row lock.
#[tracing::instrument(skip_all, fields(org = %org, id = %id))]
pub async fn get(
    client: &impl GenericClient,
    org: Uuid,
    id: Uuid,
    lock: bool,
) -> PgResult<Option<Endpoint>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM webhook_endpoints WHERE organization_id = $1 AND id = $2 \
         AND deleted_at IS NULL{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    Ok(client
        .query_opt(&sql, &[&org, &id])
        .await?
        .as_ref()
        .map(Endpoint::from))
}

/// One page of the organization's endpoints, newest first.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn list(
    client: &impl GenericClient,
    org: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> PgResult<Vec<Endpoint>> {
    let (after_t, after_id) = after.unzip();
    Ok(client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM webhook_endpoints WHERE organization_id = $1 \
                 AND deleted_at IS NULL \
                 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3)) \
                 ORDER BY created_at DESC, id DESC LIMIT $4"
            ),
            &[&org, &after_t, &after_id, &limit],
        )
        .await?
        .iter()
        .map(Endpoint::from)
        .collect())
}

/// The active endpoints of `org` (the fan-out filters by event type).
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn active(client: &impl GenericClient, org: Uuid) -> PgResult<Vec<Endpoint>> {
    Ok(client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM webhook_endpoints WHERE organization_id = $1 \
                 AND deleted_at IS NULL AND active ORDER BY created_at, id"
            ),
            &[&org],
        )
        .await?
        .iter()
        .map(Endpoint::from)
        .collect())
}

/// Changes to an endpoint (present ones only).
#[derive(Debug, Default)]
pub struct Changes {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// `Some(true)` re-enables (and forgets the failure streak).
    pub active: Option<bool>,
}

/// Applies `changes`.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn update(
    client: &impl GenericClient,
    id: Uuid,
    changes: &Changes,
) -> PgResult<Endpoint> {
    let row = client
        .query_one(
            &format!(
                "UPDATE webhook_endpoints SET url = COALESCE($2, url), \
                 description = COALESCE($3, description), \
                 event_types = COALESCE($4, event_types), \
                 active = COALESCE($5, active), \
                 disabled_reason = CASE WHEN $5 IS TRUE THEN NULL \
                   WHEN $5 IS FALSE THEN 'disabled by a user' ELSE disabled_reason END, \
                 disabled_at = CASE WHEN $5 IS TRUE THEN NULL \
                   WHEN $5 IS FALSE THEN now() ELSE disabled_at END, \
                 failing_since = CASE WHEN $5 IS TRUE THEN NULL ELSE failing_since END \
                 WHERE id = $1 RETURNING {COLUMNS}"
            ),
            &[
                &id,
                &changes.url,
                &changes.description,
                &changes.event_types,
                &changes.active,
            ],
        )
        .await?;
    Ok(Endpoint::from(&row))
}

/// Deletes an endpoint (soft: its deliveries stay in the log).
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn delete(client: &impl GenericClient, id: Uuid) -> PgResult<()> {
    client
        .execute(
            "UPDATE webhook_endpoints SET deleted_at = now(), active = false, \
             disabled_reason = 'deleted', disabled_at = now() WHERE id = $1",
            &[&id],
        )
        .await?;
    Ok(())
}

/// Stores a new current secret.
#[tracing::instrument(skip_all, fields(endpoint = %endpoint))]
pub async fn add_secret(
    client: &impl GenericClient,
    endpoint: Uuid,
    ciphertext: &[u8],
) -> PgResult<()> {
    client
        .execute(
            "INSERT INTO webhook_secrets (endpoint_id, ciphertext) VALUES ($1, $2)",
            &[&endpoint, &ciphertext],
        )
        .await?;
    Ok(())
}

/// Rotation: the current secret keeps signing until `until`, older ones stop now (so at most
/// two are active).
#[tracing::instrument(skip_all, fields(endpoint = %endpoint))]
pub async fn retire_secrets(
    client: &impl GenericClient,
    endpoint: Uuid,
    until: DateTime<Utc>,
) -> PgResult<()> {
    client
        .execute(
            "UPDATE webhook_secrets SET expires_at = CASE WHEN expires_at IS NULL THEN $2 \
             ELSE LEAST(expires_at, now()) END WHERE endpoint_id = $1 \
             AND (expires_at IS NULL OR expires_at > now())",
            &[&endpoint, &until],
        )
        .await?;
    Ok(())
}

/// The ciphertexts of the secrets that sign now, newest first.
#[tracing::instrument(skip_all, fields(endpoint = %endpoint))]
pub async fn active_secrets(client: &impl GenericClient, endpoint: Uuid) -> PgResult<Vec<Vec<u8>>> {
    Ok(client
        .query(
            "SELECT ciphertext FROM webhook_secrets WHERE endpoint_id = $1 \
             AND (expires_at IS NULL OR expires_at > now()) ORDER BY created_at DESC LIMIT 2",
            &[&endpoint],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect())
}

/// An attempt succeeded: the failure streak ends.
#[tracing::instrument(skip_all, fields(endpoint = %endpoint))]
pub async fn succeeded(client: &impl GenericClient, endpoint: Uuid) -> PgResult<()> {
    client
        .execute(
            "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL",
            &[&endpoint],
        )
        .await?;
    Ok(())
}

/// An attempt failed: the streak starts (if it had not) and the endpoint is disabled once it
/// has lasted `disable_after`; whether this call disabled it.
#[tracing::instrument(skip_all, fields(endpoint = %endpoint))]
pub async fn failed(
    client: &impl GenericClient,
    endpoint: Uuid,
    disable_after_seconds: f64,
) -> PgResult<bool> {
    client
        .execute(
            "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, now()) WHERE id = $1",
            &[&endpoint],
        )
        .await?;
    Ok(client
        .execute(
            "UPDATE webhook_endpoints SET active = false, disabled_at = now(), \
             disabled_reason = 'every delivery failed for ' || \
               round($2 / 3600)::text || ' hours' \
             WHERE id = $1 AND active AND failing_since < now() - make_interval(secs => $2)",
            &[&endpoint, &disable_after_seconds],
        )
        .await?
        == 1)
}

/// The receiver answered 410 Gone: disabled at once.
#[tracing::instrument(skip_all, fields(endpoint = %endpoint))]
pub async fn gone(client: &impl GenericClient, endpoint: Uuid) -> PgResult<bool> {
    Ok(client
        .execute(
            "UPDATE webhook_endpoints SET active = false, disabled_at = now(), \
             disabled_reason = 'the receiver answered 410 Gone' WHERE id = $1 AND active",
            &[&endpoint],
        )
        .await?
        == 1)
}

/// The addresses of the organization's owners and admins (told when an endpoint is disabled).
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn admin_emails(client: &impl GenericClient, org: Uuid) -> PgResult<Vec<String>> {
    Ok(client
        .query(
            "SELECT email FROM users WHERE organization_id = $1 AND role IN ('owner', 'admin') \
             AND status = 'active'",
            &[&org],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect())
}
