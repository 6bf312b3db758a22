//! `gsign-webhooks`: every function of the area (`gsign_functions_webhooks::AREA`); the Lambda's
//! `Handler` says which.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_webhooks::AREA)
}
