//! `GET /v1/doc-packs/{id}/instances/{doc_id}/download`: see `gsign_functions_doc_packs`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_doc_packs::DOWNLOAD_DOC_PACK_INSTANCE)
}
