//! The signed-in routes that manage an account and its organization: `PATCH /v1/me`,
//! `GET|PATCH /v1/organization`, `GET|POST /v1/organization/users`,
//! `PATCH|DELETE /v1/organization/users/{id}`, `GET|POST /v1/api-keys`,
//! `DELETE /v1/api-keys/{id}` and `GET /v1/audit-events`.
//!
//! Every route names its [`Action`]; the principal's role and scopes decide (one table in
//! `gsign_core::access`). Every query is scoped to the principal's organization, so another
//! tenant's id is simply not found (404).

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use gsign_core::access::may_assign;
use gsign_core::accounts::{password_problems, EmailAddress};
use gsign_core::{Action, Credential, Env, FieldError, Principal, Role, Scope};
use gsign_platform::cache::Cache;
use gsign_platform::credentials;
use gsign_platform::database::{Database, Transaction};
use gsign_platform::outbox::{self, AuditEvent, Email, Relay};
use gsign_platform::pagination::PageRequest;
use gsign_platform::ratelimit::RateLimiter;
use gsign_platform::{aws, sessions};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{AccountsCase, AccountsError};
use crate::service::auth::ClientInfo;
use crate::service::{Common, CommonConfig};
use crate::store::audit_events::{self, AuditFilter, AuditSubject};
use crate::store::tokens::{self, Purpose};
use crate::store::users::{self, NewInvitee};
use crate::store::{self, api_keys, organizations};

pub use crate::store::api_keys::KeyView;
pub use crate::store::users::MemberView;

const MAX_PAGE: i64 = 100;

/// The service behind the management routes.
pub struct Manage {
    pub(crate) db: Database,
    cache: Arc<Cache>,
    pub(crate) limiter: RateLimiter,
    relay: Relay,
    dynamodb: aws_sdk_dynamodb::Client,
    audit_table: String,
    app_url: String,
}

impl Manage {
    /// Reads the configuration from `env` (every problem at once) and builds the clients.
    #[tracing::instrument(skip_all)]
    pub async fn from_env(env: &Env) -> Result<Self, gsign_platform::lambda::StartupError> {
        let mut r = env.reader();
        let common = CommonConfig::read(&mut r);
        let audit_table = r.required::<String>("AUDIT_EVENTS_TABLE");
        let (common, audit_table) = r.finish(|| Some((common?, audit_table?)))?;
        let common = Common::build(common).await?;
        Ok(Self {
            dynamodb: aws::dynamodb(&common.sdk),
            db: common.db,
            cache: common.cache,
            limiter: common.limiter,
            relay: common.relay,
            audit_table,
            app_url: common.app_url,
        })
    }
}

/// The caller, checked and parsed.
pub struct Caller {
    org: Uuid,
    role: Role,
    user: Option<Uuid>,
    key: Option<Uuid>,
    session: Option<Uuid>,
    client: ClientInfo,
}

impl Caller {
    /// The caller `principal`, if it may perform `action`.
    pub fn of(
        principal: &Principal,
        action: Action,
        client: ClientInfo,
    ) -> Result<Self, AccountsError> {
        if !principal.may(action) {
            return Err(AccountsError::Forbidden(action));
        }
        let org = principal
            .organization_id
            .parse()
            .map_err(|_| AccountsError::Unauthenticated)?;
        let (user, key, session) = match &principal.credential {
            Credential::Session {
                user_id,
                session_id,
            } => (
                Some(
                    user_id
                        .parse()
                        .map_err(|_| AccountsError::Unauthenticated)?,
                ),
                None,
                session_id.parse().ok(),
            ),
            Credential::ApiKey { key_id, .. } => (None, key_id.parse().ok(), None),
        };
        Ok(Self {
            org,
            role: principal.role,
            user,
            key,
            session,
            client,
        })
    }

