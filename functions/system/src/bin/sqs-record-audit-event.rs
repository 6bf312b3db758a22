//! `sqs-record-audit-event`: see `gsign_functions_system::outbox`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_system::outbox::RECORD_AUDIT_EVENT)
}
