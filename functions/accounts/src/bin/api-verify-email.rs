//! `POST /v1/auth/verify-email`: see `gsign_functions_accounts::auth`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_accounts::auth::VERIFY_EMAIL)
}