    fn event(
        &self,
        action: &str,
        resource: (&str, String),
        details: serde_json::Value,
    ) -> AuditEvent {
        AuditEvent {
            action: action.to_owned(),
            organization_id: self.org,
            actor_user_id: self.user,
            actor_api_key_id: self.key,
            resource_type: resource.0.to_owned(),
            resource_id: resource.1,
            ip: self.client.ip.clone(),
            user_agent: self.client.user_agent.clone(),
            details,
        }
    }
}

// ------------------------------------------------------------------ bodies and views

/// `PATCH /v1/me` body. `role`, `email` or `organization_id` are refused (unknown fields).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// New first name, at most 100 characters (absent or `null`: unchanged).
    #[serde(default)]
    #[schemars(length(max = 100))]
    first_name: Option<String>,
    /// New last name, at most 100 characters (absent or `null`: unchanged).
    #[serde(default)]
    #[schemars(length(max = 100))]
    last_name: Option<String>,
    /// A password change; every other session ends.
    #[serde(default)]
    password: Option<PasswordChange>,
}

/// A password change: the current password proves it is the account holder.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The current password.
    #[schemars(with = "String")]
    current: SecretString,
    /// The new password: 8 to 128 characters, not a common one, not the address.
    #[schemars(with = "String", length(min = 8, max = 128))]
    new: SecretString,
}

/// `PATCH /v1/organization` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationUpdate {
    /// New name, 1 to 255 characters once trimmed (absent or `null`: unchanged).
    #[serde(default)]
    #[schemars(length(min = 1, max = 255))]
    name: Option<String>,
    /// New settings, replacing the old ones whole (absent or `null`: unchanged).
    #[serde(default)]
    #[schemars(with = "Option<crate::store::schemas::OrganizationSettings>")]
    settings: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `POST /v1/organization/users` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Invitation {
    /// The invitee's email address.
    #[schemars(email, length(max = 254))]
    email: String,
    /// The role they get (at most the caller's own).
    #[schemars(with = "gsign_core::Role")]
    role: String,
    /// First name.
    #[serde(default)]
    #[schemars(length(max = 100))]
    first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    #[schemars(length(max = 100))]
    last_name: Option<String>,
}

/// `PATCH /v1/organization/users/{id}` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberUpdate {
    /// The new role (the caller may assign at most their own).
    #[schemars(with = "gsign_core::Role")]
    role: String,
}

/// `POST /v1/api-keys` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// A name for people, 1 to 100 characters once trimmed.
    #[schemars(length(min = 1, max = 100))]
    name: String,
    /// What the key may do (at least one; duplicates are dropped). It acts with the
    /// creator's role.
    #[schemars(with = "Vec<Scope>", length(min = 1))]
    scopes: Vec<String>,
    /// When the key stops working, in the future (absent or `null`: never).
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
}

/// An organization.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct OrganizationView {
    /// The organization's id.
    id: Uuid,
    /// Its name.
    name: String,
    /// Its unique slug.
    slug: String,
    /// The plan billing enforces now (`free`, `pro`, `business`, …).
    plan: String,
    /// Its status.
    #[schemars(with = "crate::store::schemas::OrganizationStatus")]
    status: String,
    /// Its settings.
    #[schemars(with = "crate::store::schemas::OrganizationSettings")]
    settings: serde_json::Value,
    /// When it was created.
    created_at: DateTime<Utc>,
}

