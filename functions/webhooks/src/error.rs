//! The webhooks domain's errors and their one mapping to problem details.

use gsign_core::{Action, FieldError, IntoProblem, Problem};
use gsign_platform::http::RequestError;
use http::StatusCode;

/// What can go wrong in a webhooks route.
#[derive(Debug, thiserror::Error)]
pub enum WebhooksError {
    /// No authorizer context.
    #[error("not authenticated")]
    Unauthenticated,
    /// The role or key scopes do not allow the action.
    #[error("not allowed to {0:?}")]
    Forbidden(Action),
    /// No such webhook (or delivery) in the caller's organization.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The body could not be read.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The input breaks rules; every problem is listed.
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    /// The URL is not one we will call (the SSRF guard's reason).
    #[error("URL refused: {0}")]
    UrlRefused(String),
    /// A delivery still in progress cannot be replayed.
    #[error("delivery still pending")]
    StillPending,
    /// A dependency failed; the cause is logged, never returned.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

gsign_platform::route_error_conversions!(WebhooksError);

impl IntoProblem for WebhooksError {
    fn into_problem(self) -> Problem {
        match self {
            WebhooksError::Unauthenticated => Problem::unauthenticated(),
            WebhooksError::Forbidden(action) => Problem::forbidden(action),
            WebhooksError::NotFound(what) => Problem::not_found(what),
            WebhooksError::Request(err) => err.into_problem(),
            WebhooksError::Validation(errors) => Problem::validation(errors),
            WebhooksError::UrlRefused(reason) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "webhook-url-refused",
                "Webhook URL refused",
            )
            .with_detail(format!(
                "GSign only calls public https endpoints: {reason}."
            ))
            .with_extension("reason", serde_json::json!(reason)),
            WebhooksError::StillPending => Problem::new(
                StatusCode::CONFLICT,
                "webhook-delivery-pending",
                "Delivery still in progress",
            )
            .with_detail(
                "This delivery has attempts left; retry it once it has failed or been delivered.",
            ),
            WebhooksError::Internal(err) => gsign_platform::http::internal_problem(&err),
        }
    }
}
