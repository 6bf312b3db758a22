//! `POST /v1/envelopes/{id}/void`: see `gsign_functions_envelopes::lifecycle`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_envelopes::routes::VOID_ENVELOPE)
}
