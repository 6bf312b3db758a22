//! `POST /v1/signing/{token}/access-code`: see `gsign_functions_envelopes::ceremony`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_envelopes::ceremony::SUBMIT_ACCESS_CODE)
}
