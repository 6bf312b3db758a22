//! `DELETE /v1/organization/users/{id}`: see `gsign_functions_accounts::manage`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_accounts::manage::REMOVE_MEMBER)
}
