//! `POST /v1/clauses/{id}/versions`: see `gsign_functions_doc_packs`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_doc_packs::CREATE_CLAUSE_VERSION)
}