/// A page of a list answer.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "{T}Page")]
pub struct Page<T> {
    /// The rows.
    data: Vec<T>,
    /// Pass as `cursor` for the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// A list's query parameters as given (the use case checks them).
#[derive(Debug, Default, Clone)]
pub struct ListQuery {
    /// `limit`: 1 to 100 rows (50 when absent).
    pub limit: Option<String>,
    /// `cursor`: where the previous page ended.
    pub cursor: Option<String>,
}

/// `GET /v1/audit-events`' query parameters as given (the use case checks them).
#[derive(Debug, Default, Clone)]
pub struct AuditQuery {
    /// `limit` and `cursor`.
    pub page: ListQuery,
    /// `from`: RFC 3339, inclusive.
    pub from: Option<String>,
    /// `to`: RFC 3339, its whole second included.
    pub to: Option<String>,
    /// `user_id`: events by this member.
    pub user_id: Option<String>,
    /// `resource_type`, with `resource_id`: events about this resource.
    pub resource_type: Option<String>,
    /// `resource_id`, with `resource_type`.
    pub resource_id: Option<String>,
    /// `action`: events of this action only.
    pub action: Option<String>,
}

fn limit_of(raw: Option<&str>) -> Result<i64, AccountsError> {
    match raw {
        None => Ok(50),
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| AccountsError::invalid("/limit", format!("must be 1 to {MAX_PAGE}"))),
    }
}

/// An RFC 3339 time of parameter `name`, as the audit table's sort keys write it.
fn audit_time(name: &str, raw: Option<&str>, errors: &mut Vec<FieldError>) -> Option<String> {
    let raw = raw?;
    DateTime::parse_from_rfc3339(raw)
        .map(|t| {
            t.with_timezone(&Utc)
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string()
        })
        .map_err(|_| {
            errors.push(FieldError::new(
                format!("/{name}"),
                "must be an RFC 3339 time",
            ))
        })
        .ok()
}

/// A person's first and last name fit their columns (100 characters each).
fn name_problems(first: &Option<String>, last: &Option<String>, errors: &mut Vec<FieldError>) {
    for (field, value) in [("first_name", first), ("last_name", last)] {
        if value.as_ref().is_some_and(|v| v.chars().count() > 100) {
            errors.push(FieldError::new(
                format!("/{field}"),
                "must be at most 100 characters",
            ));
        }
    }
}

/// The hash of `change`'s new password, once its current one matches `stored`.
async fn new_password_hash(
    change: PasswordChange,
    stored: Option<String>,
) -> Result<String, AccountsError> {
    let current = change.current;
    let ok = tokio::task::spawn_blocking(move || {
        stored.is_some_and(|hash| credentials::verify_password(&current, &hash))
    })
    .await
    .map_err(anyhow::Error::from)?;
    if !ok {
        return Err(AccountsError::invalid(
            "/password/current",
            "is not your current password",
        ));
    }
    let new = change.new;
    tokio::task::spawn_blocking(move || credentials::hash_password(&new))
        .await
        .map_err(anyhow::Error::from)?
        .map_err(|e| AccountsError::Internal(e.into()))
}

/// The address and role of an invitation, every problem with it reported at once.
fn checked_invitation(input: &Invitation) -> Result<(EmailAddress, Role), AccountsError> {
    let mut errors = Vec::new();
    let email = EmailAddress::parse(&input.email)
        .map_err(|e| errors.push(FieldError::new("/email", e)))
        .ok();
    let role = input
        .role
        .parse::<Role>()
        .map_err(|e| errors.push(FieldError::new("/role", e)))
        .ok();
    name_problems(&input.first_name, &input.last_name, &mut errors);
    match (email, role, errors.is_empty()) {
        (Some(email), Some(role), true) => Ok((email, role)),
        _ => Err(AccountsError::Validation(errors)),
    }
}

/// A list's page: `limit` (1 to 100, 50 when absent) and where the previous page's cursor
/// ended.
fn page_of(query: &ListQuery) -> Result<PageRequest, AccountsError> {
    let mut errors = Vec::new();
    let page = PageRequest::parse(
        query.limit.as_deref(),
        query.cursor.as_deref(),
        50,
        MAX_PAGE,
        &mut errors,
    );
    if errors.is_empty() {
        Ok(page)
    } else {
        Err(AccountsError::Validation(errors))
    }
}

fn bad_cursor() -> AccountsError {
    AccountsError::invalid("/cursor", "is not a cursor this API returned")
}

fn role_field(raw: &str) -> Result<Role, AccountsError> {
    raw.parse()
        .map_err(|e: String| AccountsError::invalid("/role", e))
}

