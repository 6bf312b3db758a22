//! `PATCH /v1/webhooks/{id}`: see `gsign_functions_webhooks::routes`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_webhooks::routes::UPDATE_WEBHOOK)
}
