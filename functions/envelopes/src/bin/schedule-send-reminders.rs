//! `schedule-send-reminders`: see `gsign_functions_envelopes::lifecycle`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_envelopes::lifecycle::SEND_REMINDERS)
}
