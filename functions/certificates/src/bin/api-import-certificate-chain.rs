//! `PUT /v1/certificates/{id}/chain`: see `gsign_functions_certificates::routes`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_certificates::routes::IMPORT_CERTIFICATE_CHAIN)
}
