//! Certificates (seed 000's table, seed 001's HSM backend): key pairs generated in the HSM,
//! certificates from the organization's own CA (created on first use, with the organization's
//! platform seal), CSRs for external CAs and their imported chains, the default certificate
//! and revocation. Each route is its own Lambda ([`FUNCTIONS`]).

// The route futures nest the spans of the use cases and store calls they await.
#![recursion_limit = "256"]

pub mod api;
pub mod error;
pub mod issuing;
pub mod jobs;
pub mod pki;
pub mod repo;
pub mod revocation;
pub mod routes;
pub mod service;
pub mod stored;

/// Every function of the area, each its own Lambda, all served by the area's one binary
/// (`gsign-certificates`, which runs the one its `Handler` names) and by the local runner.
pub const FUNCTIONS: &[gsign_platform::lambda::FunctionSpec] = &[
    routes::CREATE_CERTIFICATE,
    routes::LIST_CERTIFICATES,
    routes::GET_CERTIFICATE,
    routes::IMPORT_CERTIFICATE_CHAIN,
    routes::SET_DEFAULT_CERTIFICATE,
    routes::REVOKE_CERTIFICATE,
    jobs::PUBLISH_CRLS,
];
