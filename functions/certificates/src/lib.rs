//! Certificates (seed 000's table, seed 001's HSM backend): key pairs generated in the HSM,
//! certificates from the organization's own CA (created on first use, with the organization's
//! platform seal), CSRs for external CAs and their imported chains, the default certificate
//! and revocation. Each route is its own Lambda (`src/bin/`).

pub mod api;
pub mod common;
pub mod error;
pub mod issuing;
pub mod repo;
pub mod revocation;
pub mod routes;
