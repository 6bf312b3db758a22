//! Signatures: `POST /v1/verify` (each route its own Lambda, `src/bin/`). The signing worker
//! of the envelope flow joins it here.

pub mod api;
pub mod error;
pub mod verify;
