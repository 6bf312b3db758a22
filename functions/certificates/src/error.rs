//! The certificates domain's errors and their one mapping to problem details.

use gsign_core::certificates::LifecycleConflict;
use gsign_core::{Action, FieldError, IntoProblem, Problem};
use gsign_platform::hsm::HsmError;
use gsign_platform::http::RequestError;
use gsign_signing::chain::ChainProblem;
use http::StatusCode;

/// What can go wrong in a certificate route.
#[derive(Debug, thiserror::Error)]
pub enum CertificatesError {
    /// The plan's certificate limit is reached.
    #[error(transparent)]
    Quota(#[from] gsign_core::billing::QuotaExceeded),
    /// The request reached the route without an authorizer context.
    #[error("not authenticated")]
    Unauthenticated,
    /// The caller's role or key scopes do not allow the action.
    #[error("not allowed to {0:?}")]
    Forbidden(Action),
    /// The certificate is someone else's, and the caller may not act on it.
    #[error("not the caller's certificate")]
    NotOwner,
    /// No such certificate in the caller's organization (other tenants' ids too).
    #[error("certificate not found")]
    NotFound,
    /// The body could not be read.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The input breaks rules; every problem is listed.
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    /// The imported chain does not hold.
    #[error("chain refused: {0}")]
    Chain(ChainProblem),
    /// The certificate's state does not allow the change.
    #[error("conflict: {0:?}")]
    Conflict(LifecycleConflict),
    /// The HSM failed; the request may be retried.
    #[error("HSM: {0}")]
    Hsm(#[from] HsmError),
    /// A dependency failed; the cause is logged, never returned.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<gsign_signing::SignError> for CertificatesError {
    fn from(err: gsign_signing::SignError) -> Self {
        Self::Internal(anyhow::anyhow!("certificate encoding: {err}"))
    }
}

gsign_platform::route_error_conversions!(CertificatesError);

impl IntoProblem for CertificatesError {
    fn into_problem(self) -> Problem {
        match self {
            CertificatesError::Unauthenticated => Problem::unauthenticated(),
            CertificatesError::Forbidden(action) => Problem::forbidden(action),
            CertificatesError::NotOwner => {
                Problem::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed")
                    .with_detail("Only the certificate's owner may do this.")
            }
            CertificatesError::NotFound => Problem::not_found("certificate"),
            CertificatesError::Quota(exceeded) => exceeded.into_problem(),
            CertificatesError::Request(err) => err.into_problem(),
            CertificatesError::Validation(errors) => Problem::validation(errors),
            CertificatesError::Chain(problem) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "certificate-chain-invalid",
                "Certificate chain refused",
            )
            .with_detail(problem.detail)
            .with_extension("reason", serde_json::json!(problem.code)),
            CertificatesError::Conflict(conflict) => Problem::new(
                StatusCode::CONFLICT,
                conflict.slug(),
                "Certificate state conflict",
            )
            .with_detail(conflict.detail()),
            CertificatesError::Hsm(err) => {
                tracing::error!(error = %err, "HSM failure");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "hsm-unavailable",
                    "Signing service unavailable",
                )
                .with_detail("The HSM could not complete the request; try again shortly.")
            }
            CertificatesError::Internal(err) => gsign_platform::http::internal_problem(&err),
        }
    }
}
