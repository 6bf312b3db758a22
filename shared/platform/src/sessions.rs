//! Which login sessions are alive, for the authorizer.
//!
//! Postgres (`user_sessions`) is the truth. Redis holds, under the seed's key
//! `session:{user_id}`, a hash of the *active* session families with the user's current role.
//! A hit answers at once; a miss or a Redis failure asks Postgres (and refills Redis when it
//! answers), so losing Redis can never let a revoked session in. Revoking deletes the field
//! after the Postgres commit. A role change, removal or new password bumps
//! `users.session_version` in its transaction and then replaces the whole hash by a marker of
//! that version; a refill carries the version it read, and Redis refuses a refill older than
//! the marker, so a refill racing the change cannot restore the old role. Entries live at
//! most 15 minutes, an access token's lifetime.

use gsign_core::Role;
use redis::AsyncCommands;
use uuid::Uuid;

use crate::cache::Cache;
use crate::database::{Database, Session};
use crate::params;

/// How long a user's session hash lives in Redis: at most an access token's lifetime, so an
/// entry that an invalidation failed to reach dies with the tokens it was trusted for.
const SESSION_KEY_TTL_SECONDS: i64 = 15 * 60;

/// The hash field holding the `users.session_version` the cached roles were read at.
const VERSION_FIELD: &str = "_version";

/// Writes a role read from Postgres at `ARGV[3]` (the user's session version) unless an
/// invalidation already recorded a newer version; an older cached version is wiped first.
const REFILL_SCRIPT: &str = r"
local cached = tonumber(redis.call('HGET', KEYS[1], ARGV[4]) or '-1')
local read = tonumber(ARGV[3])
if cached > read then return 0 end
if cached < read then redis.call('DEL', KEYS[1]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], ARGV[4], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1";

/// Replaces every cached session of the user by the marker of version `ARGV[1]`: refills that
/// read an older version are refused from now on.
const INVALIDATE_SCRIPT: &str = r"
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], ARGV[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1";

/// The Redis key of a user's active sessions.
pub fn session_key(user_id: Uuid) -> String {
    format!("session:{user_id}")
}

/// The role of `user_id` in `organization_id` if session family `family_id` is alive (not
/// revoked, not expired, user active, organization active); `None` otherwise.
#[tracing::instrument(skip_all, fields(user_id = %user_id, organization_id = %organization_id, family_id = %family_id))]
pub async fn active_role(
    cache: &Cache,
    db: &Database,
    user_id: Uuid,
    organization_id: Uuid,
    family_id: Uuid,
) -> anyhow::Result<Option<Role>> {
    let key = session_key(user_id);
    let field = family_id.to_string();
    let cached: Result<Option<String>, redis::RedisError> = cache
        .try_run(|mut conn| async move { conn.hget(&key, &field).await })
        .await;
    let redis_answered = match cached {
        Ok(Some(role)) => {
            if let Ok(role) = role.parse() {
                return Ok(Some(role));
            }
            true
        }
        Ok(None) => true,
        Err(err) => {
            tracing::warn!(error = %err, "Redis unavailable: checking the session in Postgres");
            false
        }
    };
    let row = db
        .connect()
        .await?
        .fetch_optional(
            "SELECT u.role, u.session_version
               FROM user_sessions s JOIN users u ON u.id = s.user_id
               JOIN organizations o ON o.id = u.organization_id
              WHERE s.family_id = :family AND s.user_id = :user AND s.organization_id = :org
                AND s.revoked_at IS NULL AND s.rotated_at IS NULL AND s.expires_at > now()
                AND u.status = 'active' AND u.organization_id = :org AND o.status = 'active'
              LIMIT 1",
            params!(family = family_id, user = user_id, org = organization_id),
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let role: Role = row
        .get::<String>("role")?
        .parse()
        .map_err(|e: String| anyhow::anyhow!(e))?;
    let version: i64 = row.get("session_version")?;
    if redis_answered {
        if let Err(err) = remember(cache, user_id, family_id, role, version).await {
            tracing::warn!(error = %err, "could not cache the session");
        }
    }
    Ok(Some(role))
}

/// Caches `role` for session family `family_id`, as read from Postgres at the user's session
/// `version`; `false` when a newer invalidation refused it (the refill lost a race).
#[tracing::instrument(skip_all, fields(user_id = %user_id, family_id = %family_id))]
pub async fn remember(
    cache: &Cache,
    user_id: Uuid,
    family_id: Uuid,
    role: Role,
    version: i64,
) -> redis::RedisResult<bool> {
    let mut conn = cache.connection().await?;
    let written: i64 = redis::Script::new(REFILL_SCRIPT)
        .key(session_key(user_id))
        .arg(family_id.to_string())
        .arg(role.as_str())
        .arg(version)
        .arg(VERSION_FIELD)
        .arg(SESSION_KEY_TTL_SECONDS)
        .invoke_async(&mut conn)
        .await?;
    Ok(written == 1)
}

/// Marks a change that cached sessions must not outlive (role, removal, password): bumps
/// `users.session_version` in the caller's transaction; after commit, call [`invalidate`]
/// with the version returned.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn bump_version(db: &(impl Session + ?Sized), user_id: Uuid) -> anyhow::Result<i64> {
    Ok(db
        .fetch_one(
            "UPDATE users SET session_version = session_version + 1 WHERE id = :user_id \
             RETURNING session_version",
            params!(user_id),
        )
        .await?
        .get("session_version")?)
}

/// Drops every cached session of `user_id` and records `version`, so a refill racing the
/// change cannot put the old role back. Tried three times; a final failure is logged as an
/// error (the stale entry then lives at most [`SESSION_KEY_TTL_SECONDS`]).
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn invalidate(cache: &Cache, user_id: Uuid, version: i64) {
    let key = session_key(user_id);
    let mut last_error = None;
    for delay_ms in [0u64, 100, 400] {
        tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
        let attempt: Result<i64, redis::RedisError> = match cache.connection().await {
            Ok(mut conn) => {
                redis::Script::new(INVALIDATE_SCRIPT)
                    .key(&key)
                    .arg(version)
                    .arg(VERSION_FIELD)
                    .arg(SESSION_KEY_TTL_SECONDS)
                    .invoke_async(&mut conn)
                    .await
            }
            Err(err) => Err(err),
        };
        match attempt {
            Ok(_) => return,
            Err(err) => last_error = Some(err),
        }
    }
    if let Some(err) = last_error {
        tracing::error!(
            error = %err,
            user_id = %user_id,
            "could not invalidate cached sessions; they expire within 15 minutes"
        );
    }
}

/// Forgets one cached session family after Postgres revoked it (logout, a reused refresh
/// token). Fails if Redis cannot be told, so the caller can report it.
#[tracing::instrument(skip_all, fields(user_id = %user_id, family_id = %family_id))]
pub async fn forget(cache: &Cache, user_id: Uuid, family_id: Uuid) -> anyhow::Result<()> {
    let mut conn = cache.connection().await?;
    let _: i64 = conn
        .hdel(session_key(user_id), family_id.to_string())
        .await?;
    Ok(())
}
