//! `schedule-sweep-outbox`: see `gsign_functions_system::outbox`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_system::outbox::SWEEP_OUTBOX)
}
