//! The accounts domain's errors: the shared route error with this area's own cases, mapped to problem details once.

use gsign_core::{FieldError, IntoProblem, Problem};
use gsign_platform::route_error::RouteError;
use http::StatusCode;

/// What can go wrong in an account route.
pub type AccountsError = RouteError<AccountsCase>;

/// What only this area refuses or fails with.
#[derive(Debug, thiserror::Error)]
pub enum AccountsCase {
    /// Wrong email or password, or an unusable refresh token: deliberately one answer.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The password is right but the address was never confirmed: no session until it is.
    /// `mail_sent`: whether a new verification link went out with this answer.
    #[error("email address not verified")]
    EmailNotVerified {
        /// A new link was mailed now (at most one per [`crate::service::auth::RESEND_VERIFICATION_AFTER_MINUTES`]).
        mail_sent: bool,
    },
    /// The email address is taken where the caller may know it: a member or invitation of
    /// the caller's organization, or (to the invitee accepting) an account elsewhere. Says
    /// which, for the `/email` error.
    #[error("email already in use: {0}")]
    EmailTaken(&'static str),
    /// The change would break an invariant (e.g. the last owner).
    #[error("{title}")]
    Conflict {
        /// Problem type suffix.
        slug: &'static str,
        /// Problem title.
        title: &'static str,
        /// What to do about it.
        detail: String,
    },
    /// Too many attempts for this address (login, password reset).
    #[error("rate limited")]
    RateLimited(gsign_platform::ratelimit::Decision),
    /// The limiter that protects login could not answer: refuse rather than allow guessing.
    #[error("rate limiter unavailable")]
    LimiterUnavailable,
}

gsign_platform::route_error_area!(AccountsCase);

impl IntoProblem for AccountsCase {
    fn into_problem(self) -> Problem {
        match self {
            AccountsCase::InvalidCredentials => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid-credentials",
                "Invalid credentials",
            )
            .with_detail("The email address and password, or the token, are not valid."),
            AccountsCase::EmailNotVerified { mail_sent } => Problem::new(
                StatusCode::FORBIDDEN,
                "email-not-verified",
                "Email address not verified",
            )
            .with_detail(if mail_sent {
                "Confirm your email address first: we have just mailed you a new link."
            } else {
                "Confirm your email address first with the link we mailed you. A new link is \
                 mailed when you sign in again a few minutes from now."
            })
            .with_extension("verification_mail_sent", serde_json::json!(mail_sent)),
            AccountsCase::EmailTaken(why) => {
                Problem::new(StatusCode::CONFLICT, "email-taken", "Email already in use")
                    .with_errors(vec![FieldError::new("/email", why)])
            }
            AccountsCase::Conflict {
                slug,
                title,
                detail,
            } => Problem::new(StatusCode::CONFLICT, slug, title).with_detail(detail),
            AccountsCase::RateLimited(decision) => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
            )
            .with_detail(format!(
                "Too many attempts; retry in {} s.",
                decision.reset_seconds
            ))
            .with_extension("retry_after", serde_json::json!(decision.reset_seconds)),
            AccountsCase::LimiterUnavailable => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "rate-limiter-unavailable",
                "Temporarily unavailable",
            )
            .with_detail("Sign-in is paused while its protection is unavailable; retry shortly."),
        }
    }
}
