//! `POST /v1/doc-packs/{id}/issue`: see `gsign_functions_doc_packs`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_doc_packs::ISSUE_DOC_PACK)
}
