//! System functions: `api-health` (GET /v1/health), `api-get-openapi` (GET /v1/openapi.json)
//! and `migrate` (run after every deploy, and as a CLI locally); the outbox's consumers (the
//! audit recorder, the mail sender) and its sweeper.

// The route futures nest the spans of the use cases and store calls they await.
#![recursion_limit = "256"]

pub mod http;
pub mod jobs;
pub mod service;
pub mod store;

pub use http::AREA;
