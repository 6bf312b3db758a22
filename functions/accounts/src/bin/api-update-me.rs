//! `PATCH /v1/me`: see `gsign_functions_accounts::manage`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_accounts::manage::UPDATE_ME)
}
