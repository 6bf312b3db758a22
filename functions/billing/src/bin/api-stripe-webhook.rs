//! `POST /v1/billing/stripe-webhook` (no authorizer): see `gsign_functions_billing::stripe`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_billing::STRIPE_WEBHOOK)
}
