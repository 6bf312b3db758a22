//! `gsign-billing`: every function of the area (`gsign_functions_billing::AREA`); the Lambda's
//! `Handler` says which.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_billing::AREA)
}
