//! The document packs domain's errors: the shared route error with this area's own cases, mapped to problem details once.

use gsign_core::{FieldError, IntoProblem, Problem};
use gsign_functions_envelopes::service::{EnvelopesCase, EnvelopesError};
use gsign_platform::route_error::RouteError;
use http::StatusCode;
use uuid::Uuid;

/// What can go wrong in a clause, template or pack route.
pub type DocPacksError = RouteError<DocPacksCase>;

/// What only this area refuses or fails with.
#[derive(Debug, thiserror::Error)]
pub enum DocPacksCase {
    /// A clause or template is gated to other cities or signer roles; every refusal listed.
    #[error("gated")]
    Gated(Vec<FieldError>),
    /// That version is published already, and published versions never change.
    #[error("already published")]
    AlreadyPublished,
    /// The pack's status does not allow this (its status).
    #[error("pack is {0}")]
    PackStatus(String),
    /// Another live pack has this reference.
    #[error("reference in use by {0}")]
    ReferenceInUse(Uuid),
    /// The envelopes area refused creating, sending or voiding an envelope, in its own words.
    #[error(transparent)]
    Envelope(EnvelopesCase),
}

gsign_platform::route_error_area!(DocPacksCase);

/// An envelopes error as a pack route answers it: shared cases stay what they are, the
/// envelopes area's own are passed on as it words them.
pub fn from_envelopes(err: EnvelopesError) -> DocPacksError {
    err.map_area(|case| DocPacksCase::Envelope(case).into())
}

impl IntoProblem for DocPacksCase {
    fn into_problem(self) -> Problem {
        match self {
            DocPacksCase::Gated(errors) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "gated",
                "Not allowed for this city or these signers",
            )
            .with_detail("A clause or template is restricted to other cities or signer roles; each refusal says which.")
            .with_errors(errors),
            DocPacksCase::AlreadyPublished => Problem::new(
                StatusCode::CONFLICT,
                "already-published",
                "Already published",
            )
            .with_detail("Published versions never change; create a new version instead."),
            DocPacksCase::PackStatus(status) => Problem::new(
                StatusCode::CONFLICT,
                "pack-status",
                "Not possible in the pack's status",
            )
            .with_detail(format!("The pack is {status}."))
            .with_extension("pack_status", serde_json::json!(status)),
            DocPacksCase::ReferenceInUse(pack) => Problem::new(
                StatusCode::CONFLICT,
                "reference-in-use",
                "This reference has a live pack",
            )
            .with_detail(format!(
                "Pack {pack} is the live pack for this reference; regenerate or void it instead."
            ))
            .with_extension("pack_id", serde_json::json!(pack)),
            DocPacksCase::Envelope(err) => err.into_problem(),
        }
    }
}
