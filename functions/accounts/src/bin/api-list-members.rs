//! `GET /v1/organization/users`: see `gsign_functions_accounts::manage`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_accounts::manage::LIST_MEMBERS)
}
