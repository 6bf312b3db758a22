//! `api-authorize`: the HTTP API's Lambda authorizer (payload 2.0, simple responses, no
//! result caching so revocation takes effect on the next request).
//!
//! `Authorization: Bearer <access token>` (a JWT: signature, expiry, issuer, audience and type
//! checked, then the session looked up: revoked or expired sessions and disabled users are
//! refused) or `Authorization: Bearer gsk_...` (an API key: looked up by its prefix, compared
//! in constant time, refused when revoked, expired, its organization is not active or its
//! creator is no longer an active member; it acts with the lesser of its role and its
//! creator's current role). The
//! route receives the principal in the context and never sees the credential again.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use gsign_core::{Env, Role};
use gsign_platform::aws::{self, AwsConfig};
use gsign_platform::cache::{Cache, CacheConfig};
use gsign_platform::credentials::{self, AccessTokens};
use gsign_platform::database::{Database, Session};
use gsign_platform::db::{self, DbConfig};
use gsign_platform::lambda::{FunctionSpec, Handler, InitFuture, InvokeError, InvokeHandler};
use gsign_platform::params;
use gsign_platform::sessions;
use secrecy::SecretString;
use uuid::Uuid;

/// The `api-authorize` function.
pub const FUNCTION: FunctionSpec = FunctionSpec {
    name: "api-authorize",
    init,
};

/// The authorizer's clients.
pub struct Authorizer {
    db: Database,
    cache: Cache,
    tokens: AccessTokens,
}

/// The context handed to routes (string values only, as API Gateway requires).
pub type Context = BTreeMap<&'static str, String>;

fn init(env: Env) -> InitFuture {
    Box::pin(async move {
        let mut r = env.reader();
        let db = DbConfig::read(&mut r);
        let aws = AwsConfig::read(&mut r);
        let cache = CacheConfig::read(&mut r);
        let key = r.secret("ACCESS_TOKEN_KEY");
        let issuer = r.or("ACCESS_TOKEN_ISSUER", "gsign".to_owned());
        let audience = r.or("ACCESS_TOKEN_AUDIENCE", "gsign-api".to_owned());
        let (db, aws, cache, key) = r.finish(|| Some((db?, aws?, cache?, key?)))?;
        // The SDK is needed only for the Data API; building its configuration reads no network.
        let sdk = aws::sdk_config(&aws).await;
        let database = db::database(&db, &sdk).map_err(anyhow::Error::from)?;
        let authorizer = Authorizer::new(database, &cache, &key, &issuer, &audience)?;
        Ok(Handler::Invoke(Arc::new(authorizer)))
    })
}

fn bearer(event: &serde_json::Value) -> Option<&str> {
    let header = event["identitySource"][0]
        .as_str()
        .or_else(|| event["headers"]["authorization"].as_str())?;
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl Authorizer {
    /// Builds the clients (nothing connects yet).
    pub fn new(
        db: Database,
        cache: &CacheConfig,
        key: &SecretString,
        issuer: &str,
        audience: &str,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            db,
            cache: Cache::new(cache)?,
            // 15 minutes: short enough that a role claim is never trusted for long (the
            // authorizer reads the current role anyway).
            tokens: AccessTokens::new(key, issuer, audience, 15 * 60)?,
        })
    }

    /// The principal for `credential`, or `None` to refuse. Errors are dependency failures
    /// (the gateway then answers 500: fail closed).
    #[tracing::instrument(skip_all)]
    pub async fn decide(&self, credential: &str) -> anyhow::Result<Option<Context>> {
        if credentials::api_key_prefix(credential).is_some() {
            self.api_key(credential).await
        } else {
            self.access_token(credential).await
        }
    }

    #[tracing::instrument(skip_all)]
    async fn access_token(&self, token: &str) -> anyhow::Result<Option<Context>> {
        let Ok(claims) = self.tokens.verify(token) else {
            return Ok(None);
        };
        let ids = (
            claims.sub.parse::<Uuid>(),
            claims.org.parse::<Uuid>(),
            claims.sid.parse::<Uuid>(),
        );
        let (Ok(user), Ok(org), Ok(session)) = ids else {
            return Ok(None);
        };
        let Some(role) = sessions::active_role(&self.cache, &self.db, user, org, session).await?
        else {
            return Ok(None);
        };
        Ok(Some(Context::from([
            ("credential", "session".to_owned()),
            ("organization_id", org.to_string()),
            ("user_id", user.to_string()),
            ("session_id", session.to_string()),
            ("role", role.as_str().to_owned()),
        ])))
    }

    #[tracing::instrument(skip_all)]
    async fn api_key(&self, key: &str) -> anyhow::Result<Option<Context>> {
        let Some(prefix) = credentials::api_key_prefix(key) else {
            return Ok(None);
        };
        let client = self.db.connect().await?;
        let row = client
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
            .await?;
        // Hash and compare even when nothing matched, so timing does not reveal prefixes.
        let presented = credentials::sha256_hex(key);
        let stored: String = row
            .as_ref()
            .map(|r| r.get("key_hash"))
            .transpose()?
            .unwrap_or_default();
        let matches = credentials::hashes_match(&presented, &stored);
        // A key lives only while its creator is an active member (no creator: refused), and
        // acts with at most the creator's role now.
        let live = match &row {
            Some(r) => r.get::<Option<bool>>("live")? == Some(true),
            None => false,
        };
        let Some(row) = row.filter(|_| matches && live) else {
            return Ok(None);
        };
        let id: Uuid = row.get("id")?;
        let org: Uuid = row.get("organization_id")?;
        let scopes: Vec<String> = row.get("scopes")?;
        let (Ok(key_role), Ok(creator_role)) = (
            row.get::<String>("role")?.parse::<Role>(),
            row.get::<Option<String>>("creator_role")?
                .unwrap_or_default()
                .parse::<Role>(),
        ) else {
            return Ok(None);
        };
        // Last use, at most once a minute per key (a write per request would be wasteful).
        if let Err(err) = client
            .run(
                "UPDATE api_keys SET last_used_at = now()
                  WHERE id = :id AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
                params!(id),
            )
            .await
        {
            tracing::warn!(error = %err, "could not record the API key's last use");
        }
        Ok(Some(Context::from([
            ("credential", "api_key".to_owned()),
            ("organization_id", org.to_string()),
            ("key_id", id.to_string()),
            ("role", key_role.lesser(creator_role).as_str().to_owned()),
            ("scopes", scopes.join(" ")),
        ])))
    }
}

#[async_trait]
impl InvokeHandler for Authorizer {
    async fn handle(&self, event: serde_json::Value) -> Result<serde_json::Value, InvokeError> {
        let decision = match bearer(&event) {
            Some(credential) => self.decide(credential).await?,
            None => None,
        };
        Ok(match decision {
            Some(context) => {
                tracing::info!(
                    credential = context.get("credential").map(String::as_str),
                    organization_id = context.get("organization_id").map(String::as_str),
                    "authorized"
                );
                serde_json::json!({ "isAuthorized": true, "context": context })
            }
            None => {
                tracing::info!("refused");
                serde_json::json!({ "isAuthorized": false })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bearer_credentials_are_read() {
        let event = |header: &str| serde_json::json!({ "identitySource": [header] });
        assert_eq!(bearer(&event("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&event("bearer   abc ")), Some("abc"));
        assert_eq!(bearer(&event("Basic dXNlcjpwYXNz")), None);
        assert_eq!(bearer(&event("Bearer ")), None);
        assert_eq!(bearer(&serde_json::json!({})), None);
    }
}
