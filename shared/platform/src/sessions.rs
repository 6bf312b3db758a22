//! Which login sessions are alive, for the authorizer.
//!
//! Postgres (`user_sessions`) is the truth. Redis holds, under the seed's key
//! `session:{user_id}`, a hash of the *active* session families with the user's current role.
//! A hit answers at once; a miss or a Redis failure asks Postgres (and refills Redis when it
//! answers), so losing Redis can never let a revoked session in. Revoking deletes the field
//! after the Postgres commit; a role change deletes the whole key.

use deadpool_postgres::Pool;
use gsign_core::Role;
use redis::AsyncCommands;
use uuid::Uuid;

use crate::cache::Cache;

/// How long a user's session hash lives in Redis without use.
const SESSION_KEY_TTL_SECONDS: i64 = 24 * 3600;

/// The Redis key of a user's active sessions.
pub fn session_key(user_id: Uuid) -> String {
    format!("session:{user_id}")
}

/// The role of `user_id` in `organization_id` if session family `family_id` is alive (not
/// revoked, not expired, user active); `None` otherwise.
pub async fn active_role(
    cache: &Cache,
    pool: &Pool,
    user_id: Uuid,
    organization_id: Uuid,
    family_id: Uuid,
) -> anyhow::Result<Option<Role>> {
    let key = session_key(user_id);
    let field = family_id.to_string();
    let cached: Result<Option<String>, redis::RedisError> = match cache.connection().await {
        Ok(mut conn) => conn.hget(&key, &field).await,
        Err(err) => Err(err),
    };
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
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT u.role
               FROM user_sessions s JOIN users u ON u.id = s.user_id
              WHERE s.family_id = $1 AND s.user_id = $2 AND s.organization_id = $3
                AND s.revoked_at IS NULL AND s.rotated_at IS NULL AND s.expires_at > now()
                AND u.status = 'active' AND u.organization_id = $3
              LIMIT 1",
            &[&family_id, &user_id, &organization_id],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let role: Role = row
        .get::<_, String>(0)
        .parse()
        .map_err(|e: String| anyhow::anyhow!(e))?;
    if redis_answered {
        if let Ok(mut conn) = cache.connection().await {
            let refilled: Result<(), redis::RedisError> = redis::pipe()
                .hset(&key, &field, role.as_str())
                .expire(&key, SESSION_KEY_TTL_SECONDS)
                .query_async(&mut conn)
                .await;
            if let Err(err) = refilled {
                tracing::warn!(error = %err, "could not cache the session");
            }
        }
    }
    Ok(Some(role))
}

/// Forgets cached sessions after Postgres revoked them: one family, or all of the user's.
/// Fails if Redis cannot be told, so the caller can report it (the entry would otherwise live
/// until its TTL).
pub async fn forget(cache: &Cache, user_id: Uuid, family_id: Option<Uuid>) -> anyhow::Result<()> {
    let mut conn = cache.connection().await?;
    let key = session_key(user_id);
    match family_id {
        Some(family) => {
            let _: i64 = conn.hdel(&key, family.to_string()).await?;
        }
        None => {
            let _: i64 = conn.del(&key).await?;
        }
    }
    Ok(())
}
