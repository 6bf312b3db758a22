//! `POST /v1/auth/accept-invitation`: see `gsign_functions_accounts::auth`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_accounts::auth::ACCEPT_INVITATION)
}
