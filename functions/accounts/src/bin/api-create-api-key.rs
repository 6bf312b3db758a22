//! `POST /v1/api-keys`: see `gsign_functions_accounts::manage`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_accounts::manage::CREATE_API_KEY)
}
