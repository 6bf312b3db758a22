//! Signatures: `POST /v1/verify` (each route its own Lambda, [`FUNCTIONS`]). The signing worker
//! of the envelope flow joins it here.

// The route futures nest the spans of the use cases and store calls they await.
#![recursion_limit = "256"]

pub mod api;
pub mod error;
pub mod verify;

/// Every function of the area, each its own Lambda, all served by the area's one binary
/// (`gsign-signatures`, which runs the one its `Handler` names) and by the local runner.
pub const FUNCTIONS: &[gsign_platform::lambda::FunctionSpec] = &[verify::VERIFY_SIGNATURES];
