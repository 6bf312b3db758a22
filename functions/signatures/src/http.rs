//! The signatures area's HTTP side: its route table (each route's operation as the OpenAPI
//! document describes it, who may call it, its rate limit and replay, its cold start; the area
//! binary, the local runner and the OpenAPI document are made from it) and each route's glue:
//! parse, authorize, call the service, map the answer.

use std::sync::Arc;

use async_trait::async_trait;
use gsign_core::openapi::{schema, Operation, Reply};
use gsign_core::{Action, Env};
use gsign_platform::http::{self as web};
use gsign_platform::lambda::{http_route, AreaSpec, HttpHandler, InitFuture, RouteSpec};
use http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::error::VerifyError;
use crate::service::{DocumentReference, Verification, VerifyApi};

/// The signatures area.
pub const AREA: AreaSpec = AreaSpec {
    binary: "gsign-signatures",
    name: "signatures",
    description: "Verification of the PAdES signatures of uploaded or stored PDFs.",
    routes: &[
        // The route also takes the PDF itself as the body (`Content-Type: application/pdf`, at
        // most `VERIFY_MAX_UPLOAD_BYTES`); the vocabulary describes only the JSON form.
        RouteSpec::new(
            Operation::new(
                "api-verify-signatures",
                "POST",
                "/v1/verify",
                "Verifies the signatures of an uploaded PDF (raw application/pdf body) or a stored \
                 document, in a sandbox.",
                Reply::Json(200, schema::<Verification>),
            )
            .with_body(schema::<DocumentReference>)
            .also_accepting("application/pdf", "The PDF to verify, as its raw bytes."),
            Action::VerifySignatures,
            init,
        ),
    ],
    jobs: &[],
};

struct VerifyRoute {
    api: VerifyApi,
    spec: &'static RouteSpec,
}

#[async_trait]
impl HttpHandler for VerifyRoute {
    async fn handle(&self, req: Request) -> Response<Body> {
        let answer = async {
            let caller = self.spec.caller(&req)?;
            let verification = self.api.verify(&caller, &req).await?;
            Ok::<_, VerifyError>(web::json(StatusCode::OK, &verification))
        };
        match answer.await {
            Ok(response) => response,
            Err(err) => web::error(err, &req),
        }
    }
}

/// The cold start of `POST /v1/verify`, declared by `spec`.
fn init(env: Env, spec: &'static RouteSpec) -> InitFuture {
    Box::pin(async move {
        let api = VerifyApi::from_env(&env).await?;
        let limiter = api.base.limiter.clone();
        let db = api.base.db.clone();
        Ok(http_route(
            Arc::new(VerifyRoute { api, spec }),
            spec,
            limiter,
            db,
        ))
    })
}
