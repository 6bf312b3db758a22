//! System functions: `api-health` (GET /v1/health), `api-get-openapi` (GET /v1/openapi.json)
//! and `migrate` (run after every deploy, and
//! as a CLI locally).

pub mod api;
pub mod health;
pub mod migrate;
pub mod openapi;
pub mod outbox;
