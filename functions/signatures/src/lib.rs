//! Signatures: `POST /v1/verify` (each route its own Lambda, declared in [`AREA`]). The signing worker
//! of the envelope flow joins it here.

// The route futures nest the spans of the use cases and store calls they await.
#![recursion_limit = "256"]

pub mod error;
pub mod http;
pub mod service;
pub mod store;

pub use http::AREA;
