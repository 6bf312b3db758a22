//! Hourly: erases the bytes of deleted documents that the deleting request could not; see
//! `gsign_functions_documents::erasure`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_documents::erasure::ERASE_DELETED_DOCUMENTS)
}
