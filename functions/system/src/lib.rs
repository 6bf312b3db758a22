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

/// Every function of the area, each its own Lambda, all served by the area's one binary
/// (`gsign-system`, which runs the one its `Handler` names) and by the local runner.
pub const FUNCTIONS: &[gsign_platform::lambda::FunctionSpec] = &[
    health::FUNCTION,
    openapi::FUNCTION,
    migrate::FUNCTION,
    outbox::RECORD_AUDIT_EVENT,
    outbox::SEND_EMAIL,
    outbox::SWEEP_OUTBOX,
];
