//! `POST /v1/auth/logout`: see `gsign_functions_accounts::auth`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_accounts::auth::LOGOUT)
}
