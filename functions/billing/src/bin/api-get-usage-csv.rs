//! `GET /v1/billing/usage.csv`: see `gsign_functions_billing`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_billing::GET_USAGE_CSV)
}
