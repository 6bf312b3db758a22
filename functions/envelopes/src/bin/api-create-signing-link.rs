//! `POST /v1/envelopes/{id}/recipients/{recipient_id}/signing-link`: see `gsign_functions_envelopes::routes`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_envelopes::routes::CREATE_SIGNING_LINK)
}
