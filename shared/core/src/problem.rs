//! RFC 9457 problem details: the one error body every route answers with.

use http::StatusCode;
use serde::{Deserialize, Serialize};

/// Base of every problem `type` URI. The URIs are stable identifiers, documented in
/// `docs/problems.md`; clients may match on them.
pub const PROBLEM_BASE: &str = "https://gsign.dev/problems/";

/// The media type of a problem body.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// One invalid input, pointing at the offending member of the request (JSON Pointer, RFC 6901).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FieldError {
    /// JSON Pointer to the member, e.g. `/recipients/0/email`; empty for the whole body.
    pub pointer: String,
    /// What is wrong, in words a developer can act on.
    pub detail: String,
}

impl FieldError {
    /// A field error for `pointer` with `detail`.
    pub fn new(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            detail: detail.into(),
        }
    }
}

/// The members RFC 9457 defines (and GSign's `errors`): no extension may take these names.
pub const RESERVED_MEMBERS: [&str; 6] = ["type", "title", "status", "detail", "instance", "errors"];

/// A problem details object (RFC 9457). `type` is a stable URI under [`PROBLEM_BASE`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Problem {
    /// Stable identifier of the problem kind.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short, human-readable summary of the kind; the same for every occurrence.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// Explanation specific to this occurrence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request this occurrence belongs to (the request id), for support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Every invalid input at once, for validation problems.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub errors: Vec<FieldError>,
    /// Extension members (RFC 9457 section 3.2), e.g. `retry_after` or `limit`.
    #[serde(flatten, skip_serializing_if = "serde_json::Map::is_empty", default)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

impl Problem {
    /// A problem of kind `slug` (appended to [`PROBLEM_BASE`]) with `status` and `title`.
    pub fn new(status: StatusCode, slug: &str, title: impl Into<String>) -> Self {
        Self {
            kind: format!("{PROBLEM_BASE}{slug}"),
            title: title.into(),
            status: status.as_u16(),
            detail: None,
            instance: None,
            errors: Vec::new(),
            extensions: serde_json::Map::new(),
        }
    }

    /// Adds the occurrence-specific explanation.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds field errors.
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    /// Adds an extension member.
    pub fn with_extension(mut self, key: &str, value: serde_json::Value) -> Self {
        // An extension named like a standard member would put that key twice in the JSON
        // (and, read back, replace the HTTP status by a word).
        debug_assert!(
            !RESERVED_MEMBERS.contains(&key),
            "problem extension {key:?} collides with an RFC 9457 member"
        );
        self.extensions.insert(key.to_owned(), value);
        self
    }

    /// The HTTP status as a [`StatusCode`] (500 if the stored number is not a valid status).
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// 401: no usable credentials reached the route.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authentication required",
        )
    }

    /// 403: the caller's role or API key scopes do not allow `action`.
    pub fn forbidden(action: crate::Action) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed").with_detail(format!(
            "Your role or API key scopes do not allow {action:?}."
        ))
    }

    /// 404: no such `what` in the caller's organization (other tenants' ids included).
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found")
            .with_detail(format!("No such {what} in your organization."))
    }

    /// 422 listing every problem with the input.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Invalid input",
        )
        .with_detail(format!("{} problem(s) with the input.", errors.len()))
        .with_errors(errors)
    }

    /// The generic 500: never carries internal detail; the cause is logged, not returned.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal server error",
        )
        .with_detail("The request could not be completed. Quote the instance id to support.")
    }
}

/// A domain error that knows its HTTP meaning. Each domain implements this once, with an
/// exhaustive `match`, so adding a variant without deciding its status does not compile.
pub trait IntoProblem {
    /// The problem details this error answers with.
    fn into_problem(self) -> Problem;
}

impl IntoProblem for Problem {
    fn into_problem(self) -> Problem {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_serialises_with_rfc9457_member_names_and_flattened_extensions() {
        let problem = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Invalid input",
        )
        .with_detail("2 problems")
        .with_errors(vec![FieldError::new("/name", "must not be empty")])
        .with_extension("limit", serde_json::json!(25));
        let json = serde_json::to_value(&problem).expect("serialises");
        assert_eq!(json["type"], "https://gsign.dev/problems/validation");
        assert_eq!(json["status"], 422);
        assert_eq!(json["errors"][0]["pointer"], "/name");
        assert_eq!(json["limit"], 25);
        assert!(json.get("instance").is_none());
    }

    #[test]
    fn internal_problem_reveals_nothing_about_the_cause() {
        let problem = Problem::internal();
        assert_eq!(problem.status, 500);
        assert!(problem.errors.is_empty());
        assert!(problem.extensions.is_empty());
    }
}
