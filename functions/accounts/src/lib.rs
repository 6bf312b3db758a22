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

pub use api::AREA;
