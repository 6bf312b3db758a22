//! The system area's route table: each route's operation as the OpenAPI document describes it,
//! who may call it, its rate limit and replay, and its cold start. The area binary, the local
//! runner and the OpenAPI document are made from it.

use std::collections::BTreeMap;

use gsign_core::openapi::{schema, Operation, Reply};
use gsign_platform::lambda::{AreaSpec, RouteSpec};
use schemars::JsonSchema;

use crate::health::Check;

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
            |env, _| crate::health::init(env),
        ),
        RouteSpec::public(
            Operation::new(
                "api-get-openapi",
                "GET",
                "/v1/openapi.json",
                "This OpenAPI 3.1 document.",
                Reply::Json(200, schema::<OpenApiDocument>),
            ),
            |env, _| crate::openapi::init(env),
        ),
    ],
    jobs: &[
        crate::migrate::FUNCTION,
        crate::outbox::RECORD_AUDIT_EVENT,
        crate::outbox::SEND_EMAIL,
        crate::outbox::SWEEP_OUTBOX,
    ],
};
