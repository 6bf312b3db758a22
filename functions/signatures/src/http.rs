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

use crate::error::VerifyCase;
use crate::error::VerifyError;
use crate::service::{DocumentReference, Verification, VerifyApi, VerifyInput};

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

/// What the request asks to verify: the PDF it carries, or a stored document it names.
fn verify_input(req: &Request) -> Result<VerifyInput<'_>, VerifyError> {
    let media = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match media.as_str() {
        "application/pdf" => Ok(VerifyInput::Upload(req.body().as_ref())),
        "application/json" => {
            let reference: DocumentReference = web::parse_json(req, 4096)?;
            Ok(VerifyInput::Stored(reference.document_id))
        }
        _ => Err(VerifyCase::UnsupportedMediaType.into()),
    }
}

struct VerifyRoute {
    api: VerifyApi,
    spec: &'static RouteSpec,
}

#[async_trait]
impl HttpHandler for VerifyRoute {
    async fn handle(&self, req: Request) -> Response<Body> {
        let answer = async {
            let caller = self.spec.caller(&req)?;
            let verification = self.api.verify(&caller, verify_input(&req)?).await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::Body;

    fn request(media_type: &str, body: &str) -> Request {
        let mut req = Request::new(Body::from(body.to_owned()));
        req.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_str(media_type).expect("a header"),
        );
        req
    }

    #[test]
    fn a_pdf_body_is_an_upload_and_json_names_a_stored_document() {
        let pdf = request("Application/PDF; charset=binary", "%PDF-1.7");
        assert!(matches!(
            verify_input(&pdf),
            Ok(VerifyInput::Upload(b"%PDF-1.7"))
        ));
        let id = uuid::Uuid::new_v4();
        let json = request(
            "application/json",
            &serde_json::json!({ "document_id": id }).to_string(),
        );
        assert!(matches!(verify_input(&json), Ok(VerifyInput::Stored(got)) if got == id));
    }

    #[test]
    fn other_media_types_are_refused_before_anything_is_read() {
        let text = request("text/plain", "hello");
        assert!(matches!(
            verify_input(&text),
            Err(VerifyError::Area(VerifyCase::UnsupportedMediaType))
        ));
        let unknown_member = request("application/json", r#"{"document":"x"}"#);
        assert!(matches!(
            verify_input(&unknown_member),
            Err(VerifyError::Request(
                gsign_platform::http::RequestError::InvalidBody { .. }
            ))
        ));
    }
}
