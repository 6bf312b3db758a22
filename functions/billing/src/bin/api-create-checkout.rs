//! `POST /v1/billing/checkout`: see `gsign_functions_billing::checkout`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_billing::CREATE_CHECKOUT)
}