fn conflict(slug: &'static str, title: &'static str, detail: &str) -> AccountsError {
    AccountsError::Area(AccountsCase::Conflict {
        slug,
        title,
        detail: detail.to_owned(),
    })
}

// ------------------------------------------------------------------ the service

impl Manage {
    #[tracing::instrument(skip_all)]
    async fn commit_and_publish(
        &self,
        tx: Transaction<'_>,
        events: Vec<Uuid>,
    ) -> Result<(), AccountsError> {
        tx.commit().await?;
        self.relay.publish(&self.db, &events).await;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub(crate) async fn update_profile(
        &self,
        caller: &Caller,
        input: ProfileUpdate,
    ) -> Result<MemberView, AccountsError> {
        let user = caller
            .user
            .ok_or(AccountsError::Forbidden(Action::UpdateOwnProfile))?;
        let mut errors = Vec::new();
        name_problems(&input.first_name, &input.last_name, &mut errors);
        let mut conn = self.db.connect().await?;
        let tx = conn.begin().await?;
        let (email, stored) = users::lock_credentials(&tx, user, caller.org)
            .await?
            .ok_or(AccountsError::NotFound("user"))?;
        let mut events = Vec::new();
        if let Some(change) = input.password {
            let email = EmailAddress::parse(&email).ok();
            errors.extend(
                password_problems(change.new.expose_secret(), email.as_ref())
                    .into_iter()
                    .map(|e| FieldError::new("/password/new", e.detail)),
            );
            if !errors.is_empty() {
                return Err(AccountsError::Validation(errors));
            }
            let hash = new_password_hash(change, stored).await?;
            users::set_password(&tx, user, &hash).await?;
            // Every other session ends; this one stays.
            let revoked = store::sessions::revoke_all_of(&tx, user, caller.session).await?;
            let changed = caller.event(
                "user.password_changed",
                ("user", user.to_string()),
                serde_json::json!({"sessions_revoked": revoked}),
            );
            events.push(outbox::audit(&tx, &changed).await?);
        } else if !errors.is_empty() {
            return Err(AccountsError::Validation(errors));
        }
        let member = users::rename(
            &tx,
            user,
            input.first_name.as_deref(),
            input.last_name.as_deref(),
        )
        .await?;
        let version = if events.is_empty() {
            None
        } else {
            Some(sessions::bump_version(&tx, user).await?)
        };
        self.commit_and_publish(tx, events).await?;
        if let Some(version) = version {
            // The whole hash goes; this session refills it from Postgres on its next request.
            sessions::invalidate(&self.cache, user, version).await;
        }
        Ok(member)
    }

    #[tracing::instrument(skip_all)]
    pub(crate) async fn organization(
        &self,
        caller: &Caller,
    ) -> Result<OrganizationView, AccountsError> {
        let client = self.db.connect().await?;
        let organization = organizations::get(&client, caller.org)
            .await?
            .ok_or(AccountsError::NotFound("organization"))?;
        // One source of truth: the plan billing enforces (the subscription's), not the
        // `organizations.plan` column a Stripe upgrade never touched.
        let plan = gsign_platform::billing::current_plan(&client, caller.org)
            .await?
            .code;
        Ok(OrganizationView {
            id: organization.id,
            name: organization.name,
            slug: organization.slug,
            plan,
            status: organization.status,
            settings: organization.settings,
            created_at: organization.created_at,
        })
    }

    #[tracing::instrument(skip_all)]
    pub(crate) async fn update_organization(
        &self,
        caller: &Caller,
        input: OrganizationUpdate,
    ) -> Result<OrganizationView, AccountsError> {
        let name = input.name.map(|n| n.trim().to_owned());
        if name
            .as_ref()
            .is_some_and(|n| n.is_empty() || n.chars().count() > 255)
        {
            return Err(AccountsError::invalid(
                "/name",
                "must be 1 to 255 characters",
            ));
        }
        // `embed_origins`: the pages that may frame this organization's embedded signing.
        if let Some(origins) = input.settings.as_ref().and_then(|s| s.get("embed_origins")) {
            let valid = origins.as_array().is_some_and(|list| {
                list.len() <= 20
                    && list.iter().all(|o| {
                        o.as_str()
                            .is_some_and(gsign_core::envelopes::is_embed_origin)
                    })
            });
            if !valid {
                return Err(AccountsError::invalid(
                    "/settings/embed_origins",
                    "must be a list of at most 20 origins like https://app.example.mn (http only on localhost)",
                ));
            }
        }
        let settings = input.settings.map(serde_json::Value::Object);
        let mut conn = self.db.connect().await?;
        let tx = conn.begin().await?;
        organizations::update(&tx, caller.org, name.as_deref(), settings.as_ref()).await?;
        let event = outbox::audit(&tx, &caller.event("organization.updated", ("organization", caller.org.to_string()), serde_json::json!({"name_changed": name.is_some(), "settings_changed": settings.is_some()}))).await?;
        self.commit_and_publish(tx, vec![event]).await?;
        self.organization(caller).await
    }

    /// `GET /v1/organization/users`: the organization's members, a page at a time.
    #[tracing::instrument(skip_all)]
    pub async fn members(
        &self,
        caller: &Caller,
        query: &ListQuery,
    ) -> Result<Page<MemberView>, AccountsError> {
        let page = page_of(query)?;
        let client = self.db.connect().await?;
        let mut data = users::members(&client, caller.org, page.after, page.fetch()).await?;
        let next_cursor = page.finish(&mut data, |m| (m.created_at, m.id));
        Ok(Page { data, next_cursor })
    }

    /// `POST /v1/organization/users`: invites a member with a role the caller may assign, and mails them.
    #[tracing::instrument(skip_all)]
    pub async fn invite(
        &self,
        caller: &Caller,
        input: Invitation,
    ) -> Result<MemberView, AccountsError> {
        let (email, role) = checked_invitation(&input)?;
        if !may_assign(caller.role, role) {
            return Err(AccountsError::Forbidden(Action::InviteMember));
        }
        let token = credentials::new_token();
        let mut conn = self.db.connect().await?;
        let tx = conn.begin().await?;
        gsign_platform::billing::check_quota(&tx, caller.org, gsign_core::billing::Limit::Users)
            .await??;
        let invitee = NewInvitee {
            org: caller.org,
            email: email.as_str(),
            role,
            first_name: input.first_name.as_deref(),
            last_name: input.last_name.as_deref(),
        };
        let (member, rejoining) = Self::add_invitee(&tx, &invitee).await?;
        // An account elsewhere has the address: the invitation is made all the same (the
        // caller must not learn the difference), and the owner is told why it cannot be
        // accepted instead of being sent a link that would fail.
        let account_elsewhere = users::address_has_account(&tx, email.as_str()).await?;
        tokens::insert(&tx, Purpose::Invitation, member.id, caller.org, &token.hash).await?;
        let letter = self
            .invitation_letter(&tx, caller, &member, account_elsewhere, &token.secret)
            .await?;
        let invited = caller.event(
            "member.invited",
            ("user", member.id.to_string()),
            serde_json::json!({"role": role.as_str(), "rejoining": rejoining}),
        );
        let events = vec![
            outbox::audit(&tx, &invited).await?,
            outbox::email(&tx, caller.org, &letter).await?,
        ];
        self.commit_and_publish(tx, events).await?;
        Ok(member)
    }

    /// The invitee's row: a member removed earlier comes back as themselves, invited again
    /// (`true`), anyone else is added (`false`); an address already a member or invited here
    /// is taken.
    async fn add_invitee(
        tx: &Transaction<'_>,
        invitee: &NewInvitee<'_>,
    ) -> Result<(MemberView, bool), AccountsError> {
        // Tried first: a failed insert would end the transaction.
        if let Some(member) = users::reinvite_removed(tx, invitee).await? {
            return Ok((member, true));
        }
        match users::insert_invitee(tx, invitee).await {
            Ok(member) => Ok((member, false)),
            // A member or an invitation of this organization already has the address (the
            // caller can list them: no one else's secret).
            Err(err) if err.is_unique_violation() => Err(AccountsError::Area(
                AccountsCase::EmailTaken("is already a member or invited in this organization"),
            )),
            Err(err) => Err(err.into()),
        }
    }

    /// The mail that invites `member` (with the link holding `token`), from the caller by
    /// name (or the organization's, for an API key); an address with an account elsewhere is
    /// told why it cannot accept instead.
    #[tracing::instrument(skip_all)]
    async fn invitation_letter(
        &self,
        tx: &Transaction<'_>,
        caller: &Caller,
        member: &MemberView,
        account_elsewhere: bool,
        token: &SecretString,
    ) -> Result<Email, AccountsError> {
        let org_name = organizations::name(tx, caller.org).await?;
        let inviter = match caller.user {
            Some(user) => users::display_name(tx, user).await?,
            None => None,
        }
        .unwrap_or_else(|| org_name.clone());
        Ok(Email {
            template: if account_elsewhere {
                "invitation_account_exists"
            } else {
                "invitation"
            }
            .to_owned(),
            to: member.email.clone(),
            data: serde_json::json!({
                "inviter": inviter,
                "organization_name": org_name,
                "role": member.role.as_str(),
                "link": format!("{}/accept-invitation?token={}", self.app_url, token.expose_secret()),
            }),
            ..Default::default()
        })
    }

    /// Locks the organization's owners and the target; refuses changes that would leave no
    /// active owner.
    #[tracing::instrument(skip_all, fields(id = %id))]
    async fn target_member(
        tx: &Transaction<'_>,
        caller: &Caller,
        id: Uuid,
    ) -> Result<(Role, i64), AccountsError> {
        // Serialise owner changes within the organization.
        users::lock_member_and_owners(tx, caller.org, id)
            .await?
            .ok_or(AccountsError::NotFound("member"))
    }

    /// `PATCH /v1/organization/users/{id}`: a member's new role; the last owner stays an owner.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn change_role(
        &self,
        caller: &Caller,
        id: Uuid,
        input: MemberUpdate,
    ) -> Result<MemberView, AccountsError> {
        let new_role = role_field(&input.role)?;
        let mut conn = self.db.connect().await?;
        let tx = conn.begin().await?;
        let (old_role, owners) = Self::target_member(&tx, caller, id).await?;
        if !(may_assign(caller.role, old_role) && may_assign(caller.role, new_role)) {
            return Err(AccountsError::Forbidden(Action::ChangeMemberRole));
        }
        if old_role == Role::Owner && new_role != Role::Owner && owners <= 1 {
            return Err(conflict(
                "last-owner",
                "The last owner cannot be demoted",
                "Make another member an owner first.",
            ));
        }
        let member = users::set_role(&tx, id, new_role).await?;
        let event = outbox::audit(
            &tx,
            &caller.event(
                "member.role_changed",
                ("user", id.to_string()),
                serde_json::json!({"from": old_role.as_str(), "to": new_role.as_str()}),
            ),
        )
        .await?;
        let version = sessions::bump_version(&tx, id).await?;
        self.commit_and_publish(tx, vec![event]).await?;
        // The cached role must not outlive the change.
        sessions::invalidate(&self.cache, id, version).await;
        Ok(member)
    }

