//! System functions: `api-health` (GET /v1/health) and `migrate` (run after every deploy, and
//! as a CLI locally).

pub mod health;
pub mod migrate;
pub mod outbox;
