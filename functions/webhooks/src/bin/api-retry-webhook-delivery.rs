//! `POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry`: see `gsign_functions_webhooks::routes`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_webhooks::routes::RETRY_WEBHOOK_DELIVERY)
}
