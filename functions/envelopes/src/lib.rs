//! Envelopes (seed 000's envelopes, recipients and signature fields; seed 001's signing flow;
//! seed 003's evidence log): the sender's routes, the signing ceremony, the signing worker and
//! completion, all writing one hash-chained evidence trail. Each route, queue consumer and
//! schedule is its own Lambda ([`AREA`]).

// The route futures nest the spans of the use cases and store calls they await.
#![recursion_limit = "256"]

pub mod acting;
pub mod api;
pub mod archive;
pub mod ceremony;
pub mod completion;
pub mod embedded;
pub mod error;
pub mod lifecycle;
pub mod mail;
pub mod packs;
pub mod renewal;
pub mod repo;
pub mod routes;
pub mod send;
pub mod service;
pub mod worker;

pub use api::AREA;
