//! The accounts area's HTTP side: its route table (each route's operation as the OpenAPI
//! document describes it, who may call it, its rate limit and replay, its cold start; the area
//! binary, the local runner and the OpenAPI document are made from it), each route's glue
//! (`auth`, `manage`, `me`: parse, authorize, call the service, map the answer) and the HTTP
//! API's authorizer (`authorize`).

mod auth;
pub mod authorize;
mod manage;
mod me;

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use gsign_core::openapi::{schema, Operation, Reply};
use gsign_core::Action;
use gsign_platform::lambda::{AreaSpec, RouteSpec};
use gsign_platform::ratelimit::Policy;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use uuid::Uuid;

use crate::service::auth::ClientInfo;
use crate::service::auth::{
    LoginInput, LogoutInput, NewPasswordInput, RefreshInput, RegisterInput, Registered,
    ResetRequestInput, TokenInput, TokenPair,
};
use crate::service::manage::{
    Invitation, KeyView, MemberUpdate, MemberView, NewKey, OrganizationUpdate, OrganizationView,
    Page, ProfileUpdate,
};
use crate::service::me::Profile;

/// Where `req` came from, as API Gateway saw it (for sessions and audit events).
fn client_info(req: &lambda_http::Request) -> ClientInfo {
    let (ip, user_agent) = gsign_platform::http::client(req);
    ClientInfo { ip, user_agent }
}

/// One audit event. Every member is present; one the stored event lacks is `null`.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct AuditEvent {
    /// The event's id (a UUID).
    id: Option<String>,
    /// What happened, e.g. `member.invited`.
    action: Option<String>,
    /// When, RFC 3339 in UTC with microseconds.
    occurred_at: Option<String>,
    /// The member who acted (a UUID), if a member did.
    actor_user_id: Option<String>,
    /// The API key that acted (a UUID), if a key did.
    actor_api_key_id: Option<String>,
    /// The kind of resource acted on, e.g. `user`.
    resource_type: Option<String>,
    /// The resource's id.
    resource_id: Option<String>,
    /// The caller's IP address.
    ip: Option<String>,
    /// The caller's user agent.
    user_agent: Option<String>,
    /// The action's details (a JSON object).
    details: Option<serde_json::Value>,
}

/// `GET /v1/organization/users` query.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct ListMembersQuery {
    /// Members per page, 1 to 100 (50 if absent).
    #[schemars(range(min = 1, max = 100))]
    limit: Option<i64>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
}

/// `GET /v1/api-keys` query.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct ListKeysQuery {
    /// Keys per page, 1 to 100 (50 if absent).
    #[schemars(range(min = 1, max = 100))]
    limit: Option<i64>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
}

/// `GET /v1/audit-events` query.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct ListAuditEventsQuery {
    /// Events read per page, 1 to 100 (50 if absent); filtered pages may hold fewer, or none.
    #[schemars(range(min = 1, max = 100))]
    limit: Option<i64>,
    /// The previous page's `next_cursor` (with the same filters).
    cursor: Option<String>,
    /// Only events at or after this time (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Only events at or before this time (RFC 3339).
    to: Option<DateTime<Utc>>,
    /// Only events of this member; `resource_type` and `resource_id` are then ignored.
    user_id: Option<Uuid>,
    /// Only events on this kind of resource; goes with `resource_id`.
    resource_type: Option<String>,
    /// Only events on this resource; goes with `resource_type`.
    resource_id: Option<String>,
    /// Only events of this action, e.g. `member.invited`.
    action: Option<String>,
}

/// `POST /v1/api-keys`' answer: the new key's view, with the whole `key`, shown this once.
struct CreatedApiKey;

impl JsonSchema for CreatedApiKey {
    fn schema_name() -> Cow<'static, str> {
        "CreatedApiKey".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = KeyView::json_schema(generator);
        let object = schema.ensure_object();
        if let Some(properties) = object.get_mut("properties").and_then(|p| p.as_object_mut()) {
            properties.insert(
                "key".to_owned(),
                serde_json::json!({
                    "type": "string",
                    "description": "The whole key, for `Authorization: Bearer …`: it is not shown again.",
                }),
            );
        }
        match object.get_mut("required").and_then(|r| r.as_array_mut()) {
            Some(required) => required.push("key".into()),
            None => {
                object.insert("required".to_owned(), serde_json::json!(["key"]));
            }
        }
        object.insert(
            "description".to_owned(),
            "A new API key: its view, with the whole `key`, shown this once.".into(),
        );
        schema
    }
}

