//! The certificates domain's errors: the shared route error with this area's own cases, mapped to problem details once.

use gsign_core::certificates::LifecycleConflict;
use gsign_core::{IntoProblem, Problem};
use gsign_platform::hsm::HsmError;
use gsign_platform::route_error::RouteError;
use gsign_signing::chain::ChainProblem;
use http::StatusCode;

/// What can go wrong in a certificate route.
pub type CertificatesError = RouteError<CertificatesCase>;

/// What only this area refuses or fails with.
#[derive(Debug, thiserror::Error)]
pub enum CertificatesCase {
    /// The certificate is someone else's, and the caller may not act on it.
    #[error("not the caller's certificate")]
    NotOwner,
    /// The imported chain does not hold.
    #[error("chain refused: {0}")]
    Chain(ChainProblem),
    /// The certificate's state does not allow the change.
    #[error("conflict: {0:?}")]
    Conflict(LifecycleConflict),
    /// The HSM failed; the request may be retried.
    #[error("HSM: {0}")]
    Hsm(#[from] HsmError),
}

gsign_platform::route_error_area!(CertificatesCase);

impl IntoProblem for CertificatesCase {
    fn into_problem(self) -> Problem {
        match self {
            CertificatesCase::NotOwner => {
                Problem::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed")
                    .with_detail("Only the certificate's owner may do this.")
            }
            CertificatesCase::Chain(problem) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "certificate-chain-invalid",
                "Certificate chain refused",
            )
            .with_detail(problem.detail)
            .with_extension("reason", serde_json::json!(problem.code)),
            CertificatesCase::Conflict(conflict) => Problem::new(
                StatusCode::CONFLICT,
                conflict.slug(),
                "Certificate state conflict",
            )
            .with_detail(conflict.detail()),
            CertificatesCase::Hsm(err) => {
                tracing::error!(error = %err, "HSM failure");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "hsm-unavailable",
                    "Signing service unavailable",
                )
                .with_detail("The HSM could not complete the request; try again shortly.")
            }
        }
    }
}
