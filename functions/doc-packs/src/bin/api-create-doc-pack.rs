//! `POST /v1/doc-packs`: see `gsign_functions_doc_packs`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_doc_packs::CREATE_DOC_PACK)
}
