//! `DELETE /v1/prompts/{id}`: see `gsign_functions_sealed`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_sealed::DELETE_PROMPT)
}
