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
use gsign_core::Env;
use gsign_platform::aws::{self, AwsConfig};
use gsign_platform::cache::{Cache, CacheConfig};
use gsign_platform::credentials::{self, AccessTokens};
use gsign_platform::database::Database;
use gsign_platform::db::{self, DbConfig};
use gsign_platform::lambda::{FunctionSpec, Handler, InitFuture, InvokeError, InvokeHandler};
use gsign_platform::sessions;
use secrecy::SecretString;
use uuid::Uuid;

use crate::store::api_keys;

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
        let found = api_keys::by_prefix(&client, prefix).await?;
        // Hash and compare even when nothing matched, so timing does not reveal prefixes.
        let presented = credentials::sha256_hex(key);
        let stored = found.as_ref().map_or("", |k| k.key_hash.as_str());
        let matches = credentials::hashes_match(&presented, stored);
        // A key lives only while its creator is an active member (no creator: refused), and
        // acts with at most the creator's role now.
        let Some(found) = found.filter(|k| matches && k.live) else {
            return Ok(None);
        };
        let Some(creator_role) = found.creator_role else {
            return Ok(None);
        };
        if let Err(err) = api_keys::touch(&client, found.id).await {
            tracing::warn!(error = %err, "could not record the API key's last use");
        }
        let (id, org) = (found.id, found.org);
        Ok(Some(Context::from([
            ("credential", "api_key".to_owned()),
            ("organization_id", org.to_string()),
            ("key_id", id.to_string()),
            ("role", found.role.lesser(creator_role).as_str().to_owned()),
            ("scopes", found.scopes.join(" ")),
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
