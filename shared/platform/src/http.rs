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

/// The authenticated caller of a route, already checked against the route's action.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The caller's organization: every query is scoped to it.
    pub org: uuid::Uuid,
    /// The role the caller acts with.
    pub role: gsign_core::Role,
    /// The person, when a person acts.
    pub user: Option<uuid::Uuid>,
    /// The API key, when a key acts.
    pub api_key: Option<uuid::Uuid>,
    /// Source IP as API Gateway saw it.
    pub ip: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
}

/// The source IP and user agent of `req`, as API Gateway saw them (for evidence on routes
/// without an authenticated caller, such as the signing ceremony's).
pub fn client(req: &Request) -> (Option<String>, Option<String>) {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            (ctx.http.source_ip.clone(), ctx.http.user_agent.clone())
        }
        _ => (None, None),
    }
}

/// Why a request has no usable caller for its action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallerError {
    /// No authorizer context (a misconfigured route) or an unparsable one.
    #[error("not authenticated")]
    Unauthenticated,
    /// The role or the key's scopes do not allow the action.
    #[error("not allowed to {0:?}")]
    Forbidden(gsign_core::Action),
}

impl Caller {
    /// The caller of `req`, if it may perform `action`.
    pub fn of(req: &Request, action: gsign_core::Action) -> Result<Self, CallerError> {
        let principal = principal(req).ok_or(CallerError::Unauthenticated)?;
        if !principal.may(action) {
            return Err(CallerError::Forbidden(action));
        }
        let org = principal
            .organization_id
            .parse()
            .map_err(|_| CallerError::Unauthenticated)?;
        let (user, api_key) = match &principal.credential {
            gsign_core::Credential::Session { user_id, .. } => (
                Some(user_id.parse().map_err(|_| CallerError::Unauthenticated)?),
                None,
            ),
            gsign_core::Credential::ApiKey { key_id, .. } => (
                None,
                Some(key_id.parse().map_err(|_| CallerError::Unauthenticated)?),
            ),
        };
        let (ip, user_agent) = client(req);
        Ok(Self {
            org,
            role: principal.role,
            user,
            api_key,
            ip,
            user_agent,
        })
    }

    /// An audit event of this caller's.
    pub fn audit(
        &self,
        action: &str,
        resource_type: &str,
        resource_id: impl ToString,
        details: serde_json::Value,
    ) -> crate::outbox::AuditEvent {
        crate::outbox::AuditEvent {
            action: action.to_owned(),
            organization_id: self.org,
            actor_user_id: self.user,
            actor_api_key_id: self.api_key,
            resource_type: resource_type.to_owned(),
            resource_id: resource_id.to_string(),
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            details,
        }
    }
}

/// A query-string parameter.
pub fn query<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
}

/// The query and path parameters holding a character no text may hold (NUL and other controls,
/// Unicode noncharacters), as a validation problem with one error per parameter (`/name`).
/// Such text would otherwise reach Postgres, which refuses NUL with an error.
pub fn refused_parameters(req: &Request) -> Option<Problem> {
    let refused = |value: &str| value.chars().any(gsign_core::text::is_refused_char);
    let mut errors = Vec::new();
    let mut screen = |params: Option<&lambda_http::aws_lambda_events::query_map::QueryMap>| {
        for (name, value) in params.into_iter().flat_map(|p| p.iter()) {
            if refused(name) || refused(value) {
                errors.push(FieldError::new(
                    format!("/{}", name.replace('~', "~0").replace('/', "~1")),
                    "contains a control character or a Unicode noncharacter",
                ));
            }
        }
    };
    screen(req.query_string_parameters_ref());
    screen(req.path_parameters_ref());
    (!errors.is_empty()).then(|| Problem::validation(errors))
}

/// A path parameter parsed as a UUID; `None` when absent or not a UUID (callers answer 404:
/// an id that cannot exist is not found).
pub fn path_uuid(req: &Request, name: &str) -> Option<uuid::Uuid> {
    path(req, name).and_then(|id| id.parse().ok())
}

/// The path parameter `name`, as given.
pub fn path<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.path_parameters_ref().and_then(|p| p.first(name))
}

