//! Accounts and tenancy: the HTTP API's Lambda authorizer (`api-authorize`) and the account
//! routes (`api-get-me`, ...).

pub mod api;
pub mod auth;
pub mod authorize;
pub mod common;
pub mod error;
pub mod manage;
pub mod me;
