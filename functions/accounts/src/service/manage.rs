//! The signed-in routes that manage an account and its organization: `PATCH /v1/me`,
//! `GET|PATCH /v1/organization`, `GET|POST /v1/organization/users`,
//! `PATCH|DELETE /v1/organization/users/{id}`, `GET|POST /v1/api-keys`,
//! `DELETE /v1/api-keys/{id}` and `GET /v1/audit-events`.
//!
//! Every route names its [`Action`]; the principal's role and scopes decide (one table in
//! `gsign_core::access`). Every query is scoped to the principal's organization, so another
//! tenant's id is simply not found (404).

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use gsign_core::access::may_assign;
use gsign_core::accounts::{password_problems, EmailAddress};
use gsign_core::{Action, Credential, Env, FieldError, Principal, Role, Scope};
use gsign_platform::cache::Cache;
use gsign_platform::credentials;
use gsign_platform::database::{json_list, Database, DbError, Row, Session, Transaction};
use gsign_platform::outbox::{self, AuditEvent, Email, Relay};
use gsign_platform::params;
use gsign_platform::ratelimit::RateLimiter;
use gsign_platform::{aws, sessions};
use lambda_http::{Request, RequestExt};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{AccountsCase, AccountsError};
use crate::service::auth::ClientInfo;
use crate::service::{Common, CommonConfig};

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
    #[schemars(with = "Option<crate::service::schemas::OrganizationSettings>")]
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
    #[schemars(with = "crate::service::schemas::OrganizationStatus")]
    status: String,
    /// Its settings.
    #[schemars(with = "crate::service::schemas::OrganizationSettings")]
    settings: serde_json::Value,
    /// When it was created.
    created_at: DateTime<Utc>,
}

/// A member of the organization (or an invitee).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct MemberView {
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
    /// `invited` until the invitation is accepted; `disabled` once removed.
    #[schemars(with = "crate::service::schemas::MemberStatus")]
    status: String,
    /// When the address was confirmed (`null`: never).
    email_verified_at: Option<DateTime<Utc>>,
    /// Last successful sign-in.
    last_login_at: Option<DateTime<Utc>>,
    /// When the account or invitation was created.
    created_at: DateTime<Utc>,
}

/// An API key (never the key itself, except once in the creation answer).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct KeyView {
    /// The key's id.
    id: Uuid,
    /// Its name.
    name: String,
    /// The key's first characters, to recognise it.
    prefix: String,
    /// The role it was made with (its creator's then).
    #[schemars(with = "gsign_core::Role")]
    role: String,
    /// What it may do.
    #[schemars(with = "Vec<Scope>")]
    scopes: Vec<String>,
    /// When it was last used.
    last_used_at: Option<DateTime<Utc>>,
    /// When it stops working (`null`: never).
    expires_at: Option<DateTime<Utc>>,
    /// When it was revoked (`null`: it was not).
    revoked_at: Option<DateTime<Utc>>,
    /// When it was created.
    created_at: DateTime<Utc>,
    /// The member who created the key; it lives only while they are an active member.
    created_by: Option<KeyCreator>,
    /// Only in the creation response: the whole key, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

/// Who created an API key.
#[derive(Debug, Serialize, schemars::JsonSchema)]
struct KeyCreator {
    /// The member's id.
    id: Uuid,
    /// Their email address.
    email: Option<String>,
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

fn member_view(row: &Row) -> Result<MemberView, DbError> {
    Ok(MemberView {
        id: row.get("id")?,
        email: row.get("email")?,
        first_name: row.get("first_name")?,
        last_name: row.get("last_name")?,
        role: row.get("role")?,
        status: row.get("status")?,
        email_verified_at: row.get("email_verified_at")?,
        last_login_at: row.get("last_login_at")?,
        created_at: row.get("created_at")?,
    })
}

fn key_view(row: &Row, key: Option<String>) -> Result<KeyView, DbError> {
    let created_by = match row.get::<Option<Uuid>>("created_by")? {
        Some(id) => Some(KeyCreator {
            id,
            email: row.get("created_by_email")?,
        }),
        None => None,
    };
    Ok(KeyView {
        id: row.get("id")?,
        name: row.get("name")?,
        prefix: row.get("prefix")?,
        role: row.get("role")?,
        scopes: row.get("scopes")?,
        last_used_at: row.get("last_used_at")?,
        expires_at: row.get("expires_at")?,
        revoked_at: row.get("revoked_at")?,
        created_at: row.get("created_at")?,
        created_by,
        key,
    })
}

const MEMBER_COLUMNS: &str =
    "id, email, first_name, last_name, role, status, email_verified_at, last_login_at, created_at";
const KEY_COLUMNS: &str =
    "id, name, prefix, role, scopes, last_used_at, expires_at, revoked_at, created_at, created_by,
     (SELECT email FROM users WHERE users.id = api_keys.created_by) AS created_by_email";

fn limit_of(req: &Request) -> Result<i64, AccountsError> {
    match req
        .query_string_parameters_ref()
        .and_then(|q| q.first("limit"))
    {
        None => Ok(50),
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| AccountsError::invalid("/limit", format!("must be 1 to {MAX_PAGE}"))),
    }
}

