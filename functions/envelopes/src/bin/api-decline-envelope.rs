//! `POST /v1/signing/{token}/decline`: see `gsign_functions_envelopes::ceremony`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_envelopes::ceremony::DECLINE_ENVELOPE)
}
