//! `POST /v1/auth/register`: see `gsign_functions_accounts::auth`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_accounts::auth::REGISTER)
}
