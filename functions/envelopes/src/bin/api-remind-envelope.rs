//! `POST /v1/envelopes/{id}/remind`: see `gsign_functions_envelopes::lifecycle`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_envelopes::routes::REMIND_ENVELOPE)
}
