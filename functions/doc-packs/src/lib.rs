//! Document generation (seed 003): the clause library, document templates and document
//! packs, whose documents are typeset from Markdown clauses and signed through envelopes.
//! Each route is its own Lambda ([`AREA`], served by the area binary `gsign-doc-packs`).

// The route futures nest the spans of the use cases and store calls they await.
#![recursion_limit = "256"]

pub mod error;
pub mod http;
pub mod jobs;
pub mod service;
pub mod store;

pub use http::AREA;
