//! `POST /v1/signing/{token}/sign`: see `gsign_functions_envelopes::ceremony`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_envelopes::ceremony::SIGN_ENVELOPE)
}
