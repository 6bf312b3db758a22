//! `POST /v1/verify`: see `gsign_functions_signatures::verify`.
fn main() -> std::process::ExitCode {
    // The verifying child is this binary too: it must not start a runtime first.
    if let Some(code) = gsign_functions_signatures::verify::child_main_if_requested() {
        return code;
    }
    gsign_platform::lambda::main(&gsign_functions_signatures::verify::VERIFY_SIGNATURES)
}
