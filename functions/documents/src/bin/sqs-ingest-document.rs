//! S3 ObjectCreated -> SQS -> ingest: see `gsign_functions_documents::ingest`.
fn main() -> std::process::ExitCode {
    // The same binary is the sandboxed PDF inspector it starts for each untrusted file.
    if let Some(code) = gsign_pdf::child_main_if_requested() {
        return code;
    }
    gsign_platform::lambda::main(&gsign_functions_documents::ingest::FUNCTION)
}