/// The accounts area.
pub const AREA: AreaSpec = AreaSpec {
    binary: "gsign-accounts",
    name: "accounts",
    description: "Sign-up, sessions, the caller's profile, the organization, its members, API keys and audit trail.",
    routes: &[
        RouteSpec::signed_in(
            Operation::new(
                "api-get-me",
                "GET",
                "/v1/me",
                "The caller's profile and organization.",
                Reply::Json(200, schema::<Profile>),
            ),
            |env, spec| me::init(env, spec),
        ),
        RouteSpec::public(
            Operation::new(
                "api-register",
                "POST",
                "/v1/auth/register",
                "A new organization and its owner; sends the verification email.",
                Reply::Json(202, schema::<Registered>),
            )
            .with_body(schema::<RegisterInput>),
            |env, spec| auth::init_route(env, spec, auth::Route::Register),
        )
        .limited(Policy::Sensitive)
        .idempotent("register"),
        RouteSpec::public(
            Operation::new(
                "api-login",
                "POST",
                "/v1/auth/login",
                "Password -> access token (15 min) and rotating refresh token.",
                Reply::Json(200, schema::<TokenPair>),
            )
            .with_body(schema::<LoginInput>),
            |env, spec| auth::init_route(env, spec, auth::Route::Login),
        )
        .limited(Policy::Sensitive),
        RouteSpec::public(
            Operation::new(
                "api-refresh",
                "POST",
                "/v1/auth/refresh",
                "Rotates the refresh token; reuse revokes the family.",
                Reply::Json(200, schema::<TokenPair>),
            )
            .with_body(schema::<RefreshInput>),
            |env, spec| auth::init_route(env, spec, auth::Route::Refresh),
        )
        .limited(Policy::Sensitive),
        RouteSpec::signed_in(
            Operation::new(
                "api-logout",
                "POST",
                "/v1/auth/logout",
                "Ends the caller's session family; with `everywhere`, every session of the caller.",
                Reply::Empty(204),
            )
            .with_optional_body(schema::<LogoutInput>),
            |env, spec| auth::init_route(env, spec, auth::Route::Logout),
        ),
        RouteSpec::public(
            Operation::new(
                "api-verify-email",
                "POST",
                "/v1/auth/verify-email",
                "Confirms the address from the emailed link.",
                Reply::Empty(204),
            )
            .with_body(schema::<TokenInput>),
            |env, spec| auth::init_route(env, spec, auth::Route::VerifyEmail),
        )
        .limited(Policy::Sensitive),
        RouteSpec::public(
            Operation::new(
                "api-request-password-reset",
                "POST",
                "/v1/auth/password-reset",
                "Emails a reset link (same answer for unknown addresses).",
                Reply::Empty(202),
            )
            .with_body(schema::<ResetRequestInput>),
            |env, spec| auth::init_route(env, spec, auth::Route::PasswordReset),
        )
        .limited(Policy::Sensitive),
        RouteSpec::public(
            Operation::new(
                "api-confirm-password-reset",
                "POST",
                "/v1/auth/password-reset/confirm",
                "New password; every session ends.",
                Reply::Empty(204),
            )
            .with_body(schema::<NewPasswordInput>),
            |env, spec| auth::init_route(env, spec, auth::Route::PasswordResetConfirm),
        )
        .limited(Policy::Sensitive),
        RouteSpec::public(
            Operation::new(
                "api-accept-invitation",
                "POST",
                "/v1/auth/accept-invitation",
                "An invited member sets a password.",
                Reply::Empty(204),
            )
            .with_body(schema::<NewPasswordInput>),
            |env, spec| auth::init_route(env, spec, auth::Route::AcceptInvitation),
        )
        .limited(Policy::Sensitive),
        RouteSpec::new(
            Operation::new(
                "api-update-me",
                "PATCH",
                "/v1/me",
                "Names; password change (current password required) ends the other sessions.",
                Reply::Json(200, schema::<MemberView>),
            )
            .with_body(schema::<ProfileUpdate>),
            Action::UpdateOwnProfile,
            |env, spec| manage::init_route(env, spec, manage::Route::UpdateMe),
        ),
        RouteSpec::new(
            Operation::new(
                "api-get-organization",
                "GET",
                "/v1/organization",
                "The caller's organization.",
                Reply::Json(200, schema::<OrganizationView>),
            ),
            Action::ReadOrganization,
            |env, spec| manage::init_route(env, spec, manage::Route::GetOrganization),
        ),
        RouteSpec::new(
            Operation::new(
                "api-update-organization",
                "PATCH",
                "/v1/organization",
                "Changes the organization's name or settings (owner, admin).",
                Reply::Json(200, schema::<OrganizationView>),
            )
            .with_body(schema::<OrganizationUpdate>),
            Action::UpdateOrganization,
            |env, spec| manage::init_route(env, spec, manage::Route::UpdateOrganization),
        ),
        RouteSpec::new(
            Operation::new(
                "api-list-members",
                "GET",
                "/v1/organization/users",
                "The organization's members and invitations, oldest first (cursor pagination).",
                Reply::Json(200, schema::<Page<MemberView>>),
            )
            .with_query(schema::<ListMembersQuery>),
            Action::ListMembers,
            |env, spec| manage::init_route(env, spec, manage::Route::ListMembers),
        ),
        RouteSpec::new(
            Operation::new(
                "api-invite-member",
                "POST",
                "/v1/organization/users",
                "Invitation by email with a role; a removed member is invited back under the same id.",
                Reply::Json(201, schema::<MemberView>),
            )
            .with_body(schema::<Invitation>),
            Action::InviteMember,
            |env, spec| manage::init_route(env, spec, manage::Route::InviteMember),
        )
        .idempotent("invite-member"),
        RouteSpec::new(
            Operation::new(
                "api-update-member",
                "PATCH",
                "/v1/organization/users/{id}",
                "Role change; the last owner stays.",
                Reply::Json(200, schema::<MemberView>),
            )
            .with_body(schema::<MemberUpdate>),
            Action::ChangeMemberRole,
            |env, spec| manage::init_route(env, spec, manage::Route::UpdateMember),
        ),
        RouteSpec::new(
            Operation::new(
                "api-remove-member",
                "DELETE",
                "/v1/organization/users/{id}",
                "Disables the member; the last owner stays.",
                Reply::Empty(204),
            ),
            Action::RemoveMember,
            |env, spec| manage::init_route(env, spec, manage::Route::RemoveMember),
        ),
        RouteSpec::new(
            Operation::new(
                "api-list-api-keys",
                "GET",
                "/v1/api-keys",
                "The organization's API keys, newest first (cursor pagination).",
                Reply::Json(200, schema::<Page<KeyView>>),
            )
            .with_query(schema::<ListKeysQuery>),
            Action::ListApiKeys,
            |env, spec| manage::init_route(env, spec, manage::Route::ListKeys),
        ),
        RouteSpec::new(
            Operation::new(
                "api-create-api-key",
                "POST",
                "/v1/api-keys",
                "Creates an API key; the key is shown once.",
                Reply::Json(201, schema::<CreatedApiKey>),
            )
            .with_body(schema::<NewKey>),
            Action::CreateApiKey,
            |env, spec| manage::init_route(env, spec, manage::Route::CreateKey),
        )
        .idempotent("create-api-key")
        .holding_a_secret(),
        RouteSpec::new(
            Operation::new(
                "api-revoke-api-key",
                "DELETE",
                "/v1/api-keys/{id}",
                "Revokes an API key.",
                Reply::Empty(204),
            ),
            Action::RevokeApiKey,
            |env, spec| manage::init_route(env, spec, manage::Route::RevokeKey),
        ),
        RouteSpec::new(
            Operation::new(
                "api-list-audit-events",
                "GET",
                "/v1/audit-events",
                "The audit trail, newest first: by user, resource, action and time; cursor.",
                Reply::Json(200, schema::<Page<AuditEvent>>),
            )
            .with_query(schema::<ListAuditEventsQuery>),
            Action::ReadAuditEvents,
            |env, spec| manage::init_route(env, spec, manage::Route::ListAuditEvents),
        ),
    ],
    jobs: &[authorize::FUNCTION],
};
