//! HTTP helpers for `lambda_http` handlers: JSON and problem responses, body parsing under a
//! size limit, and the request id every response and log line carries.

use gsign_core::{FieldError, IntoProblem, Problem};
use http::{header, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The API Gateway request id (the id API Gateway logs and returns), or the Lambda request id.
pub fn request_id(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone().unwrap_or_default(),
        _ => req
            .lambda_context_ref()
            .map(|ctx| ctx.request_id.clone())
            .unwrap_or_default(),
    }
}

/// The caller as the authorizer described it in `requestContext.authorizer.lambda`; `None`
/// when the route was reached without an authorizer (a misconfigured route, never a client
/// error). Routes never look at credentials themselves.
pub fn principal(req: &Request) -> Option<gsign_core::Principal> {
    let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() else {
        return None;
    };
    let fields = &ctx.authorizer.as_ref()?.fields;
    let text = |name: &str| fields.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    let credential = match text("credential")?.as_str() {
        "session" => gsign_core::Credential::Session {
            user_id: text("user_id")?,
            session_id: text("session_id")?,
        },
        "api_key" => gsign_core::Credential::ApiKey {
            key_id: text("key_id")?,
            scopes: text("scopes")
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|s| s.parse().ok())
                .collect(),
        },
        _ => return None,
    };
    Some(gsign_core::Principal {
        organization_id: text("organization_id")?,
        role: text("role")?.parse().ok()?,
        credential,
    })
}

/// A JSON response.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    match serde_json::to_vec(body) {
        Ok(bytes) => Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::Binary(bytes))
            .unwrap_or_else(|_| fallback()),
        Err(err) => {
            tracing::error!(error = %err, "response body did not serialise");
            problem(Problem::internal(), "")
        }
    }
}

/// A problem+json response; `instance` is the request id.
pub fn problem(mut problem: Problem, request_id: &str) -> Response<Body> {
    if problem.instance.is_none() && !request_id.is_empty() {
        problem.instance = Some(format!("urn:gsign:request:{request_id}"));
    }
    let status = problem.status_code();
    let bytes = serde_json::to_vec(&problem).unwrap_or_default();
    Response::builder()
        .status(status)
        .header(
            header::CONTENT_TYPE,
            gsign_core::problem::PROBLEM_CONTENT_TYPE,
        )
        .body(Body::Binary(bytes))
        .unwrap_or_else(|_| fallback())
}

/// Maps any domain error to its problem response.
pub fn error<E: IntoProblem>(err: E, req: &Request) -> Response<Body> {
    problem(err.into_problem(), &request_id(req))
}

fn fallback() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

/// Problems with the request itself, before any domain rule runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The body exceeds the route's limit.
    #[error("the request body is larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body is not `application/json`.
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    /// The body is not valid JSON of the expected shape.
    #[error("the request body is not valid: {detail}")]
    InvalidBody {
        /// Where and what, as serde reports it.
        detail: String,
    },
}

impl IntoProblem for RequestError {
    fn into_problem(self) -> Problem {
        let detail = self.to_string();
        match self {
            RequestError::BodyTooLarge { limit } => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                "Request body too large",
            )
            .with_extension("limit", serde_json::json!(limit)),
            RequestError::UnsupportedMediaType => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            RequestError::InvalidBody { .. } => Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid-body",
                "Malformed request body",
            )
            .with_errors(vec![FieldError::new("", detail.clone())]),
        }
        .with_detail(detail)
    }
}

/// Parses a JSON body of at most `limit` bytes. Unknown fields are refused by the target type
/// (`#[serde(deny_unknown_fields)]`), so a body cannot smuggle `role` or `organization_id`.
pub fn parse_json<T: DeserializeOwned>(req: &Request, limit: usize) -> Result<T, RequestError> {
    let body: &[u8] = req.body().as_ref();
    if body.len() > limit {
        return Err(RequestError::BodyTooLarge { limit });
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return Err(RequestError::UnsupportedMediaType);
    }
    serde_json::from_slice(body).map_err(|err| RequestError::InvalidBody {
        detail: err.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Rename {
        name: String,
    }

    fn request(content_type: &str, body: &str) -> Request {
        http::Request::builder()
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .expect("valid request")
    }

    #[test]
    fn oversize_bodies_are_refused_before_parsing() {
        let err = parse_json::<Rename>(&request("application/json", "{\"name\":\"x\"}"), 4)
            .expect_err("too large");
        assert_eq!(err.clone().into_problem().status, 413);
        assert_eq!(err, RequestError::BodyTooLarge { limit: 4 });
    }

    #[test]
    fn unknown_fields_that_try_to_set_privileges_are_refused() {
        let err = parse_json::<Rename>(
            &request("application/json", r#"{"name":"x","role":"owner"}"#),
            1024,
        )
        .expect_err("unknown field");
        let problem = err.into_problem();
        assert_eq!(problem.status, 400);
        assert!(problem.detail.unwrap_or_default().contains("role"));
    }

    #[test]
    fn non_json_media_types_are_refused() {
        let err = parse_json::<Rename>(&request("text/plain", "{}"), 1024).expect_err("type");
        assert_eq!(err.into_problem().status, 415);
    }

    #[test]
    fn json_with_a_charset_parameter_is_accepted() {
        let body = parse_json::<Rename>(
            &request("application/json; charset=utf-8", r#"{"name":"x"}"#),
            1024,
        )
        .expect("valid");
        assert_eq!(body.name, "x");
    }

    #[test]
    fn problem_responses_carry_the_media_type_and_request_instance() {
        let response = problem(Problem::internal(), "abc");
        assert_eq!(response.status(), 500);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body: serde_json::Value =
            serde_json::from_slice(response.body().as_ref()).expect("json");
        assert_eq!(body["instance"], "urn:gsign:request:abc");
    }
}
