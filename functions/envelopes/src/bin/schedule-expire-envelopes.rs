//! `schedule-expire-envelopes`: see `gsign_functions_envelopes::lifecycle`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_envelopes::lifecycle::EXPIRE_ENVELOPES)
}
