//! The documents jobs: `sqs-ingest-document` (an upload examined, converted and inspected) and
//! `schedule-erase-deleted-documents` (deleted documents' bytes erased after their grace).

pub mod erasure;
pub mod ingest;
