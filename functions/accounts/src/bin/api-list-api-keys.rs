//! `GET /v1/api-keys`: see `gsign_functions_accounts::manage`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_accounts::manage::LIST_API_KEYS)
}
