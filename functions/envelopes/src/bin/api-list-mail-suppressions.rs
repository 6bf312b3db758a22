//! `GET /v1/mail/suppressions`: see `gsign_functions_envelopes::mail`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_envelopes::mail::LIST_MAIL_SUPPRESSIONS)
}
