//! `DELETE /v1/documents/{id}`: see `gsign_functions_documents::routes`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_documents::routes::DELETE_DOCUMENT)
}
