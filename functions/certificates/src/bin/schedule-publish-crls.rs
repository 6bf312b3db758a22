//! Hourly: issues and publishes the CRL of every organization CA whose current one is a day
//! old, unpublished, or older than a revocation; see `gsign_functions_certificates::revocation`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_certificates::revocation::PUBLISH_CRLS)
}
