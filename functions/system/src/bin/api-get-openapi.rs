//! `GET /v1/openapi.json`: see `gsign_functions_system::openapi`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_system::openapi::FUNCTION)
}
