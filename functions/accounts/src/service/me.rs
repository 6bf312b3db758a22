//! `GET /v1/me` (function `api-get-me`): the caller's own profile and organization.

use gsign_core::{Action, Credential, Principal};
use gsign_platform::database::Database;
use uuid::Uuid;

use crate::error::AccountsError;
use crate::store::users;

/// The route's clients.
pub struct GetMe {
    pub(crate) db: Database,
}

pub use crate::store::users::{OrganizationSummary, Profile};

impl GetMe {
    #[tracing::instrument(skip_all)]
    pub(crate) async fn profile(&self, principal: &Principal) -> Result<Profile, AccountsError> {
        if !principal.may(Action::ReadOwnProfile) {
            return Err(AccountsError::Forbidden(Action::ReadOwnProfile));
        }
        let Credential::Session { user_id, .. } = &principal.credential else {
            return Err(AccountsError::Forbidden(Action::ReadOwnProfile));
        };
        let (Ok(user_id), Ok(org_id)) = (
            user_id.parse::<Uuid>(),
            principal.organization_id.parse::<Uuid>(),
        ) else {
            return Err(AccountsError::Unauthenticated);
        };
        let client = self.db.connect().await?;
        users::profile(&client, user_id, org_id)
            .await?
            .ok_or(AccountsError::NotFound("user"))
    }
}
