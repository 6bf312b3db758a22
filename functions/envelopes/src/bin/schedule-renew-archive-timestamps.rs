//! Daily: renews the archive timestamp (PAdES B-LTA) of completed envelopes whose last one's
//! authority certificate ends within the window; see `gsign_functions_envelopes::renewal`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_envelopes::renewal::RENEW_ARCHIVE_TIMESTAMPS)
}
