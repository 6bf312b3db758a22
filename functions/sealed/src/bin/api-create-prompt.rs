//! `POST /v1/prompts`: see `gsign_functions_sealed`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_sealed::CREATE_PROMPT)
}
