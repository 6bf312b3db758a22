//! `webhook deliveries (SQS) -> signed POSTs, retried on a schedule`: see `gsign_functions_webhooks::deliver`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_webhooks::deliver::FUNCTION)
}
