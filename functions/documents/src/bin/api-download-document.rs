//! `GET /v1/documents/{id}/download`: see `gsign_functions_documents::routes`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_documents::routes::DOWNLOAD_DOCUMENT)
}