    /// `DELETE /v1/organization/users/{id}`: removes a member (never the last owner) and ends their sessions.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn remove(&self, caller: &Caller, id: Uuid) -> Result<(), AccountsError> {
        let mut conn = self.db.connect().await?;
        let tx = conn.begin().await?;
        let (role, owners) = Self::target_member(&tx, caller, id).await?;
        if !may_assign(caller.role, role) {
            return Err(AccountsError::Forbidden(Action::RemoveMember));
        }
        if role == Role::Owner && owners <= 1 {
            return Err(conflict(
                "last-owner",
                "The last owner cannot be removed",
                "Make another member an owner first.",
            ));
        }
        // An invitation never became an account: withdrawing it deletes it (its token goes with
        // it). Disabling it would also clash with an account the address has elsewhere (one
        // account per address once out of the invited state). A member is disabled, not
        // deleted: evidence and audit trails keep pointing at a real account.
        if users::delete_invitee(&tx, id).await? {
            let event = outbox::audit(
                &tx,
                &caller.event(
                    "member.removed",
                    ("user", id.to_string()),
                    serde_json::json!({"role": role.as_str(), "invitation_withdrawn": true}),
                ),
            )
            .await?;
            return self.commit_and_publish(tx, vec![event]).await;
        }
        users::disable(&tx, id).await?;
        store::sessions::revoke_all_of(&tx, id, None).await?;
        tokens::void_all_of(&tx, id).await?;
        // The member's API keys go with them (the authorizer refuses them anyway).
        let keys_revoked = api_keys::revoke_created_by(&tx, id).await?;
        let event = outbox::audit(
            &tx,
            &caller.event(
                "member.removed",
                ("user", id.to_string()),
                serde_json::json!({"role": role.as_str(), "api_keys_revoked": keys_revoked}),
            ),
        )
        .await?;
        let version = sessions::bump_version(&tx, id).await?;
        self.commit_and_publish(tx, vec![event]).await?;
        sessions::invalidate(&self.cache, id, version).await;
        Ok(())
    }

    /// `GET /v1/api-keys`: the organization's API keys, without their secrets.
    #[tracing::instrument(skip_all)]
    pub async fn keys(
        &self,
        caller: &Caller,
        query: &ListQuery,
    ) -> Result<Page<KeyView>, AccountsError> {
        let page = page_of(query)?;
        let client = self.db.connect().await?;
        let mut data = api_keys::list(&client, caller.org, page.after, page.fetch()).await?;
        let next_cursor = page.finish(&mut data, |k| (k.created_at, k.id));
        Ok(Page { data, next_cursor })
    }

    /// `POST /v1/api-keys`: a new API key whose secret is shown only in this answer.
    #[tracing::instrument(skip_all)]
    pub async fn create_key(
        &self,
        caller: &Caller,
        input: NewKey,
    ) -> Result<KeyView, AccountsError> {
        let mut errors = Vec::new();
        let name = input.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 {
            errors.push(FieldError::new("/name", "must be 1 to 100 characters"));
        }
        let mut scopes = Vec::new();
        for (i, raw) in input.scopes.iter().enumerate() {
            match raw.parse::<Scope>() {
                Ok(scope) if !scopes.contains(&scope.as_str().to_owned()) => {
                    scopes.push(scope.as_str().to_owned())
                }
                Ok(_) => {}
                Err(e) => errors.push(FieldError::new(format!("/scopes/{i}"), e)),
            }
        }
        if input.scopes.is_empty() {
            errors.push(FieldError::new("/scopes", "must name at least one scope"));
        }
        if input.expires_at.is_some_and(|at| at <= Utc::now()) {
            errors.push(FieldError::new("/expires_at", "must be in the future"));
        }
        if !errors.is_empty() {
            return Err(AccountsError::Validation(errors));
        }
        let key = credentials::new_api_key();
        let mut conn = self.db.connect().await?;
        let tx = conn.begin().await?;
        let new = api_keys::NewKey {
            org: caller.org,
            created_by: caller.user,
            name: &name,
            prefix: &key.prefix,
            hash: &key.hash,
            role: caller.role,
            scopes: &scopes,
            expires_at: input.expires_at,
        };
        let mut view = api_keys::insert(&tx, &new).await?;
        view.key = Some(key.key.expose_secret().to_owned());
        let event = outbox::audit(
            &tx,
            &caller.event(
                "api_key.created",
                ("api_key", view.id.to_string()),
                serde_json::json!({"name": name, "scopes": scopes, "prefix": key.prefix}),
            ),
        )
        .await?;
        self.commit_and_publish(tx, vec![event]).await?;
        Ok(view)
    }

    /// `DELETE /v1/api-keys/{id}`: revokes a key at once.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn revoke_key(&self, caller: &Caller, id: Uuid) -> Result<(), AccountsError> {
        let mut conn = self.db.connect().await?;
        let tx = conn.begin().await?;
        let revoked = api_keys::revoke(&tx, caller.org, id).await?;
        if revoked == 0 {
            return Err(AccountsError::NotFound("API key"));
        }
        let event = outbox::audit(
            &tx,
            &caller.event(
                "api_key.revoked",
                ("api_key", id.to_string()),
                serde_json::json!({}),
            ),
        )
        .await?;
        self.commit_and_publish(tx, vec![event]).await
    }

    /// `GET /v1/audit-events`: a page of the organization's audit trail, newest first.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn audit_events(
        &self,
        caller: &Caller,
        query: &AuditQuery,
    ) -> Result<Page<serde_json::Value>, AccountsError> {
        let filter = audit_filter(caller.org, query)?;
        let page = audit_events::page(&self.dynamodb, &self.audit_table, &filter)
            .await
            .map_err(|e| {
                use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
                // A cursor of another listing (other filters, another index) names keys this
                // query does not have: DynamoDB refuses it as invalid input.
                if filter.start.is_some() && e.code() == Some("ValidationException") {
                    return bad_cursor();
                }
                AccountsError::Internal(anyhow::anyhow!(
                    "{}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(&e)
                ))
            })?;
        let next_cursor = page
            .next
            .map(|key| URL_SAFE_NO_PAD.encode(serde_json::to_string(&key).unwrap_or_default()));
        Ok(Page {
            data: page.events,
            next_cursor,
        })
    }
}

