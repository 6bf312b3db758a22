//! Envelopes (seed 000's envelopes, recipients and signature fields; seed 003's evidence log):
//! the sender's draft routes and the hash-chained evidence trail. Each route is its own Lambda
//! (`src/bin/`). Send, the signing ceremony, the signing worker and completion build on these.

pub mod ceremony;
pub mod error;
pub mod lifecycle;
pub mod repo;
pub mod routes;
pub mod send;
