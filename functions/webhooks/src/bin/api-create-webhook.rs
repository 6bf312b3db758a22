//! `POST /v1/webhooks`: see `gsign_functions_webhooks::routes`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_webhooks::routes::CREATE_WEBHOOK)
}
