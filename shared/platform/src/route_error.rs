//! The one error type of every route: the cases all areas share, each mapped to its problem
//! details once here, and an area's own cases (`Area`), which the area maps.
//!
//! Each area names it once, `pub type EnvelopesError = RouteError<EnvelopesCase>`, so its
//! code writes `EnvelopesError::NotFound("envelope")` for a shared case and
//! `EnvelopesCase::NotDraft(status).into()` for its own.

use gsign_core::billing::QuotaExceeded;
use gsign_core::{Action, FieldError, IntoProblem, Problem};

use crate::hsm::HsmError;
use crate::http::{internal_problem, CallerError, RequestError};
use crate::kms_keys::KmsKeyError;

/// What can go wrong in a route of any area; `A` is what only that area can refuse or fail
/// with.
#[derive(Debug, thiserror::Error)]
pub enum RouteError<A> {
    /// The request reached the route without an authorizer context.
    #[error("not authenticated")]
    Unauthenticated,
    /// The caller's role or key scopes do not allow the action.
    #[error("not allowed to {0:?}")]
    Forbidden(Action),
    /// The resource does not exist in the caller's organization (other tenants' ids too).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The body or a parameter could not be read.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The input breaks rules; every problem is listed.
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    /// The plan's allowance is used up.
    #[error(transparent)]
    Quota(#[from] QuotaExceeded),
    /// What only this area refuses or fails with.
    #[error(transparent)]
    Area(A),
    /// A dependency failed; the cause is logged with its chain, never returned.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl<A> RouteError<A> {
    /// One invalid input at `pointer` (a JSON pointer into the body, or `/name` for a
    /// parameter).
    pub fn invalid(pointer: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(pointer, message)])
    }

    /// The same error with its area's cases turned into another area's (for an area that
    /// calls another's service and answers its refusals as its own).
    pub fn map_area<B>(self, map: impl FnOnce(A) -> RouteError<B>) -> RouteError<B> {
        match self {
            Self::Unauthenticated => RouteError::Unauthenticated,
            Self::Forbidden(action) => RouteError::Forbidden(action),
            Self::NotFound(what) => RouteError::NotFound(what),
            Self::Request(err) => RouteError::Request(err),
            Self::Validation(errors) => RouteError::Validation(errors),
            Self::Quota(exceeded) => RouteError::Quota(exceeded),
            Self::Area(case) => map(case),
            Self::Internal(err) => RouteError::Internal(err),
        }
    }
}

impl<A: IntoProblem> IntoProblem for RouteError<A> {
    fn into_problem(self) -> Problem {
        match self {
            Self::Unauthenticated => Problem::unauthenticated(),
            Self::Forbidden(action) => Problem::forbidden(action),
            Self::NotFound(what) => Problem::not_found(what),
            Self::Request(err) => err.into_problem(),
            Self::Validation(errors) => Problem::validation(errors),
            Self::Quota(exceeded) => exceeded.into_problem(),
            Self::Area(case) => case.into_problem(),
            Self::Internal(err) => internal_problem(&err),
        }
    }
}

impl<A> From<CallerError> for RouteError<A> {
    fn from(err: CallerError) -> Self {
        match err {
            CallerError::Unauthenticated => Self::Unauthenticated,
            CallerError::Forbidden(action) => Self::Forbidden(action),
        }
    }
}

impl<A> From<crate::db::PgError> for RouteError<A> {
    fn from(err: crate::db::PgError) -> Self {
        Self::Internal(crate::telemetry::located(err))
    }
}

impl<A> From<crate::database::DbError> for RouteError<A> {
    fn from(err: crate::database::DbError) -> Self {
        Self::Internal(crate::telemetry::located(err))
    }
}

impl<A> From<crate::db::PoolError> for RouteError<A> {
    fn from(err: crate::db::PoolError) -> Self {
        Self::Internal(crate::telemetry::located(err))
    }
}

impl<A> From<gsign_signing::SignError> for RouteError<A> {
    fn from(err: gsign_signing::SignError) -> Self {
        Self::Internal(anyhow::Error::new(err).context("signing engine"))
    }
}

// An area that answers HSM, KMS or Stripe signature failures in its own way says so with a
// case of its own (`impl From<HsmError> for ItsCase`); these let `?` reach it. (The orphan
// rule keeps an area from writing `From<HsmError> for RouteError<ItsCase>` itself.)

impl<A: From<HsmError>> From<HsmError> for RouteError<A> {
    fn from(err: HsmError) -> Self {
        Self::Area(A::from(err))
    }
}

impl<A: From<KmsKeyError>> From<KmsKeyError> for RouteError<A> {
    fn from(err: KmsKeyError) -> Self {
        Self::Area(A::from(err))
    }
}

impl<A: From<gsign_core::billing::StripeSignatureError>>
    From<gsign_core::billing::StripeSignatureError> for RouteError<A>
{
    fn from(err: gsign_core::billing::StripeSignatureError) -> Self {
        Self::Area(A::from(err))
    }
}

/// Declares `impl From<$case> for RouteError<$case>`, so `?` and `.into()` lift an area's own
/// case into its route error (the orphan rule lets only the area's crate write it).
#[macro_export]
macro_rules! route_error_area {
    ($case:ty) => {
        impl From<$case> for $crate::route_error::RouteError<$case> {
            fn from(case: $case) -> Self {
                $crate::route_error::RouteError::Area(case)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[derive(Debug, thiserror::Error)]
    enum Own {
        #[error("teapot")]
        Teapot,
    }

    impl IntoProblem for Own {
        fn into_problem(self) -> Problem {
            Problem::new(StatusCode::IM_A_TEAPOT, "teapot", "Teapot")
        }
    }

    crate::route_error_area!(Own);

    #[test]
    fn shared_cases_answer_the_same_in_every_area_and_own_cases_as_the_area_says() {
        let not_found: RouteError<Own> = RouteError::NotFound("envelope");
        assert_eq!(not_found.into_problem().status, 404);
        let own: RouteError<Own> = Own::Teapot.into();
        assert_eq!(own.into_problem().status, 418);
        let caller: RouteError<Own> = CallerError::Forbidden(Action::ListMembers).into();
        assert_eq!(caller.into_problem().status, 403);
    }

    #[test]
    fn another_areas_error_keeps_its_shared_cases_when_mapped() {
        let theirs: RouteError<Own> = RouteError::invalid("/name", "required");
        let ours: RouteError<std::convert::Infallible> = theirs.map_area(|_| unreachable!());
        assert!(matches!(ours, RouteError::Validation(errors) if errors.len() == 1));
        let theirs: RouteError<Own> = Own::Teapot.into();
        let ours: RouteError<std::convert::Infallible> =
            theirs.map_area(|case| RouteError::Internal(anyhow::anyhow!("{case}")));
        assert!(matches!(ours, RouteError::Internal(_)));
    }
}
