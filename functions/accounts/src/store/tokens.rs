//! The `account_tokens` table: the single-use tokens mailed in links (address verification,
//! password reset, invitation), kept as hashes.

use gsign_platform::database::{DbError, Session};
use gsign_platform::params;
use uuid::Uuid;

/// What a mailed token is for, and how long it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Confirms an address: 24 hours.
    VerifyEmail,
    /// Sets a new password: 1 hour.
    PasswordReset,
    /// Joins an organization: 7 days.
    Invitation,
}

impl Purpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::PasswordReset => "password_reset",
            Purpose::Invitation => "invitation",
        }
    }

    /// How long a token lasts, in hours.
    pub fn lifetime_hours(self) -> i32 {
        match self {
            Purpose::VerifyEmail => 24,
            Purpose::PasswordReset => 1,
            Purpose::Invitation => 7 * 24,
        }
    }
}

/// Stores a new token of `purpose` for `user` of `org` by its hash.
#[tracing::instrument(skip_all, fields(user = %user, purpose = purpose.as_str()))]
pub async fn insert(
    tx: &(impl Session + ?Sized),
    purpose: Purpose,
    user: Uuid,
    org: Uuid,
    hash: &str,
) -> Result<(), DbError> {
    tx.run(
        "INSERT INTO account_tokens (purpose, user_id, organization_id, token_hash, expires_at)
         VALUES (:purpose, :user, :org, :hash, now() + make_interval(hours => :hours::int))",
        params!(
            purpose = purpose.as_str(),
            user,
            org,
            hash,
            hours = purpose.lifetime_hours(),
        ),
    )
    .await?;
    Ok(())
}

/// Uses up the live token of `purpose` hashing to `hash`: its user, organization and the
/// user's address, or `None` when it is unknown, used or expired.
#[tracing::instrument(skip_all, fields(purpose = purpose.as_str()))]
pub async fn consume(
    tx: &(impl Session + ?Sized),
    purpose: Purpose,
    hash: &str,
) -> Result<Option<(Uuid, Uuid, String)>, DbError> {
    tx.fetch_optional(
        "UPDATE account_tokens t SET used_at = now()
           FROM users u
          WHERE t.token_hash = :hash AND t.purpose = :purpose AND t.used_at IS NULL
            AND t.expires_at > now() AND u.id = t.user_id
      RETURNING t.user_id, t.organization_id, u.email",
        params!(hash, purpose = purpose.as_str()),
    )
    .await?
    .map(|r| {
        Ok((
            r.get("user_id")?,
            r.get("organization_id")?,
            r.get("email")?,
        ))
    })
    .transpose()
}

/// Whether a token of `purpose` went to `user` in the last `minutes`.
#[tracing::instrument(skip_all, fields(user = %user, purpose = purpose.as_str()))]
pub async fn sent_within(
    tx: &(impl Session + ?Sized),
    user: Uuid,
    purpose: Purpose,
    minutes: i32,
) -> Result<bool, DbError> {
    tx.fetch_one(
        "SELECT EXISTS (SELECT 1 FROM account_tokens WHERE user_id = :user AND purpose = :purpose
                           AND created_at > now() - make_interval(mins => :minutes::int)) AS recent",
        params!(user, purpose = purpose.as_str(), minutes),
    )
    .await?
    .get("recent")
}

/// Uses up every live token of `user` (a removed member's links stop working).
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn void_all_of(tx: &(impl Session + ?Sized), user: Uuid) -> Result<(), DbError> {
    tx.run(
        "UPDATE account_tokens SET used_at = now() WHERE user_id = :user AND used_at IS NULL",
        params!(user),
    )
    .await?;
    Ok(())
}
