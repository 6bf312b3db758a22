//! `GET /v1/envelopes/counts`: see `gsign_functions_envelopes::routes`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_envelopes::routes::COUNT_ENVELOPES)
}
