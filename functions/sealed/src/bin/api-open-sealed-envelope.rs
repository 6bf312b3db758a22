//! `POST /v1/sealed-envelopes/{id}/open`: see `gsign_functions_sealed`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_sealed::OPEN_SEALED_ENVELOPE)
}
