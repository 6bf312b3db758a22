//! `GET /v1/doc-packs/{id}`: see `gsign_functions_doc_packs`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_doc_packs::GET_DOC_PACK)
}
