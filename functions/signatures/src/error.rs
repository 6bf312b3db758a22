//! The verification route's errors: the shared route error with this area's own cases, mapped to problem details once.

use gsign_core::{IntoProblem, Problem};
use gsign_pdf::Rejection;
use gsign_platform::route_error::RouteError;
use http::StatusCode;

/// What can go wrong in `POST /v1/verify`.
pub type VerifyError = RouteError<VerifyCase>;

/// What only this area refuses or fails with.
#[derive(Debug, thiserror::Error)]
pub enum VerifyCase {
    /// The upload exceeds the limit (bytes).
    #[error("upload larger than {0} bytes")]
    TooLarge(usize),
    /// Neither a PDF nor a JSON reference.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// The bytes are not a PDF.
    #[error("not a PDF")]
    NotPdf,
    /// The referenced document has no PDF yet (or never will).
    #[error("document is {}", .0.as_str())]
    DocumentNotReady(gsign_core::documents::DocumentStatus),
    /// The verifier could not read the file within its limits.
    #[error("unreadable PDF: {0:?}")]
    Rejected(Rejection),
}

gsign_platform::route_error_area!(VerifyCase);

impl IntoProblem for VerifyCase {
    fn into_problem(self) -> Problem {
        match self {
            VerifyCase::TooLarge(limit) => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                "Upload too large",
            )
            .with_detail(format!(
                "Upload at most {limit} bytes here; verify larger files by uploading them as documents and sending {{\"document_id\": ...}}."
            ))
            .with_extension("limit", serde_json::json!(limit)),
            VerifyCase::UnsupportedMediaType => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            )
            .with_detail("Send the PDF as application/pdf, or {\"document_id\": ...} as application/json."),
            VerifyCase::NotPdf => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not-a-pdf",
                "Not a PDF",
            )
            .with_detail("The bytes do not start like a PDF file."),
            VerifyCase::DocumentNotReady(status) => Problem::new(
                StatusCode::CONFLICT,
                "document-not-ready",
                "Document not ready",
            )
            .with_detail(format!(
                "The document is {}; it has no PDF to verify.",
                status.as_str()
            ))
            .with_extension("document_status", serde_json::json!(status)),
            VerifyCase::Rejected(rejection) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "pdf-unreadable",
                "The PDF could not be verified",
            )
            .with_detail(format!("{rejection:?}"))
            .with_extension("reason", serde_json::json!(rejection_code(&rejection))),
        }
    }
}

/// The machine-readable code of why the sandbox refused the file (the file's fault).
pub fn rejection_code(rejection: &Rejection) -> String {
    serde_json::to_value(rejection)
        .ok()
        .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "pdf_unreadable".to_owned())
}
