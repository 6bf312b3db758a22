//! Accounts and tenancy: the HTTP API's Lambda authorizer (`api-authorize`) and the account
//! routes (`api-get-me`, ...).

// The route futures nest the spans of the use cases and store calls they await.
#![recursion_limit = "256"]

pub mod error;
pub mod http;
pub mod service;
pub mod store;

pub use http::AREA;
