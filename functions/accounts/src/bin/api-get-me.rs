//! `GET /v1/me`: see `gsign_functions_accounts::me`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_accounts::me::FUNCTION)
}
