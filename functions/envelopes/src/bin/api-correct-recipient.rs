//! `POST /v1/envelopes/{id}/recipients/{recipient_id}/correct`: see `gsign_functions_envelopes::routes`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_envelopes::routes::CORRECT_RECIPIENT)
}
