//! `PUT /v1/documents/{id}/legal-hold`: see `gsign_functions_documents::routes`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_documents::routes::SET_DOCUMENT_LEGAL_HOLD)
}
