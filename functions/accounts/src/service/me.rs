//! `GET /v1/me` (function `api-get-me`): the caller's own profile and organization.

use chrono::{DateTime, Utc};
use gsign_core::{Action, Credential, Principal};
use gsign_platform::database::{Database, Session};
use gsign_platform::params;
use serde::Serialize;
use uuid::Uuid;

use crate::error::AccountsError;

/// The route's clients.
pub struct GetMe {
    pub(crate) db: Database,
}

/// The profile as returned.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Profile {
    /// The user's id.
    id: Uuid,
    /// Email address.
    email: String,
    /// First name.
    first_name: Option<String>,
    /// Last name.
    last_name: Option<String>,
    /// Role in the organization.
    #[schemars(with = "gsign_core::Role")]
    role: String,
    /// Account status.
    #[schemars(with = "crate::service::schemas::MemberStatus")]
    status: String,
    /// When the address was confirmed (`null`: never).
    email_verified_at: Option<DateTime<Utc>>,
    /// Last successful sign-in.
    last_login_at: Option<DateTime<Utc>>,
    /// When the account was created.
    created_at: DateTime<Utc>,
    /// The user's organization.
    organization: OrganizationSummary,
}

/// The caller's organization, in brief.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct OrganizationSummary {
    /// The organization's id.
    id: Uuid,
    /// Its name.
    name: String,
    /// Its unique slug.
    slug: String,
}

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
        let row = client
            .fetch_optional(
                "SELECT u.id, u.email, u.first_name, u.last_name, u.role, u.status,
                        u.email_verified_at, u.last_login_at, u.created_at,
                        o.id AS organization_id, o.name AS organization_name,
                        o.slug AS organization_slug
                   FROM users u JOIN organizations o ON o.id = u.organization_id
                  WHERE u.id = :user_id AND u.organization_id = :org_id",
                params!(user_id, org_id),
            )
            .await?
            .ok_or(AccountsError::NotFound("user"))?;
        Ok(Profile {
            id: row.get("id")?,
            email: row.get("email")?,
            first_name: row.get("first_name")?,
            last_name: row.get("last_name")?,
            role: row.get("role")?,
            status: row.get("status")?,
            email_verified_at: row.get("email_verified_at")?,
            last_login_at: row.get("last_login_at")?,
            created_at: row.get("created_at")?,
            organization: OrganizationSummary {
                id: row.get("organization_id")?,
                name: row.get("organization_name")?,
                slug: row.get("organization_slug")?,
            },
        })
    }
}
