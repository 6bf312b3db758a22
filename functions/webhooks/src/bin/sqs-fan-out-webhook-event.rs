//! `webhook events (SQS) -> one delivery per subscribed endpoint`: see `gsign_functions_webhooks::fan_out`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_webhooks::fan_out::FUNCTION)
}
