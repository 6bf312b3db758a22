//! The documents domain's errors and their one mapping to problem details.

use gsign_core::documents::DeletionBlocker;
use gsign_core::{Action, FieldError, IntoProblem, Problem};
use gsign_platform::http::{CallerError, RequestError};
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

impl From<CallerError> for DocumentsError {
    fn from(err: CallerError) -> Self {
        match err {
            CallerError::Unauthenticated => Self::Unauthenticated,
            CallerError::Forbidden(action) => Self::Forbidden(action),
        }
    }
}

impl From<tokio_postgres::Error> for DocumentsError {
    fn from(err: tokio_postgres::Error) -> Self {
        Self::Internal(err.into())
    }
}

impl From<deadpool_postgres::PoolError> for DocumentsError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        Self::Internal(err.into())
    }
}

impl IntoProblem for DocumentsError {
    fn into_problem(self) -> Problem {
        match self {
            DocumentsError::Unauthenticated => Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
            ),
            DocumentsError::Forbidden(action) => {
                Problem::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed").with_detail(
                    format!("Your role or API key scopes do not allow {action:?}."),
                )
            }
            DocumentsError::NotFound => {
                Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found")
                    .with_detail("No such document in your organization.")
            }
            DocumentsError::Request(err) => err.into_problem(),
            DocumentsError::Validation(errors) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid input",
            )
            .with_detail(format!("{} problem(s) with the input.", errors.len()))
            .with_errors(errors),
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
                .with_extension("status", serde_json::json!(status))
                .with_extension("failure_reason", serde_json::json!(reason))
            }
            DocumentsError::Internal(err) => {
                tracing::error!(error = format!("{err:#}"), "internal error");
                Problem::internal()
            }
        }
    }
}
