//! The system's jobs: `migrate` (after every deploy; also a CLI), the outbox's consumers
//! (`sqs-record-audit-event`, `sqs-send-email`) and its sweeper (`schedule-sweep-outbox`).

pub mod migrate;
pub mod outbox;
