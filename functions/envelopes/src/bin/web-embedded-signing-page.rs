//! See `gsign_functions_envelopes::embedded`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_envelopes::embedded::EMBEDDED_SIGNING_PAGE)
}
