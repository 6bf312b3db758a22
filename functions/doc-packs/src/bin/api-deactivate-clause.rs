//! `POST /v1/clauses/{id}/deactivate`: see `gsign_functions_doc_packs`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_doc_packs::DEACTIVATE_CLAUSE)
}
