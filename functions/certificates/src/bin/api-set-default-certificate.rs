//! `POST /v1/certificates/{id}/default`: see `gsign_functions_certificates::routes`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_certificates::routes::SET_DEFAULT_CERTIFICATE)
}
