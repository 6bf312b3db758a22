//! The documents domain's errors: the shared route error with this area's own cases, mapped to problem details once.

use gsign_core::documents::{DeletionBlocker, DocumentStatus};
use gsign_core::{IntoProblem, Problem};
use gsign_platform::route_error::RouteError;
use http::StatusCode;

/// What can go wrong in a document route.
pub type DocumentsError = RouteError<DocumentsCase>;

/// What only this area refuses or fails with.
#[derive(Debug, thiserror::Error)]
pub enum DocumentsCase {
    /// The document cannot be deleted now.
    #[error("cannot delete: {0:?}")]
    Undeletable(DeletionBlocker),
    /// The requested variant does not exist yet (still processing) or will not (failed).
    #[error("document not ready")]
    NotReady {
        /// Its status.
        status: DocumentStatus,
        /// Its failure reason, when failed.
        reason: Option<String>,
    },
}

gsign_platform::route_error_area!(DocumentsCase);

impl IntoProblem for DocumentsCase {
    fn into_problem(self) -> Problem {
        match self {
            DocumentsCase::Undeletable(blocker) => Problem::new(
                StatusCode::CONFLICT,
                blocker.slug(),
                "Document cannot be deleted",
            )
            .with_detail(blocker.detail()),
            DocumentsCase::NotReady { status, reason } => {
                let detail = match &reason {
                    Some(reason) => format!("The document failed at ingest ({reason})."),
                    None => format!(
                        "The document is {}; try again when it is ready.",
                        status.as_str()
                    ),
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
        }
    }
}
