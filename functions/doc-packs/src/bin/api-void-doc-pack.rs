//! `POST /v1/doc-packs/{id}/void`: see `gsign_functions_doc_packs`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_doc_packs::VOID_DOC_PACK)
}
