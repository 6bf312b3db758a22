//! `PUT /v1/envelopes/{id}/fields`: see `gsign_functions_envelopes::routes`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_envelopes::routes::SET_ENVELOPE_FIELDS)
}
