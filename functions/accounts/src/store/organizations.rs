//! The `organizations` table: the tenant's name, slug, status and settings.

use chrono::{DateTime, Utc};
use gsign_platform::database::{DbError, Row, Session};
use gsign_platform::params;
use serde_json::Value;
use uuid::Uuid;

/// An organization as stored (its plan is billing's: see `gsign_platform::billing`).
#[derive(Debug, Clone)]
pub struct Organization {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Unique slug.
    pub slug: String,
    /// `active`, `suspended`, `closed`.
    pub status: String,
    /// Settings (a JSON object).
    pub settings: Value,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl TryFrom<&Row> for Organization {
    type Error = DbError;
    fn try_from(row: &Row) -> Result<Self, DbError> {
        Ok(Self {
            id: row.get("id")?,
            name: row.get("name")?,
            slug: row.get("slug")?,
            status: row.get("status")?,
            settings: row.get("settings")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// Creates an organization; its id.
#[tracing::instrument(skip_all)]
pub async fn insert(
    client: &(impl Session + ?Sized),
    name: &str,
    slug: &str,
) -> Result<Uuid, DbError> {
    client
        .fetch_one(
            "INSERT INTO organizations (name, slug) VALUES (:name, :slug) RETURNING id",
            params!(name, slug),
        )
        .await?
        .get("id")
}

/// The organization `org`.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn get(
    client: &(impl Session + ?Sized),
    org: Uuid,
) -> Result<Option<Organization>, DbError> {
    client
        .fetch_optional(
            "SELECT id, name, slug, status, settings, created_at FROM organizations \
             WHERE id = :org",
            params!(org),
        )
        .await?
        .as_ref()
        .map(Organization::try_from)
        .transpose()
}

/// The name of organization `org`.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn name(client: &(impl Session + ?Sized), org: Uuid) -> Result<String, DbError> {
    client
        .fetch_one(
            "SELECT name FROM organizations WHERE id = :org",
            params!(org),
        )
        .await?
        .get("name")
}

/// Sets the name and settings given (`None` keeps what is there).
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn update(
    client: &(impl Session + ?Sized),
    org: Uuid,
    name: Option<&str>,
    settings: Option<&Value>,
) -> Result<u64, DbError> {
    client
        .run(
            "UPDATE organizations SET name = COALESCE(:name::text, name), \
             settings = COALESCE(:settings::jsonb, settings) WHERE id = :org",
            params!(org, name, settings = settings.cloned()),
        )
        .await
}
