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
pub mod repo;
pub mod retention;
pub mod routes;

/// Every function of the area, each its own Lambda, all served by the area's one binary
/// (`gsign-documents`, which runs the one its `Handler` names) and by the local runner.
pub const FUNCTIONS: &[gsign_platform::lambda::FunctionSpec] = &[
    routes::CREATE_DOCUMENT,
    routes::LIST_DOCUMENTS,
    routes::GET_DOCUMENT,
    routes::UPDATE_DOCUMENT,
    routes::DOWNLOAD_DOCUMENT,
    routes::DELETE_DOCUMENT,
    routes::SET_DOCUMENT_LEGAL_HOLD,
    ingest::FUNCTION,
    erasure::ERASE_DELETED_DOCUMENTS,
];
