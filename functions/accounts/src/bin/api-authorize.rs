//! `api-authorize`: see `gsign_functions_accounts::authorize`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_accounts::authorize::FUNCTION)
}
