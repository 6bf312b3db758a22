//! The billing domain's errors: the shared route error with this area's own cases, mapped to
//! problem details once.

use gsign_core::{IntoProblem, Problem};
use gsign_platform::route_error::RouteError;
use http::StatusCode;

/// What can go wrong in a billing route.
pub type BillingError = RouteError<BillingCase>;

/// What only this area refuses or fails with.
#[derive(Debug, thiserror::Error)]
pub enum BillingCase {
    /// Stripe's API failed (what it said; never the secret key).
    #[error("Stripe: {0}")]
    Stripe(String),
    /// The organization has no Stripe customer yet (it never subscribed).
    #[error("no Stripe customer")]
    NoStripeCustomer,
    /// The `Stripe-Signature` does not authenticate the event.
    #[error(transparent)]
    Signature(#[from] gsign_core::billing::StripeSignatureError),
}

gsign_platform::route_error_area!(BillingCase);

impl IntoProblem for BillingCase {
    fn into_problem(self) -> Problem {
        match self {
            BillingCase::Stripe(message) => {
                tracing::error!(error = %message, "Stripe API");
                Problem::new(
                    StatusCode::BAD_GATEWAY,
                    "stripe-unavailable",
                    "Payments provider unavailable",
                )
                .with_detail("Stripe could not complete the request; try again shortly.")
            }
            BillingCase::NoStripeCustomer => Problem::new(
                StatusCode::CONFLICT,
                "no-stripe-customer",
                "Not subscribed yet",
            )
            .with_detail("Subscribe first with POST /v1/billing/checkout; the portal manages an existing subscription."),
            BillingCase::Signature(err) => Problem::new(
                StatusCode::BAD_REQUEST,
                "stripe-signature-invalid",
                "Stripe signature refused",
            )
            .with_detail(err.to_string()),
        }
    }
}
