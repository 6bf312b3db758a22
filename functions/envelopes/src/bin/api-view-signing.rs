//! `GET /v1/signing/{token}`: see `gsign_functions_envelopes::ceremony`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_envelopes::ceremony::VIEW_SIGNING)
}
