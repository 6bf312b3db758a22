//! `Idempotency-Key` (IETF httpapi draft, as Stripe does it) for the POSTs that create.
//!
//! The same key with the same request replays the stored response (with
//! `Idempotent-Replayed: true`); the same key with a different request is refused with 422;
//! while the first request is still running, 409. Keys are scoped to the caller's
//! organization (or, on anonymous routes, its IP address) and kept 24 hours. A 5xx answer is
//! not stored, so the client may retry it with the same key.

use std::sync::Arc;

use async_trait::async_trait;
use gsign_core::Problem;
use http::{HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use sha2::{Digest, Sha256};

use crate::lambda::HttpHandler;

/// The request header.
pub const HEADER: &str = "idempotency-key";

/// An HTTP handler made idempotent.
pub struct Idempotent {
    inner: Arc<dyn HttpHandler>,
    pool: deadpool_postgres::Pool,
    route: &'static str,
}

impl Idempotent {
    /// Wraps `inner`, recording under `route`.
    pub fn wrap(
        inner: Arc<dyn HttpHandler>,
        pool: deadpool_postgres::Pool,
        route: &'static str,
    ) -> Arc<dyn HttpHandler> {
        Arc::new(Self { inner, pool, route })
    }
}

fn scope(req: &Request) -> Option<String> {
    if let Some(principal) = crate::http::principal(req) {
        return Some(format!("org:{}", principal.organization_id));
    }
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            ctx.http.source_ip.as_ref().map(|ip| format!("ip:{ip}"))
        }
        _ => None,
    }
}

fn fingerprint(route: &str, req: &Request) -> String {
    let mut hasher = Sha256::new();
    hasher.update(route.as_bytes());
    hasher.update([0]);
    hasher.update(req.body().as_ref());
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
    async fn claim(
        &self,
        req: &Request,
        scope: &str,
        key: &str,
        hash: &str,
    ) -> anyhow::Result<Claim> {
        let client = self.pool.get().await?;
        // An expired record is as good as none.
        client
            .execute("DELETE FROM idempotency_records WHERE scope = $1 AND key = $2 AND expires_at < now()", &[&scope, &key])
            .await?;
        let inserted = client
            .execute(
                "INSERT INTO idempotency_records (scope, key, route, request_hash) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (scope, key) DO NOTHING",
                &[&scope, &key, &self.route, &hash],
            )
            .await?;
        if inserted == 1 {
            return Ok(Claim::New);
        }
        let row = client
            .query_one(
                "SELECT route, request_hash, status, response_status, response_headers, response_body
                   FROM idempotency_records WHERE scope = $1 AND key = $2",
                &[&scope, &key],
            )
            .await?;
        let (route, stored_hash, status): (String, String, String) =
            (row.get(0), row.get(1), row.get(2));
        if route != self.route || stored_hash != hash {
            return Ok(Claim::Refused(problem(
                req,
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency key reused",
                "This Idempotency-Key was used with a different request; use a new key.",
            )));
        }
        if status != "completed" {
            return Ok(Claim::Refused(problem(
                req,
                StatusCode::CONFLICT,
                "idempotency-in-flight",
                "Request in progress",
                "The first request with this Idempotency-Key has not finished; retry shortly.",
            )));
        }
        let status = StatusCode::from_u16(row.get::<_, i16>(3) as u16).unwrap_or(StatusCode::OK);
        let headers: serde_json::Value = row.get(4);
        let body: Vec<u8> = row.get(5);
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

    async fn settle(
        &self,
        scope: &str,
        key: &str,
        response: &Response<Body>,
    ) -> anyhow::Result<()> {
        let client = self.pool.get().await?;
        if response.status().is_server_error() {
            client
                .execute(
                    "DELETE FROM idempotency_records WHERE scope = $1 AND key = $2",
                    &[&scope, &key],
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
        let body: &[u8] = response.body().as_ref();
        client
            .execute(
                "UPDATE idempotency_records
                    SET status = 'completed', response_status = $3, response_headers = $4, response_body = $5
                  WHERE scope = $1 AND key = $2",
                &[&scope, &key, &(response.status().as_u16() as i16), &serde_json::Value::Object(headers), &body],
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
        let Some(scope) = scope(&req) else {
            return self.inner.handle(req).await;
        };
        let hash = fingerprint(self.route, &req);
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
