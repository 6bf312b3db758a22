//! `POST /v1/envelopes/{id}/send`: see `gsign_functions_envelopes::send`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_envelopes::routes::SEND_ENVELOPE)
}
