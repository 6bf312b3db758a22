//! `GET /v1/doc-templates`: see `gsign_functions_doc_packs`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_doc_packs::LIST_DOC_TEMPLATES)
}
