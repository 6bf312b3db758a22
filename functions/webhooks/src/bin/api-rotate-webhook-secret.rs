//! `POST /v1/webhooks/{id}/rotate-secret`: see `gsign_functions_webhooks::routes`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_webhooks::routes::ROTATE_WEBHOOK_SECRET)
}