/// The audit page `query` asks for, every problem with it reported at once.
fn audit_filter(org: Uuid, query: &AuditQuery) -> Result<AuditFilter, AccountsError> {
    let limit = limit_of(query.page.limit.as_deref())?;
    let mut errors = Vec::new();
    let from =
        audit_time("from", query.from.as_deref(), &mut errors).unwrap_or_else(|| "0000".to_owned());
    // `~` sorts after every digit: the bound includes all of `to`'s second, and with no
    // `to`, every time.
    let to = audit_time("to", query.to.as_deref(), &mut errors)
        .map(|t| format!("{t}~"))
        .unwrap_or_else(|| "~".to_owned());
    if from > to {
        errors.push(FieldError::new("/from", "must not be later than to"));
    }
    let user = query.user_id.as_deref().and_then(|u| {
        u.parse::<Uuid>()
            .map_err(|_| errors.push(FieldError::new("/user_id", "must be a UUID")))
            .ok()
    });
    let resource = match (query.resource_type.as_deref(), query.resource_id.as_deref()) {
        (Some(kind), Some(id)) => Some(AuditSubject::Resource(kind.to_owned(), id.to_owned())),
        (None, None) => None,
        _ => {
            errors.push(FieldError::new(
                "/resource_id",
                "resource_type and resource_id go together",
            ));
            None
        }
    };
    let start = match query.page.cursor.as_deref() {
        None => None,
        Some(cursor) => {
            let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad_cursor())?;
            Some(serde_json::from_slice(&bytes).map_err(|_| bad_cursor())?)
        }
    };
    if !errors.is_empty() {
        return Err(AccountsError::Validation(errors));
    }
    Ok(AuditFilter {
        org,
        from,
        to,
        about: user
            .map(AuditSubject::User)
            .or(resource)
            .unwrap_or(AuditSubject::Organization),
        action: query.action.clone(),
        limit: i32::try_from(limit).unwrap_or(50),
        start,
    })
}