fn query<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
}

pub(crate) fn path_id(req: &Request) -> Result<Uuid, AccountsError> {
    req.path_parameters_ref()
        .and_then(|p| p.first("id"))
        .and_then(|id| id.parse().ok())
        .ok_or(AccountsError::NotFound("resource"))
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
        let row = tx
            .fetch_optional(
                "SELECT email, password_hash FROM users WHERE id = :user AND organization_id = :org \
                 FOR UPDATE",
                params!(user, org = caller.org),
            )
            .await?
            .ok_or(AccountsError::NotFound("user"))?;
        let mut events = Vec::new();
        if let Some(change) = input.password {
            let email = EmailAddress::parse(&row.get::<String>("email")?).ok();
            errors.extend(
                password_problems(change.new.expose_secret(), email.as_ref())
                    .into_iter()
                    .map(|e| FieldError::new("/password/new", e.detail)),
            );
            if !errors.is_empty() {
                return Err(AccountsError::Validation(errors));
            }
            let stored: Option<String> = row.get("password_hash")?;
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
            let hash = tokio::task::spawn_blocking(move || credentials::hash_password(&new))
                .await
                .map_err(anyhow::Error::from)?
                .map_err(|e| AccountsError::Internal(e.into()))?;
            tx.run(
                "UPDATE users SET password_hash = :hash WHERE id = :user",
                params!(user, hash),
            )
            .await?;
            // Every other session ends; this one stays.
            let revoked = tx
                .run(
                    "UPDATE user_sessions SET revoked_at = now()
                      WHERE user_id = :user AND revoked_at IS NULL
                        AND family_id IS DISTINCT FROM :session::uuid",
                    params!(user, session = caller.session),
                )
                .await?;
            events.push(
                outbox::audit(
                    &tx,
                    &caller.event(
                        "user.password_changed",
                        ("user", user.to_string()),
                        serde_json::json!({"sessions_revoked": revoked}),
                    ),
                )
                .await?,
            );
        } else if !errors.is_empty() {
            return Err(AccountsError::Validation(errors));
        }
        let row = tx
            .fetch_one(
                &format!(
                    "UPDATE users SET first_name = COALESCE(:first_name::text, first_name),
                            last_name = COALESCE(:last_name::text, last_name)
                      WHERE id = :user RETURNING {MEMBER_COLUMNS}"
                ),
                params!(
                    user,
                    first_name = input.first_name,
                    last_name = input.last_name,
                ),
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
        Ok(member_view(&row)?)
    }

    #[tracing::instrument(skip_all)]
    pub(crate) async fn organization(
        &self,
        caller: &Caller,
    ) -> Result<OrganizationView, AccountsError> {
        let client = self.db.connect().await?;
        let row = client
            .fetch_optional(
                "SELECT id, name, slug, status, settings, created_at FROM organizations \
                 WHERE id = :org",
                params!(org = caller.org),
            )
            .await?
            .ok_or(AccountsError::NotFound("organization"))?;
        // One source of truth: the plan billing enforces (the subscription's), not the
        // `organizations.plan` column a Stripe upgrade never touched.
        let plan = gsign_platform::billing::current_plan(&client, caller.org)
            .await?
            .code;
        Ok(OrganizationView {
            id: row.get("id")?,
            name: row.get("name")?,
            slug: row.get("slug")?,
            plan,
            status: row.get("status")?,
            settings: row.get("settings")?,
            created_at: row.get("created_at")?,
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
        tx.run(
            "UPDATE organizations SET name = COALESCE(:name::text, name), \
             settings = COALESCE(:settings::jsonb, settings) WHERE id = :org",
            params!(org = caller.org, name, settings),
        )
        .await?;
        let event = outbox::audit(&tx, &caller.event("organization.updated", ("organization", caller.org.to_string()), serde_json::json!({"name_changed": name.is_some(), "settings_changed": settings.is_some()}))).await?;
        self.commit_and_publish(tx, vec![event]).await?;
        self.organization(caller).await
    }

    /// `GET /v1/organization/users`: the organization's members, a page at a time.
    #[tracing::instrument(skip_all)]
    pub async fn members(
        &self,
        caller: &Caller,
        req: &Request,
    ) -> Result<Page<MemberView>, AccountsError> {
        let limit = limit_of(req)?;
        let after: Option<(DateTime<Utc>, Uuid)> = match query(req, "cursor") {
            None => None,
            Some(cursor) => {
                let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad_cursor())?;
                Some(serde_json::from_slice(&bytes).map_err(|_| bad_cursor())?)
            }
        };
        let (after_time, after_id) = after.unzip();
        let rows = self
            .db
            .connect()
            .await?
            .fetch_all(
                &format!(
                    "SELECT {MEMBER_COLUMNS} FROM users
                      WHERE organization_id = :org
                        AND (:after_time::timestamptz IS NULL
                             OR (created_at, id) > (:after_time::timestamptz, :after_id::uuid))
                      ORDER BY created_at, id LIMIT :limit"
                ),
                params!(org = caller.org, after_time, after_id, limit = limit + 1),
            )
            .await?;
        let more = rows.len() as i64 > limit;
        let data: Vec<MemberView> = rows
            .iter()
            .take(limit as usize)
            .map(member_view)
            .collect::<Result<_, _>>()?;
        let next_cursor = more
            .then(|| {
                data.last().map(|m| {
                    URL_SAFE_NO_PAD.encode(serde_json::json!([m.created_at, m.id]).to_string())
                })
            })
            .flatten();
        Ok(Page { data, next_cursor })
    }

    /// `POST /v1/organization/users`: invites a member with a role the caller may assign, and mails them.
    #[tracing::instrument(skip_all)]
    pub async fn invite(
        &self,
        caller: &Caller,
        input: Invitation,
    ) -> Result<MemberView, AccountsError> {
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
        let (Some(email), Some(role), true) = (email, role, errors.is_empty()) else {
            return Err(AccountsError::Validation(errors));
        };
        if !may_assign(caller.role, role) {
            return Err(AccountsError::Forbidden(Action::InviteMember));
        }
        let token = credentials::new_token();
        let mut conn = self.db.connect().await?;
        let tx = conn.begin().await?;
        gsign_platform::billing::check_quota(&tx, caller.org, gsign_core::billing::Limit::Users)
            .await??;
        let inserted = tx
            .fetch_one(
                &format!(
                    "INSERT INTO users (organization_id, email, role, status, first_name, last_name)
                     VALUES (:org, :email, :role, 'invited', :first_name, :last_name) \
                     RETURNING {MEMBER_COLUMNS}"
                ),
                params!(
                    org = caller.org,
                    email = email.as_str(),
                    role = role.as_str(),
                    first_name = input.first_name,
                    last_name = input.last_name,
                ),
            )
            .await;
        let row = match inserted {
            Ok(row) => row,
            // A member or an invitation of this organization already has the address (the
            // caller can list them: no one else's secret).
            Err(err) if err.is_unique_violation() => {
                return Err(AccountsError::Area(AccountsCase::EmailTaken(
                    "is already a member or invited in this organization",
                )))
            }
            Err(err) => return Err(err.into()),
        };
        // An account elsewhere has the address: the invitation is made all the same (the
        // caller must not learn the difference), and the owner is told why it cannot be
        // accepted instead of being sent a link that would fail.
        let account_elsewhere: bool = tx
            .fetch_one(
                "SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower(:email) \
                 AND status <> 'invited') AS elsewhere",
                params!(email = email.as_str()),
            )
            .await?
            .get("elsewhere")?;
        let member = member_view(&row)?;
        tx.run(
            "INSERT INTO account_tokens (purpose, user_id, organization_id, token_hash, expires_at)
             VALUES ('invitation', :user, :org, :hash, now() + interval '7 days')",
            params!(user = member.id, org = caller.org, hash = token.hash),
        )
        .await?;
        let org_name: String = tx
            .fetch_one(
                "SELECT name FROM organizations WHERE id = :org",
                params!(org = caller.org),
            )
            .await?
            .get("name")?;
        let inviter: String = match caller.user {
            Some(user) => tx
                .fetch_optional(
                    "SELECT COALESCE(NULLIF(btrim(concat_ws(' ', first_name, last_name)), ''), email) \
                     AS name FROM users WHERE id = :user",
                    params!(user),
                )
                .await?
                .map(|r| r.get("name"))
                .transpose()?
                .unwrap_or_else(|| org_name.clone()),
            None => org_name.clone(),
        };
        let events = vec![
            outbox::audit(&tx, &caller.event("member.invited", ("user", member.id.to_string()), serde_json::json!({"role": role.as_str()}))).await?,
            outbox::email(
                &tx,
                caller.org,
                &Email {
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
                        "role": role.as_str(),
                        "link": format!("{}/accept-invitation?token={}", self.app_url, token.secret.expose_secret()),
                    }),
                    ..Default::default()
                },
            )
            .await?,
        ];
        self.commit_and_publish(tx, events).await?;
        Ok(member)
    }

    /// Locks the organization's owners and the target; refuses changes that would leave no
    /// active owner.
    #[tracing::instrument(skip_all, fields(id = %id))]
    async fn target_member(
        tx: &Transaction<'_>,
        caller: &Caller,
        id: Uuid,
    ) -> Result<(Role, i64), AccountsError> {
        let row = tx
            .fetch_optional(
                "SELECT role FROM users WHERE id = :id AND organization_id = :org FOR UPDATE",
                params!(id, org = caller.org),
            )
            .await?
            .ok_or(AccountsError::NotFound("member"))?;
        let role = role_field(&row.get::<String>("role")?)?;
        // Serialise owner changes within the organization.
        let owners: i64 = tx
            .fetch_one(
                "SELECT count(*) AS owners FROM (SELECT id FROM users WHERE organization_id = :org \
                 AND role = 'owner' AND status = 'active' FOR UPDATE) o",
                params!(org = caller.org),
            )
            .await?
            .get("owners")?;
        Ok((role, owners))
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
        let row = tx
            .fetch_one(
                &format!("UPDATE users SET role = :role WHERE id = :id RETURNING {MEMBER_COLUMNS}"),
                params!(id, role = new_role.as_str()),
            )
            .await?;
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
        Ok(member_view(&row)?)
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
        let withdrawn = tx
            .run(
                "DELETE FROM users WHERE id = :id AND status = 'invited'",
                params!(id),
            )
            .await?
            > 0;
        if withdrawn {
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
        tx.run(
            "UPDATE users SET status = 'disabled' WHERE id = :id",
            params!(id),
        )
        .await?;
        tx.run(
            "UPDATE user_sessions SET revoked_at = now() WHERE user_id = :id AND revoked_at IS NULL",
            params!(id),
        )
        .await?;
        tx.run(
            "UPDATE account_tokens SET used_at = now() WHERE user_id = :id AND used_at IS NULL",
            params!(id),
        )
        .await?;
        // The member's API keys go with them (the authorizer refuses them anyway).
        let keys_revoked = tx
            .run(
                "UPDATE api_keys SET revoked_at = now() WHERE created_by = :id AND revoked_at IS NULL",
                params!(id),
            )
            .await?;
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
    pub async fn keys(&self, caller: &Caller) -> Result<Page<KeyView>, AccountsError> {
        let rows = self
            .db
            .connect()
            .await?
            .fetch_all(
                &format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys WHERE organization_id = :org \
                     ORDER BY created_at DESC LIMIT 1000"
                ),
                params!(org = caller.org),
            )
            .await?;
        Ok(Page {
            data: rows
                .iter()
                .map(|r| key_view(r, None))
                .collect::<Result<_, _>>()?,
            next_cursor: None,
        })
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
        let row = tx
            .fetch_one(
                &format!(
                    "INSERT INTO api_keys (organization_id, created_by, name, prefix, key_hash, role, scopes, expires_at)
                     VALUES (:org, :user, :name, :prefix, :hash, :role,
                             ARRAY(SELECT jsonb_array_elements_text(:scopes::jsonb)), :expires_at)
                     RETURNING {KEY_COLUMNS}"
                ),
                params!(
                    org = caller.org,
                    user = caller.user,
                    name,
                    prefix = key.prefix,
                    hash = key.hash,
                    role = caller.role.as_str(),
                    scopes = json_list(&scopes),
                    expires_at = input.expires_at,
                ),
            )
            .await?;
        let view = key_view(&row, Some(key.key.expose_secret().to_owned()))?;
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
        let revoked = tx
            .run(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) \
                 WHERE id = :id AND organization_id = :org",
                params!(id, org = caller.org),
            )
            .await?;
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

    #[tracing::instrument(skip_all)]
    pub(crate) async fn audit_events(
        &self,
        caller: &Caller,
        req: &Request,
    ) -> Result<Page<serde_json::Value>, AccountsError> {
        let limit = limit_of(req)?;
        let mut errors = Vec::new();
        let time = |name: &str, errors: &mut Vec<FieldError>| {
            query(req, name).and_then(|raw| {
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
            })
        };
        let from = time("from", &mut errors).unwrap_or_else(|| "0000".to_owned());
        // `~` sorts after every digit: the bound includes all of `to`'s second, and with no
        // `to`, every time.
        let to = time("to", &mut errors)
            .map(|t| format!("{t}~"))
            .unwrap_or_else(|| "~".to_owned());
        if from > to {
            errors.push(FieldError::new("/from", "must not be later than to"));
        }
        let user = query(req, "user_id").map(|u| {
            u.parse::<Uuid>()
                .map_err(|_| errors.push(FieldError::new("/user_id", "must be a UUID")))
        });
        let resource = match (query(req, "resource_type"), query(req, "resource_id")) {
            (Some(t), Some(id)) => Some(format!("RES#{t}#{id}")),
            (None, None) => None,
            _ => {
                errors.push(FieldError::new(
                    "/resource_id",
                    "resource_type and resource_id go together",
                ));
                None
            }
        };
        let start: Option<HashMap<String, AttributeValue>> = match query(req, "cursor") {
            None => None,
            Some(cursor) => {
                let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad_cursor())?;
                let map: HashMap<String, String> =
                    serde_json::from_slice(&bytes).map_err(|_| bad_cursor())?;
                Some(
                    map.into_iter()
                        .map(|(k, v)| (k, AttributeValue::S(v)))
                        .collect(),
                )
            }
        };
        if !errors.is_empty() {
            return Err(AccountsError::Validation(errors));
        }
        let start_given = start.is_some();
        let org = caller.org.to_string();
        let mut q = self
            .dynamodb
            .query()
            .table_name(&self.audit_table)
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(50))
            .expression_attribute_values(":from", AttributeValue::S(from))
            .expression_attribute_values(":to", AttributeValue::S(to))
            .set_exclusive_start_key(start);
        let mut filters = Vec::new();
        q = match (user, resource) {
            (Some(Ok(user)), _) => {
                // The GSIs span tenants: the organization filter keeps them apart.
                filters.push("organization_id = :org");
                q.index_name("by-user")
                    .key_condition_expression("user_pk = :pk AND sk BETWEEN :from AND :to")
                    .expression_attribute_values(":pk", AttributeValue::S(format!("USER#{user}")))
                    .expression_attribute_values(":org", AttributeValue::S(org))
            }
            (_, Some(resource)) => {
                filters.push("organization_id = :org");
                q.index_name("by-resource")
                    .key_condition_expression("resource_pk = :pk AND sk BETWEEN :from AND :to")
                    .expression_attribute_values(":pk", AttributeValue::S(resource))
                    .expression_attribute_values(":org", AttributeValue::S(org))
            }
            _ => q
                .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
                .expression_attribute_values(":pk", AttributeValue::S(format!("ORG#{org}"))),
        };
        if let Some(action) = query(req, "action") {
            filters.push("#action = :action");
            q = q
                .expression_attribute_names("#action", "action")
                .expression_attribute_values(":action", AttributeValue::S(action.to_owned()));
        }
        if !filters.is_empty() {
            q = q.filter_expression(filters.join(" AND "));
        }
        let out = q.send().await.map_err(|e| {
            use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
            // A cursor of another listing (other filters, another index) names keys this
            // query does not have: DynamoDB refuses it as invalid input.
            if start_given && e.code() == Some("ValidationException") {
                return bad_cursor();
            }
            AccountsError::Internal(anyhow::anyhow!(
                "{}",
                aws_sdk_dynamodb::error::DisplayErrorContext(&e)
            ))
        })?;
        let data = out
            .items()
            .iter()
            .map(|item| {
                let s = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
                serde_json::json!({
                    "id": s("event_id"),
                    "action": s("action"),
                    "occurred_at": s("occurred_at"),
                    "actor_user_id": s("actor_user_id"),
                    "actor_api_key_id": s("actor_api_key_id"),
                    "resource_type": s("resource_type"),
                    "resource_id": s("resource_id"),
                    "ip": s("ip"),
                    "user_agent": s("user_agent"),
                    "details": s("details").and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok()),
                })
            })
            .collect();
        let next_cursor = out.last_evaluated_key().map(|key| {
            let map: HashMap<&String, String> = key
                .iter()
                .filter_map(|(k, v)| v.as_s().ok().map(|s| (k, s.clone())))
                .collect();
            URL_SAFE_NO_PAD.encode(serde_json::to_string(&map).unwrap_or_default())
        });
        Ok(Page { data, next_cursor })
    }
}
