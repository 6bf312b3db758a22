//! `POST /v1/webhooks/{id}/test`: see `gsign_functions_webhooks::routes`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_webhooks::routes::TEST_WEBHOOK)
}
