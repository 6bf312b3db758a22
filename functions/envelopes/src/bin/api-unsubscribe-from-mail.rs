//! `POST /v1/mail/unsubscribe`: see `gsign_functions_envelopes::mail`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_envelopes::mail::UNSUBSCRIBE_FROM_MAIL)
}
