//! Signing jobs (SQS) -> signatures in the PDF, routing, completion: see
//! `gsign_functions_envelopes::worker`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_envelopes::worker::SIGN_ENVELOPE)
}
