//! Certificates (seed 000's table, seed 001's HSM backend): key pairs generated in the HSM,
//! certificates from the organization's own CA (created on first use, with the organization's
//! platform seal), CSRs for external CAs and their imported chains, the default certificate
//! and revocation. Each route is its own Lambda, declared once in [`AREA`].

// The route futures nest the spans of the use cases and store calls they await.
#![recursion_limit = "256"]

pub mod error;
pub mod http;
pub mod jobs;
pub mod service;
pub mod store;

pub use http::AREA;
