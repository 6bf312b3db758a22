//! Envelopes (seed 000's envelopes, recipients and signature fields; seed 001's signing flow;
//! seed 003's evidence log): the sender's routes, the signing ceremony, the signing worker and
//! completion, all writing one hash-chained evidence trail. Each route, queue consumer and
//! schedule is its own Lambda ([`AREA`]).

// The route futures nest the spans of the use cases and store calls they await.
#![recursion_limit = "256"]

pub mod error;
pub mod http;
pub mod jobs;
pub mod service;
pub mod store;

pub use http::AREA;
