//! `POST /v1/auth/password-reset/confirm`: see `gsign_functions_accounts::auth`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_accounts::auth::PASSWORD_RESET_CONFIRM)
}
