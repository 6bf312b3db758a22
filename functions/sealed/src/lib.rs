//! Sealed envelopes (seed 002): prompts sealed end to end (AES-256-GCM, the key wrapped with
//! RSA-OAEP to the receiver, the whole signed with RSA-PSS in the HSM), opened with the
//! receiver's HSM key after the sender's signature is checked, every attempt logged; the key
//! registry; retention. Wire format: `gsign_core::sealed` and docs/sealed-envelopes.md. Each
//! route is its own Lambda ([`AREA`]).

// The route futures nest the spans of the use cases and store calls they await.
#![recursion_limit = "256"]
pub mod error;
pub mod http;
pub mod jobs;
pub mod service;
pub mod store;

pub use http::AREA;
