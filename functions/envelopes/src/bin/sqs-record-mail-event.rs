//! `sqs-record-mail-event`: see `gsign_functions_envelopes::mail`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_envelopes::mail::RECORD_MAIL_EVENT)
}
