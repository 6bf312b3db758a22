//! Documents: the upload routes (`api-create-document`, ...), the S3-triggered ingest
//! (`sqs-ingest-document`: hashing, inspection, conversion), downloads, retention and legal
//! hold, and the erasure of deleted documents' bytes (`schedule-erase-deleted-documents`).

// The route futures nest the spans of the use cases and store calls they await.
#![recursion_limit = "256"]

pub mod api;
pub mod common;
pub mod convert;
pub mod erasure;
pub mod error;
pub mod ingest;
pub mod retention;
pub mod routes;
pub mod store;

pub use api::AREA;
