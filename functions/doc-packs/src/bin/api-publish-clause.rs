//! `POST /v1/clauses/{id}/publish`: see `gsign_functions_doc_packs`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_doc_packs::PUBLISH_CLAUSE)
}
