//! Documents: the upload routes (`api-create-document`, ...), the S3-triggered ingest
//! (`sqs-ingest-document`: hashing, inspection, conversion), downloads, retention and legal
//! hold, and the erasure of deleted documents' bytes (`schedule-erase-deleted-documents`).

// The route futures nest the spans of the use cases and store calls they await.
#![recursion_limit = "256"]

pub mod error;
pub mod http;
pub mod jobs;
pub mod service;
pub mod store;

pub use http::AREA;
