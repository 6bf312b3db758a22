//! The webhooks domain's errors: the shared route error with this area's own cases, mapped
//! to problem details once.

use gsign_core::{IntoProblem, Problem};
use gsign_platform::route_error::RouteError;
use http::StatusCode;

/// What can go wrong in a webhooks route.
pub type WebhooksError = RouteError<WebhooksCase>;

/// What only a webhooks route refuses.
#[derive(Debug, thiserror::Error)]
pub enum WebhooksCase {
    /// The URL is not one we will call (the SSRF guard's reason).
    #[error("URL refused: {0}")]
    UrlRefused(String),
    /// A delivery still in progress cannot be replayed.
    #[error("delivery still pending")]
    StillPending,
}

gsign_platform::route_error_area!(WebhooksCase);

impl IntoProblem for WebhooksCase {
    fn into_problem(self) -> Problem {
        match self {
            WebhooksCase::UrlRefused(reason) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "webhook-url-refused",
                "Webhook URL refused",
            )
            .with_detail(format!(
                "GSign only calls public https endpoints: {reason}."
            ))
            .with_extension("reason", serde_json::json!(reason)),
            WebhooksCase::StillPending => Problem::new(
                StatusCode::CONFLICT,
                "webhook-delivery-pending",
                "Delivery still in progress",
            )
            .with_detail(
                "This delivery has attempts left; retry it once it has failed or been delivered.",
            ),
        }
    }
}
