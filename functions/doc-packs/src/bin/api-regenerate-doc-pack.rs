//! `POST /v1/doc-packs/{id}/regenerate`: see `gsign_functions_doc_packs`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_doc_packs::REGENERATE_DOC_PACK)
}
