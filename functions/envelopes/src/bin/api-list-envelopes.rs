//! `GET /v1/envelopes`: see `gsign_functions_envelopes::routes`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_envelopes::routes::LIST_ENVELOPES)
}
