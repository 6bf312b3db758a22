//! The accounts domain's errors and their one mapping to problem details.

use gsign_core::{Action, IntoProblem, Problem};
use http::StatusCode;

/// What can go wrong in an account route.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    /// The request reached the route without an authorizer context.
    #[error("not authenticated")]
    Unauthenticated,
    /// The caller's role or key scopes do not allow the action.
    #[error("not allowed to {0:?}")]
    Forbidden(Action),
    /// The resource does not exist in the caller's organization (other tenants' ids too).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A dependency failed; the cause is logged, never returned.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<tokio_postgres::Error> for AccountsError {
    fn from(err: tokio_postgres::Error) -> Self {
        Self::Internal(err.into())
    }
}

impl From<deadpool_postgres::PoolError> for AccountsError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        Self::Internal(err.into())
    }
}

impl IntoProblem for AccountsError {
    fn into_problem(self) -> Problem {
        match self {
            AccountsError::Unauthenticated => Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
            ),
            AccountsError::Forbidden(action) => {
                Problem::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed").with_detail(
                    format!("Your role or API key scopes do not allow {action:?}."),
                )
            }
            AccountsError::NotFound(what) => {
                Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found")
                    .with_detail(format!("No such {what} in your organization."))
            }
            AccountsError::Internal(err) => {
                tracing::error!(error = format!("{err:#}"), "internal error");
                Problem::internal()
            }
        }
    }
}
