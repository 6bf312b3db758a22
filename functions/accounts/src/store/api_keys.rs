//! The `api_keys` table: keys by prefix and hash (the key itself is never stored), the role
//! and scopes each acts with, and who made it.

use chrono::{DateTime, Utc};
use gsign_core::{Role, Scope};
use gsign_platform::database::{json_list, DbError, Row, Session};
use gsign_platform::params;
use serde::Serialize;
use uuid::Uuid;

/// An API key (never the key itself, except once in the creation answer).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct KeyView {
    /// The key's id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// The key's first characters, to recognise it.
    pub prefix: String,
    /// The role it was made with (its creator's then).
    pub role: Role,
    /// What it may do.
    #[schemars(with = "Vec<Scope>")]
    pub scopes: Vec<String>,
    /// When it was last used.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it stops working (`null`: never).
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked (`null`: it was not).
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// The member who created the key; it lives only while they are an active member.
    pub created_by: Option<KeyCreator>,
    /// Only in the creation response: the whole key, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// Who created an API key.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct KeyCreator {
    /// The member's id.
    id: Uuid,
    /// Their email address.
    email: Option<String>,
}

impl TryFrom<&Row> for KeyView {
    type Error = DbError;
    fn try_from(row: &Row) -> Result<Self, DbError> {
        let created_by = match row.get::<Option<Uuid>>("created_by")? {
            Some(id) => Some(KeyCreator {
                id,
                email: row.get("created_by_email")?,
            }),
            None => None,
        };
        Ok(Self {
            id: row.get("id")?,
            name: row.get("name")?,
            prefix: row.get("prefix")?,
            role: row.stored("role")?,
            scopes: row.get("scopes")?,
            last_used_at: row.get("last_used_at")?,
            expires_at: row.get("expires_at")?,
            revoked_at: row.get("revoked_at")?,
            created_at: row.get("created_at")?,
            created_by,
            key: None,
        })
    }
}

const KEY_COLUMNS: &str =
    "id, name, prefix, role, scopes, last_used_at, expires_at, revoked_at, created_at, created_by,
     (SELECT email FROM users WHERE users.id = api_keys.created_by) AS created_by_email";

/// The organization's keys, newest first: at most `limit`, after `after` (a key's
/// `(created_at, id)`) when given.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn list(
    client: &(impl Session + ?Sized),
    org: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<KeyView>, DbError> {
    let (after_time, after_id) = after.unzip();
    client
        .fetch_all(
            &format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE organization_id = :org \
                 AND (:after_time::timestamptz IS NULL \
                      OR (created_at, id) < (:after_time::timestamptz, :after_id::uuid)) \
                 ORDER BY created_at DESC, id DESC LIMIT :limit"
            ),
            params!(org, after_time, after_id, limit),
        )
        .await?
        .iter()
        .map(KeyView::try_from)
        .collect()
}

/// A key to store.
pub struct NewKey<'a> {
    /// The organization.
    pub org: Uuid,
    /// Who made it (`None`: another key).
    pub created_by: Option<Uuid>,
    /// Its name.
    pub name: &'a str,
    /// The key's first characters.
    pub prefix: &'a str,
    /// SHA-256 of the whole key, hex.
    pub hash: &'a str,
    /// The role it acts with.
    pub role: Role,
    /// What it may do.
    pub scopes: &'a [String],
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Stores `new`; the key as listed.
#[tracing::instrument(skip_all, fields(org = %new.org))]
pub async fn insert(tx: &(impl Session + ?Sized), new: &NewKey<'_>) -> Result<KeyView, DbError> {
    KeyView::try_from(
        &tx.fetch_one(
            &format!(
                "INSERT INTO api_keys (organization_id, created_by, name, prefix, key_hash, role, scopes, expires_at)
                 VALUES (:org, :user, :name, :prefix, :hash, :role,
                         ARRAY(SELECT jsonb_array_elements_text(:scopes::jsonb)), :expires_at)
                 RETURNING {KEY_COLUMNS}"
            ),
            params!(
                org = new.org,
                user = new.created_by,
                name = new.name,
                prefix = new.prefix,
                hash = new.hash,
                role = new.role.as_str(),
                scopes = json_list(new.scopes),
                expires_at = new.expires_at,
            ),
        )
        .await?,
    )
}

/// Revokes the organization's key `id` (a revoked key keeps its first revocation time); the
/// rows it found (0: no such key).
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn revoke(tx: &(impl Session + ?Sized), org: Uuid, id: Uuid) -> Result<u64, DbError> {
    tx.run(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) \
         WHERE id = :id AND organization_id = :org",
        params!(id, org),
    )
    .await
}

/// Revokes every live key `user` created; how many.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn revoke_created_by(tx: &(impl Session + ?Sized), user: Uuid) -> Result<u64, DbError> {
    tx.run(
        "UPDATE api_keys SET revoked_at = now() WHERE created_by = :user AND revoked_at IS NULL",
        params!(user),
    )
    .await
}

/// A key as the authorizer weighs it.
#[derive(Debug, Clone)]
pub struct Presented {
    /// Its id.
    pub id: Uuid,
    /// Its organization (active: others are not found).
    pub org: Uuid,
    /// SHA-256 of the whole key, hex, to compare in constant time.
    pub key_hash: String,
    /// The role it was made with.
    pub role: Role,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// Not revoked, not expired, and its creator an active member of its organization.
    pub live: bool,
    /// Its creator's role now (`None`: no creator any more).
    pub creator_role: Option<Role>,
}

/// The key of an active organization with `prefix`.
#[tracing::instrument(skip_all)]
pub async fn by_prefix(
    client: &(impl Session + ?Sized),
    prefix: &str,
) -> Result<Option<Presented>, DbError> {
    let Some(row) = client
        .fetch_optional(
            "SELECT k.id, k.organization_id, k.key_hash, k.role, k.scopes,
                    k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
                      AND u.status = 'active' AND u.organization_id = k.organization_id AS live,
                    u.role AS creator_role
               FROM api_keys k JOIN organizations o ON o.id = k.organization_id
               LEFT JOIN users u ON u.id = k.created_by
              WHERE k.prefix = :prefix AND o.status = 'active'",
            params!(prefix),
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(Presented {
        id: row.get("id")?,
        org: row.get("organization_id")?,
        key_hash: row.get("key_hash")?,
        role: row.stored("role")?,
        scopes: row.get("scopes")?,
        live: row.get::<Option<bool>>("live")? == Some(true),
        creator_role: row
            .get::<Option<String>>("creator_role")?
            .map(|_| row.stored("creator_role"))
            .transpose()?,
    }))
}

/// Records that key `id` was used, at most once a minute (a write per request would be
/// wasteful).
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn touch(client: &(impl Session + ?Sized), id: Uuid) -> Result<(), DbError> {
    client
        .run(
            "UPDATE api_keys SET last_used_at = now()
              WHERE id = :id AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
            params!(id),
        )
        .await?;
    Ok(())
}
