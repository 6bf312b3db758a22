//! The documents domain's errors and their one mapping to problem details.

use gsign_core::documents::DeletionBlocker;
use gsign_core::{Action, FieldError, IntoProblem, Problem};
use gsign_platform::http::RequestError;
use http::StatusCode;

/// What can go wrong in a document route.
#[derive(Debug, thiserror::Error)]
pub enum DocumentsError {
    /// The request reached the route without an authorizer context.
    #[error("not authenticated")]
    Unauthenticated,
    /// The caller's role or key scopes do not allow the action.
    #[error("not allowed to {0:?}")]
    Forbidden(Action),
    /// No such document in the caller's organization (other tenants' ids too).
    #[error("document not found")]
    NotFound,
    /// The body could not be read.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The input breaks rules; every problem is listed.
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    /// The document cannot be deleted now.
    #[error("cannot delete: {0:?}")]
    Undeletable(DeletionBlocker),
    /// The requested variant does not exist yet (still processing) or will not (failed).
    #[error("document not ready")]
    NotReady {
        /// Its status.
        status: String,
        /// Its failure reason, when failed.
        reason: Option<String>,
    },
    /// A dependency failed; the cause is logged, never returned.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

gsign_platform::route_error_conversions!(DocumentsError);

impl IntoProblem for DocumentsError {
    fn into_problem(self) -> Problem {
        match self {
            DocumentsError::Unauthenticated => Problem::unauthenticated(),
            DocumentsError::Forbidden(action) => Problem::forbidden(action),
            DocumentsError::NotFound => Problem::not_found("document"),
            DocumentsError::Request(err) => err.into_problem(),
            DocumentsError::Validation(errors) => Problem::validation(errors),
            DocumentsError::Undeletable(blocker) => Problem::new(
                StatusCode::CONFLICT,
                blocker.slug(),
                "Document cannot be deleted",
            )
            .with_detail(blocker.detail()),
            DocumentsError::NotReady { status, reason } => {
                let detail = match &reason {
                    Some(reason) => format!("The document failed at ingest ({reason})."),
                    None => format!("The document is {status}; try again when it is ready."),
                };
                Problem::new(
                    StatusCode::CONFLICT,
                    "document-not-ready",
                    "Document not ready",
                )
                .with_detail(detail)
                .with_extension("document_status", serde_json::json!(status))
                .with_extension("failure_reason", serde_json::json!(reason))
            }
            DocumentsError::Internal(err) => gsign_platform::http::internal_problem(&err),
        }
    }
}
