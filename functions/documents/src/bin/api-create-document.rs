//! `POST /v1/documents`: see `gsign_functions_documents::routes`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_documents::routes::CREATE_DOCUMENT)
}
