//! `GET /v1/envelopes/{id}/download`: see `gsign_functions_envelopes::lifecycle`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_envelopes::routes::DOWNLOAD_ENVELOPE)
}
