//! System functions: `api-health` (GET /v1/health), `api-get-openapi` (GET /v1/openapi.json)
//! and `migrate` (run after every deploy, and
//! as a CLI locally).

// The route futures nest the spans of the use cases and store calls they await.
#![recursion_limit = "256"]

pub mod api;
pub mod health;
pub mod migrate;
pub mod openapi;
pub mod outbox;

pub use api::AREA;
