//! The `user_sessions` table: one row per refresh token; a session family is every token one
//! sign-in led to (refreshing rotates the row, never the family's expiry).

use chrono::{DateTime, Utc};
use gsign_core::Role;
use gsign_platform::database::{DbError, Session};
use gsign_platform::params;
use uuid::Uuid;

/// A refresh token to store (its hash).
pub struct NewSession<'a> {
    /// The user.
    pub user: Uuid,
    /// Their organization.
    pub org: Uuid,
    /// The family (the sign-in it comes from).
    pub family: Uuid,
    /// SHA-256 of the refresh token, hex.
    pub refresh_token_hash: &'a str,
    /// When the family ends.
    pub expires_at: DateTime<Utc>,
    /// Where the request came from.
    pub ip: Option<std::net::IpAddr>,
    /// Its user agent.
    pub user_agent: Option<&'a str>,
}

/// Stores `new`.
#[tracing::instrument(skip_all, fields(family = %new.family))]
pub async fn insert(tx: &(impl Session + ?Sized), new: &NewSession<'_>) -> Result<(), DbError> {
    tx.run(
        "INSERT INTO user_sessions (user_id, organization_id, family_id, refresh_token_hash, expires_at, ip_address, user_agent)
         VALUES (:user, :org, :family, :hash, :expires_at, :ip::inet, :user_agent)",
        params!(
            user = new.user,
            org = new.org,
            family = new.family,
            hash = new.refresh_token_hash,
            expires_at = new.expires_at,
            ip = new.ip.map(|ip| ip.to_string()),
            user_agent = new.user_agent,
        ),
    )
    .await?;
    Ok(())
}

/// The session a refresh token opens, as a refresh sees it.
#[derive(Debug, Clone)]
pub struct Presented {
    /// The row.
    pub id: Uuid,
    /// The user.
    pub user: Uuid,
    /// Their organization.
    pub org: Uuid,
    /// The family.
    pub family: Uuid,
    /// The token was exchanged before: presenting it again means it was stolen.
    pub reused: bool,
    /// Neither revoked nor expired.
    pub live: bool,
    /// When the family ends.
    pub expires_at: DateTime<Utc>,
    /// The user's role now.
    pub role: Role,
    /// The user is active.
    pub active: bool,
}

/// The session whose refresh token hashes to `hash`, its row locked.
#[tracing::instrument(skip_all)]
pub async fn lock_by_refresh_token(
    tx: &(impl Session + ?Sized),
    hash: &str,
) -> Result<Option<Presented>, DbError> {
    let Some(row) = tx
        .fetch_optional(
            "SELECT s.id, s.user_id, s.organization_id, s.family_id, s.rotated_at IS NOT NULL AS reused,
                    s.revoked_at IS NULL AND s.expires_at > now() AS live, s.expires_at, u.role,
                    u.status = 'active' AS active
               FROM user_sessions s JOIN users u ON u.id = s.user_id
              WHERE s.refresh_token_hash = :hash
              FOR UPDATE OF s",
            params!(hash),
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(Presented {
        id: row.get("id")?,
        user: row.get("user_id")?,
        org: row.get("organization_id")?,
        family: row.get("family_id")?,
        reused: row.get("reused")?,
        live: row.get("live")?,
        expires_at: row.get("expires_at")?,
        role: row.stored("role")?,
        active: row.get("active")?,
    }))
}

/// Marks session row `id` exchanged.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn mark_rotated(tx: &(impl Session + ?Sized), id: Uuid) -> Result<(), DbError> {
    tx.run(
        "UPDATE user_sessions SET rotated_at = now() WHERE id = :id",
        params!(id),
    )
    .await?;
    Ok(())
}

/// Revokes every live row of session family `family`; how many.
#[tracing::instrument(skip_all, fields(family = %family))]
pub async fn revoke_family(tx: &(impl Session + ?Sized), family: Uuid) -> Result<u64, DbError> {
    tx.run(
        "UPDATE user_sessions SET revoked_at = now() WHERE family_id = :family AND revoked_at IS NULL",
        params!(family),
    )
    .await
}

/// Revokes `user`'s session family `family` in organization `org` (a logout); how many rows.
#[tracing::instrument(skip_all, fields(family = %family))]
pub async fn revoke_own_family(
    tx: &(impl Session + ?Sized),
    user: Uuid,
    org: Uuid,
    family: Uuid,
) -> Result<u64, DbError> {
    tx.run(
        "UPDATE user_sessions SET revoked_at = now()
          WHERE family_id = :family AND user_id = :user AND organization_id = :org
            AND revoked_at IS NULL",
        params!(family, user, org),
    )
    .await
}

/// Revokes every live session of `user` but family `keep` (if any); how many rows.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn revoke_all_of(
    tx: &(impl Session + ?Sized),
    user: Uuid,
    keep: Option<Uuid>,
) -> Result<u64, DbError> {
    tx.run(
        "UPDATE user_sessions SET revoked_at = now()
          WHERE user_id = :user AND revoked_at IS NULL
            AND family_id IS DISTINCT FROM :keep::uuid",
        params!(user, keep),
    )
    .await
}
