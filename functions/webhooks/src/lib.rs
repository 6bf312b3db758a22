//! Webhooks (seed 000's `webhook_deliveries`, seed 001's webhook delivery): endpoints per
//! organization with KMS-encrypted signing secrets, events from the outbox fanned out to the
//! endpoints that subscribe, signed Standard Webhooks deliveries through the SSRF guard with
//! bounded retries, the delivery log in DynamoDB, and replay. Each route and queue consumer is
//! its own Lambda ([`AREA`]).

// The route futures nest the spans of the use cases and store calls they await.
#![recursion_limit = "256"]

pub mod error;
pub mod http;
pub mod jobs;
pub mod service;
pub mod store;

pub use http::AREA;
