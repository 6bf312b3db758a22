//! `POST /v1/prompts/{id}/seal`: see `gsign_functions_sealed`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_sealed::SEAL_PROMPT)
}
