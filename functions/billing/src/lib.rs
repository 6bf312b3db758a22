//! Billing (seed 000, seed 001's billing service): the organization's plan and period, and
//! its usage per type and day. Usage is recorded where it happens (envelope send, signature
//! applied, certificate created) and quotas are enforced there (`gsign_platform::billing`).
//! Each route is its own Lambda ([`AREA`]); Stripe's events arrive at `service/stripe_events.rs` and are applied by `store.rs`.

// The route futures nest the spans of the use cases and store calls they await.
#![recursion_limit = "256"]

pub mod error;
pub mod http;
pub mod service;
pub mod store;

pub use error::{BillingCase, BillingError};
pub use http::AREA;
pub use service::BillingApi;
