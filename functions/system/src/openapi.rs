//! `GET /v1/openapi.json`: the API's OpenAPI 3.1 document, as committed in `docs/openapi.json`
//! (a test holds that file to what the operation tables generate).

use std::sync::Arc;

use async_trait::async_trait;
use gsign_core::config::Env;
use gsign_platform::lambda::{Handler, HttpHandler, InitFuture};
use lambda_http::{Body, Request, Response};

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
pub(crate) fn init(_env: Env) -> InitFuture {
    Box::pin(async { Ok(Handler::Http(Arc::new(ServeDocument))) })
}
