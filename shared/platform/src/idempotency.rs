//! `Idempotency-Key` (IETF httpapi draft, as Stripe does it) for the POSTs that create.
//!
//! The same key with the same request replays the stored response (with
//! `Idempotent-Replayed: true`); the same key with a different request is refused with 422;
//! while the first request is still running, 409. A 5xx answer is not stored, so the client
//! may retry it with the same key.
//!
//! Security rules (issue #18, item 2):
//! - the route's authorization runs before any claim or replay: a caller the route would
//!   refuse never reaches the store, so it can never be handed someone else's answer;
//! - records are scoped to the principal (the user, or the API key; the IP address on
//!   anonymous routes), not the organization, and the fingerprint covers the method, the path
//!   with its ids, and the body;
//! - an answer that carries a secret shown once (a new API key, a webhook signing secret) is
//!   never stored: its replay is refused with 409 `idempotency-answer-withheld`;
//! - a record left `in_flight` by a crash expires after [`IN_FLIGHT_MINUTES`]; completed
//!   records after 24 hours, and expired records are purged by the outbox sweeper.

use std::sync::Arc;

use async_trait::async_trait;
use gsign_core::{Action, Credential, Principal, Problem};
use http::{HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use sha2::{Digest, Sha256};

use crate::database::{read_bytes_in_slices, Database, Session, INLINE_VALUE_BYTES};
use crate::handler::HttpHandler;
use crate::params;

/// The request header.
pub const HEADER: &str = "idempotency-key";

/// How long a record may stay `in_flight` before it counts as abandoned (a crash between the
/// claim and the answer). API Gateway gives up on a request after 30 seconds.
pub const IN_FLIGHT_MINUTES: i32 = 5;

/// How a route takes part in `Idempotency-Key`.
#[derive(Debug, Clone, Copy)]
pub struct IdempotentRoute {
    /// The record's label: unique per route.
    pub label: &'static str,
    /// What the caller must be allowed to do before any record is read or written; `None`
    /// only on anonymous routes (sign-up), whose records are scoped by IP address.
    pub action: Option<Action>,
    /// The answer carries a secret shown only once: it is never stored, so never replayed.
    pub answer_holds_secret: bool,
}

impl IdempotentRoute {
    /// An authenticated route that needs `action`.
    pub const fn new(label: &'static str, action: Action) -> Self {
        Self {
            label,
            action: Some(action),
            answer_holds_secret: false,
        }
    }

    /// An anonymous route (no principal: records are scoped by the caller's IP address).
    pub const fn anonymous(label: &'static str) -> Self {
        Self {
            label,
            action: None,
            answer_holds_secret: false,
        }
    }

    /// Its successful answers carry a one-time secret.
    pub const fn holding_a_secret(mut self) -> Self {
        self.answer_holds_secret = true;
        self
    }
}

/// An HTTP handler made idempotent.
pub struct Idempotent {
    inner: Arc<dyn HttpHandler>,
    db: Database,
    route: IdempotentRoute,
}

impl Idempotent {
    /// Wraps `inner`, recording under `route`.
    pub fn wrap(
        inner: Arc<dyn HttpHandler>,
        db: impl Into<Database>,
        route: IdempotentRoute,
    ) -> Arc<dyn HttpHandler> {
        Arc::new(Self {
            inner,
            db: db.into(),
            route,
        })
    }
}

/// Who the record belongs to: the person or the key for authenticated callers, the IP
/// address on anonymous routes.
fn scope(principal: Option<&Principal>, req: &Request) -> Option<String> {
    if let Some(principal) = principal {
        return Some(match &principal.credential {
            Credential::Session { user_id, .. } => format!("user:{user_id}"),
            Credential::ApiKey { key_id, .. } => format!("key:{key_id}"),
        });
    }
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            ctx.http.source_ip.as_ref().map(|ip| format!("ip:{ip}"))
        }
        _ => None,
    }
}

