//! `GET /v1/certificates`: see `gsign_functions_certificates::routes`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_certificates::routes::LIST_CERTIFICATES)
}
