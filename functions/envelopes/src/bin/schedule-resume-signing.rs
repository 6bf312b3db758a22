//! `schedule-resume-signing`: see `gsign_functions_envelopes::worker`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_envelopes::worker::RESUME_SIGNING)
}