/// `204 No Content`.
pub fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
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
    // 429 and 503 say when to come back, in the header as well as the body.
    let retry_after = matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    )
    .then(|| {
        problem
            .extensions
            .get("retry_after")
            .and_then(serde_json::Value::as_u64)
    })
    .flatten();
    let bytes = serde_json::to_vec(&problem).unwrap_or_default();
    let mut response = Response::builder().status(status).header(
        header::CONTENT_TYPE,
        gsign_core::problem::PROBLEM_CONTENT_TYPE,
    );
    if let Some(seconds) = retry_after {
        response = response.header(header::RETRY_AFTER, seconds);
    }
    response
        .body(Body::Binary(bytes))
        .unwrap_or_else(|_| fallback())
}

/// The problem for an internal failure, whose cause is logged (with its chain), never
/// returned. When the database pool could not give a connection in time (every connection
/// busy, or the database unreachable), the request may simply be tried again: 503 with
/// `Retry-After`, not 500.
pub fn internal_problem(err: &anyhow::Error) -> Problem {
    let pool_exhausted = err
        .chain()
        .any(|cause| cause.downcast_ref::<crate::db::PoolError>().is_some());
    if pool_exhausted {
        tracing::warn!(error = format!("{err:#}"), "no database connection in time");
        return Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
        )
        .with_detail("The service is busy or cannot reach its database. Try again shortly.")
        .with_extension("retry_after", serde_json::json!(RETRY_AFTER_SECONDS));
    }
    tracing::error!(error = format!("{err:#}"), "internal error");
    Problem::internal()
}

/// What a 503 for an exhausted database pool asks the client to wait, in seconds.
const RETRY_AFTER_SECONDS: u64 = 2;

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
    /// Text holds control characters or Unicode noncharacters (JSON pointers of the values).
    #[error("text must not contain control characters or Unicode noncharacters")]
    RefusedCharacters(Vec<String>),
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
            RequestError::RefusedCharacters(pointers) => Problem::validation(
                pointers
                    .into_iter()
                    .map(|pointer| {
                        FieldError::new(
                            pointer,
                            "contains a control character or a Unicode noncharacter",
                        )
                    })
                    .collect(),
            ),
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
    let invalid = |err: serde_json::Error| RequestError::InvalidBody {
        detail: err.to_string(),
    };
    let value: serde_json::Value = serde_json::from_slice(body).map_err(invalid)?;
    let mut refused = Vec::new();
    refused_text(&value, &mut String::new(), &mut refused);
    if !refused.is_empty() {
        return Err(RequestError::RefusedCharacters(refused));
    }
    serde_json::from_value(value).map_err(invalid)
}

/// Collects the JSON pointers of the strings (values and keys) in `value` that hold a
/// character [`gsign_core::text::is_refused_char`] refuses.
fn refused_text(value: &serde_json::Value, pointer: &mut String, found: &mut Vec<String>) {
    let refused = |s: &str| s.chars().any(gsign_core::text::is_refused_char);
    let escape = |key: &str| key.replace('~', "~0").replace('/', "~1");
    match value {
        serde_json::Value::String(s) if refused(s) => found.push(pointer.clone()),
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = pointer.len();
                pointer.push_str(&format!("/{i}"));
                refused_text(item, pointer, found);
                pointer.truncate(len);
            }
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&escape(key));
                if refused(key) {
                    found.push(pointer.clone());
                } else {
                    refused_text(item, pointer, found);
                }
                pointer.truncate(len);
            }
        }
        _ => {}
    }
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
    fn an_exhausted_database_pool_answers_503_with_retry_after_and_anything_else_500() {
        let pool: anyhow::Error =
            crate::db::PoolError::Timeout(deadpool_postgres::TimeoutType::Wait).into();
        let busy = problem(
            internal_problem(&pool.context("loading the envelope")),
            "r1",
        );
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            busy.headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some("2")
        );
        let other = problem(internal_problem(&anyhow::anyhow!("a bug")), "r2");
        assert_eq!(other.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(other.headers().get(header::RETRY_AFTER).is_none());
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