/// SHA-256 over the route label, the method, the path (with its ids) and the body, each
/// length-prefixed so no two requests share a fingerprint by moving bytes between parts.
fn fingerprint(label: &str, req: &Request) -> String {
    let mut hasher = Sha256::new();
    for part in [
        label.as_bytes(),
        req.method().as_str().as_bytes(),
        req.uri().path().as_bytes(),
        req.body().as_ref(),
    ] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

fn problem(
    req: &Request,
    status: StatusCode,
    slug: &str,
    title: &str,
    detail: &str,
) -> Response<Body> {
    crate::http::problem(
        Problem::new(status, slug, title).with_detail(detail),
        &crate::http::request_id(req),
    )
}

enum Claim {
    /// First use: run the request.
    New,
    /// Stored: replay it.
    Replay(Response<Body>),
    /// Refused with this response.
    Refused(Response<Body>),
}

impl Idempotent {
    #[tracing::instrument(skip_all)]
    async fn claim(
        &self,
        req: &Request,
        scope: &str,
        key: &str,
        hash: &str,
    ) -> anyhow::Result<Claim> {
        let client = self.db.connect().await?;
        // An expired record is as good as none.
        client
            .run(
                "DELETE FROM idempotency_records WHERE scope = :scope AND key = :key \
                 AND expires_at < now()",
                params!(scope, key),
            )
            .await?;
        let inserted = client
            .run(
                "INSERT INTO idempotency_records (scope, key, route, request_hash, expires_at)
                 VALUES (:scope, :key, :route, :hash, now() + make_interval(mins => :minutes::int))
                 ON CONFLICT (scope, key) DO NOTHING",
                params!(
                    scope,
                    key,
                    route = self.route.label,
                    hash,
                    minutes = IN_FLIGHT_MINUTES
                ),
            )
            .await?;
        if inserted == 1 {
            return Ok(Claim::New);
        }
        let row = client
            .fetch_one(
                // A large answer (a sealed envelope, a pack) is read apart: it may not fit a
                // Data API row.
                &format!(
                    "SELECT route, request_hash, status, response_status, response_headers,
                            CASE WHEN octet_length(response_body) <= {INLINE_VALUE_BYTES}
                                 THEN response_body END AS response_body,
                            response_body IS NOT NULL AS has_body, response_withheld
                       FROM idempotency_records WHERE scope = :scope AND key = :key"
                ),
                params!(scope, key),
            )
            .await?;
        let (route, stored_hash): (String, String) = (row.get("route")?, row.get("request_hash")?);
        let status: RecordStatus = row.stored("status")?;
        if route != self.route.label || stored_hash != hash {
            return Ok(Claim::Refused(problem(
                req,
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency key reused",
                "This Idempotency-Key was used with a different request; use a new key.",
            )));
        }
        if status != RecordStatus::Completed {
            return Ok(Claim::Refused(problem(
                req,
                StatusCode::CONFLICT,
                "idempotency-in-flight",
                "Request in progress",
                "The first request with this Idempotency-Key has not finished; retry shortly.",
            )));
        }
        if row.get::<bool>("response_withheld")? {
            return Ok(Claim::Refused(problem(
                req,
                StatusCode::CONFLICT,
                "idempotency-answer-withheld",
                "Answer not kept",
                "The first request with this Idempotency-Key succeeded. Its answer held a secret \
                 that is shown only once, so it was not kept and cannot be replayed. List what \
                 was created to find it, and revoke it if the secret was lost.",
            )));
        }
        let status = row
            .get::<Option<i32>>("response_status")?
            .and_then(|code| u16::try_from(code).ok())
            .and_then(|code| StatusCode::from_u16(code).ok())
            .unwrap_or(StatusCode::OK);
        let headers: serde_json::Value = row.get("response_headers")?;
        let body: Vec<u8> = match row.get::<Option<Vec<u8>>>("response_body")? {
            Some(body) => body,
            None if row.get::<bool>("has_body")? => {
                read_bytes_in_slices(
                    &client,
                    "response_body",
                    "idempotency_records WHERE scope = :scope AND key = :key",
                    params!(scope, key),
                )
                .await?
            }
            None => Vec::new(),
        };
        let mut response = Response::new(Body::Binary(body));
        *response.status_mut() = status;
        if let Some(map) = headers.as_object() {
            for (name, value) in map {
                if let (Ok(name), Some(Ok(value))) = (
                    http::HeaderName::from_bytes(name.as_bytes()),
                    value.as_str().map(HeaderValue::from_str),
                ) {
                    response.headers_mut().insert(name, value);
                }
            }
        }
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        Ok(Claim::Replay(response))
    }

    #[tracing::instrument(skip_all)]
    async fn settle(
        &self,
        scope: &str,
        key: &str,
        response: &Response<Body>,
    ) -> anyhow::Result<()> {
        let client = self.db.connect().await?;
        if response.status().is_server_error() {
            client
                .run(
                    "DELETE FROM idempotency_records WHERE scope = :scope AND key = :key",
                    params!(scope, key),
                )
                .await?;
            return Ok(());
        }
        let headers: serde_json::Map<String, serde_json::Value> = response
            .headers()
            .iter()
            .filter(|(name, _)| {
                !name.as_str().starts_with("ratelimit") && !name.as_str().starts_with("x-ratelimit")
            })
            .filter_map(|(name, value)| {
                Some((
                    name.as_str().to_owned(),
                    serde_json::Value::String(value.to_str().ok()?.to_owned()),
                ))
            })
            .collect();
        // A one-time secret is never written down: only the fact that the request succeeded.
        let withheld = self.route.answer_holds_secret && response.status().is_success();
        let (headers, body): (serde_json::Value, Option<&[u8]>) = if withheld {
            (serde_json::json!({}), None)
        } else {
            (
                serde_json::Value::Object(headers),
                Some(response.body().as_ref()),
            )
        };
        client
            .run(
                "UPDATE idempotency_records
                    SET status = 'completed', response_status = :status,
                        response_headers = :headers, response_body = :body,
                        response_withheld = :withheld, expires_at = now() + interval '24 hours'
                  WHERE scope = :scope AND key = :key",
                params!(
                    scope,
                    key,
                    status = i64::from(response.status().as_u16()),
                    headers,
                    body,
                    withheld
                ),
            )
            .await?;
        Ok(())
    }
}

#[async_trait]
impl HttpHandler for Idempotent {
    async fn handle(&self, req: Request) -> Response<Body> {
        let Some(raw) = req.headers().get(HEADER) else {
            return self.inner.handle(req).await;
        };
        let key = match raw.to_str() {
            Ok(key) if !key.is_empty() && key.len() <= 255 => key.to_owned(),
            _ => {
                return problem(
                    &req,
                    StatusCode::BAD_REQUEST,
                    "invalid-idempotency-key",
                    "Invalid Idempotency-Key",
                    "An Idempotency-Key is 1 to 255 visible ASCII characters.",
                )
            }
        };
        // Authorization first: a caller the route refuses never touches the records, so
        // neither a replay nor a 409/422 can tell it anything.
        let principal = crate::http::principal(&req);
        if let Some(action) = self.route.action {
            if !principal.as_ref().is_some_and(|p| p.may(action)) {
                return self.inner.handle(req).await;
            }
        }
        let Some(scope) = scope(principal.as_ref(), &req) else {
            return self.inner.handle(req).await;
        };
        let hash = fingerprint(self.route.label, &req);
        match self.claim(&req, &scope, &key, &hash).await {
            Ok(Claim::New) => {
                let response = self.inner.handle(req).await;
                if let Err(err) = self.settle(&scope, &key, &response).await {
                    tracing::error!(
                        error = format!("{err:#}"),
                        "could not store the idempotent response"
                    );
                }
                response
            }
            Ok(Claim::Replay(response)) | Ok(Claim::Refused(response)) => response,
            Err(err) => {
                tracing::error!(error = format!("{err:#}"), "idempotency store unavailable");
                crate::http::problem(Problem::internal(), &crate::http::request_id(&req))
            }
        }
    }
}

/// Where a claimed key stands (`idempotency_records.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecordStatus {
    /// The first request is still running.
    InFlight,
    /// Its reply is stored.
    Completed,
}

impl crate::db::StoredName for RecordStatus {
    const WHAT: &'static str = "idempotency record status";
    fn from_stored(name: &str) -> Option<Self> {
        match name {
            "in_flight" => Some(Self::InFlight),
            "completed" => Some(Self::Completed),
            _ => None,
        }
    }
}
