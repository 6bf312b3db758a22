//! Accounts and tenancy: the HTTP API's Lambda authorizer (`api-authorize`) and the account
//! routes (`api-get-me`, ...).

// The route futures nest the spans of the use cases and store calls they await.
#![recursion_limit = "256"]

pub mod api;
pub mod auth;
pub mod authorize;
pub mod common;
pub mod error;
pub mod manage;
pub mod me;
pub mod schemas;

/// Every function of the area, each its own Lambda, all served by the area's one binary
/// (`gsign-accounts`, which runs the one its `Handler` names) and by the local runner.
pub const FUNCTIONS: &[gsign_platform::lambda::FunctionSpec] = &[
    authorize::FUNCTION,
    me::FUNCTION,
    auth::REGISTER,
    auth::LOGIN,
    auth::REFRESH,
    auth::LOGOUT,
    auth::VERIFY_EMAIL,
    auth::PASSWORD_RESET,
    auth::PASSWORD_RESET_CONFIRM,
    auth::ACCEPT_INVITATION,
    manage::UPDATE_ME,
    manage::GET_ORGANIZATION,
    manage::UPDATE_ORGANIZATION,
    manage::LIST_MEMBERS,
    manage::INVITE_MEMBER,
    manage::UPDATE_MEMBER,
    manage::REMOVE_MEMBER,
    manage::LIST_API_KEYS,
    manage::CREATE_API_KEY,
    manage::REVOKE_API_KEY,
    manage::LIST_AUDIT_EVENTS,
];
