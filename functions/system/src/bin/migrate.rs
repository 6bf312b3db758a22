//! `migrate`: a Lambda invoked after deploy, or a CLI locally (`migrate up|down [N]|status`).
fn main() -> std::process::ExitCode {
    gsign_functions_system::jobs::migrate::main()
}
