//! `DELETE /v1/api-keys/{id}`: see `gsign_functions_accounts::manage`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_accounts::manage::REVOKE_API_KEY)
}
