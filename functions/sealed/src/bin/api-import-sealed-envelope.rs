//! `POST /v1/sealed-envelopes`: see `gsign_functions_sealed`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_sealed::IMPORT_SEALED_ENVELOPE)
}
