//! `GET /v1/health`: see `gsign_functions_system::health`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_system::health::FUNCTION)
}
