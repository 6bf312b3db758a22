//! `gsign-doc-packs`: every function of the area (`gsign_functions_doc_packs::AREA`); the Lambda's
//! `Handler` says which.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_doc_packs::AREA)
}
