//! The system area's HTTP side: its route table (each route's operation as the OpenAPI
//! document describes it, who may call it, its rate limit and replay, its cold start; the area
//! binary, the local runner and the OpenAPI document are made from it) and its two routes:
//! `GET /v1/health` (public: `ok` or `down`; the operator's token also learns which
//! dependency is down) and `GET /v1/openapi.json`.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use gsign_core::openapi::{schema, Operation, Reply};
use gsign_core::Env;
use gsign_platform::cache::Cache;
use gsign_platform::http as web;
use gsign_platform::lambda::{AreaSpec, Handler, HttpHandler, InitFuture, RouteSpec};
use gsign_platform::ratelimit::{Policy, RateLimitConfig, RateLimited, RateLimiter};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use schemars::JsonSchema;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::service::{Check, HealthCheck, HealthConfig};

/// `GET /v1/health`'s answer: `status` for anyone; `down` and `checks` for the operator (the
/// `HEALTH_DETAIL_TOKEN_SHA256` token as a bearer token).
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct HealthAnswer {
    /// `ok`, or `down` (answered with 503).
    status: String,
    /// The dependencies that are down, by name (operator only).
    down: Option<Vec<String>>,
    /// Every dependency's result, by name (operator only).
    checks: Option<BTreeMap<String, Check>>,
}

/// The OpenAPI 3.1 document itself: see the `openapi` member.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct OpenApiDocument {
    /// `3.1.0`.
    openapi: String,
}

/// The system area.
pub const AREA: AreaSpec = AreaSpec {
    binary: "gsign-system",
    name: "system",
    description: "Health, and this document.",
    routes: &[
        RouteSpec::public(
            Operation::new(
                "api-health",
                "GET",
                "/v1/health",
                "Whether the service and its dependencies answer.",
                Reply::Json(200, schema::<HealthAnswer>),
            ),
            |env, _| init_health(env),
        ),
        RouteSpec::public(
            Operation::new(
                "api-get-openapi",
                "GET",
                "/v1/openapi.json",
                "This OpenAPI 3.1 document.",
                Reply::Json(200, schema::<OpenApiDocument>),
            ),
            |env, _| init_openapi(env),
        ),
    ],
    jobs: &[
        crate::jobs::migrate::FUNCTION,
        crate::jobs::outbox::RECORD_AUDIT_EVENT,
        crate::jobs::outbox::SEND_EMAIL,
        crate::jobs::outbox::SWEEP_OUTBOX,
    ],
};

/// The cold start of `api-health` (its entry in [`crate::AREA`] says the rest).
fn init_health(env: Env) -> InitFuture {
    Box::pin(async move {
        let config = HealthConfig::from_env(&env)?;
        let mut r = env.reader();
        let limits = RateLimitConfig::read(&mut r);
        let limits = r.finish(|| limits)?;
        let limiter = RateLimiter::new(
            Arc::new(Cache::new(&config.cache).map_err(anyhow::Error::from)?),
            limits,
        );
        let handler = HealthCheck::new(config).await?;
        // Public route: limited per IP like every other (fails open when Redis is the one down).
        Ok(Handler::Http(RateLimited::wrap(
            Arc::new(handler),
            limiter,
            Policy::Standard,
        )))
    })
}

/// What anyone may learn: up or down.
#[derive(Debug, Serialize)]
struct PublicReport {
    status: &'static str,
}

impl HealthCheck {
    /// Whether the request carries the operator's token (`Authorization: Bearer …`).
    fn is_operator(&self, req: &Request) -> bool {
        let Some(expected) = self.config.detail_token_sha256 else {
            return false;
        };
        let token = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        // Comparing digests: equal-length, and timing reveals nothing about the token.
        token.is_some_and(|token| Sha256::digest(token.trim().as_bytes())[..] == expected[..])
    }
}

#[async_trait]
impl HttpHandler for HealthCheck {
    async fn handle(&self, req: Request) -> Response<Body> {
        let report = self.report().await;
        let status = if report.down.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        let mut response = if self.is_operator(&req) {
            web::json(status, &report)
        } else {
            web::json(
                status,
                &PublicReport {
                    status: report.status,
                },
            )
        };
        response.headers_mut().insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
        response
    }
}

/// The document, byte for byte.
pub const DOCUMENT: &str = include_str!("../../../docs/openapi.json");

struct ServeDocument;

#[async_trait]
impl HttpHandler for ServeDocument {
    async fn handle(&self, _req: Request) -> Response<Body> {
        let mut response = Response::new(Body::Text(DOCUMENT.to_owned()));
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        headers.insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("public, max-age=300"),
        );
        response
    }
}

/// The cold start of `api-get-openapi` (its entry in [`crate::AREA`] says the rest).
fn init_openapi(_env: Env) -> InitFuture {
    Box::pin(async { Ok(Handler::Http(Arc::new(ServeDocument))) })
}
