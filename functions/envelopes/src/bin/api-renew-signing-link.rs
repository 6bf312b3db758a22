//! `POST /v1/signing/{token}/new-link`: see `gsign_functions_envelopes::ceremony`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_envelopes::ceremony::RENEW_SIGNING_LINK)
}
