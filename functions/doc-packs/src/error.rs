//! The document packs domain's errors and their one mapping to problem details.

use gsign_core::{Action, FieldError, IntoProblem, Problem};
use gsign_functions_envelopes::service::EnvelopesError;
use gsign_platform::http::RequestError;
use http::StatusCode;
use uuid::Uuid;

/// What can go wrong in a clause, template or pack route.
#[derive(Debug, thiserror::Error)]
pub enum DocPacksError {
    /// No authorizer context.
    #[error("not authenticated")]
    Unauthenticated,
    /// The role or key scopes do not allow the action.
    #[error("not allowed to {0:?}")]
    Forbidden(Action),
    /// No such clause, template, pack or document in the caller's organization.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The body could not be read.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The input breaks rules (including variables against the clauses' schemas); every
    /// problem is listed.
    #[error("invalid input")]
    Validation(Vec<FieldError>),
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
    /// Creating, sending or voiding an envelope failed.
    #[error(transparent)]
    Envelope(#[from] EnvelopesError),
    /// A dependency failed; the cause is logged, never returned.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

gsign_platform::route_error_conversions!(DocPacksError);

impl IntoProblem for DocPacksError {
    fn into_problem(self) -> Problem {
        match self {
            DocPacksError::Unauthenticated => Problem::unauthenticated(),
            DocPacksError::Forbidden(action) => Problem::forbidden(action),
            DocPacksError::NotFound(what) => Problem::not_found(what),
            DocPacksError::Request(err) => err.into_problem(),
            DocPacksError::Validation(errors) => Problem::validation(errors),
            DocPacksError::Gated(errors) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "gated",
                "Not allowed for this city or these signers",
            )
            .with_detail("A clause or template is restricted to other cities or signer roles; each refusal says which.")
            .with_errors(errors),
            DocPacksError::AlreadyPublished => Problem::new(
                StatusCode::CONFLICT,
                "already-published",
                "Already published",
            )
            .with_detail("Published versions never change; create a new version instead."),
            DocPacksError::PackStatus(status) => Problem::new(
                StatusCode::CONFLICT,
                "pack-status",
                "Not possible in the pack's status",
            )
            .with_detail(format!("The pack is {status}."))
            .with_extension("pack_status", serde_json::json!(status)),
            DocPacksError::ReferenceInUse(pack) => Problem::new(
                StatusCode::CONFLICT,
                "reference-in-use",
                "This reference has a live pack",
            )
            .with_detail(format!(
                "Pack {pack} is the live pack for this reference; regenerate or void it instead."
            ))
            .with_extension("pack_id", serde_json::json!(pack)),
            DocPacksError::Envelope(err) => err.into_problem(),
            DocPacksError::Internal(err) => gsign_platform::http::internal_problem(&err),
        }
    }
}
