//! `GET /v1/sealed-envelopes/{id}`: see `gsign_functions_sealed`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_sealed::GET_SEALED_ENVELOPE)
}
