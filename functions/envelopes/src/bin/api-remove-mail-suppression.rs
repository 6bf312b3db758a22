//! `DELETE /v1/mail/suppressions/{email}`: see `gsign_functions_envelopes::mail`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_envelopes::mail::REMOVE_MAIL_SUPPRESSION)
}
