//! Daily: seed 002's retention; see `gsign_functions_sealed::retention`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_sealed::retention::PURGE_SEALED_DATA)
}
