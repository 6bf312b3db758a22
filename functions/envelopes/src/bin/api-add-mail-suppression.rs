//! `POST /v1/mail/suppressions`: see `gsign_functions_envelopes::mail`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_envelopes::mail::ADD_MAIL_SUPPRESSION)
}
