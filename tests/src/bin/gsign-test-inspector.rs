//! The sandboxed PDF inspector for stacks that tests run in-process: in Lambda the ingest
//! binary is its own inspector, in `gsign-local` the runner is; a test binary cannot be, so
//! the tests point `PDF_INSPECTOR` here.
fn main() -> std::process::ExitCode {
    gsign_pdf::child_main_if_requested().unwrap_or_else(|| {
        eprintln!(
            "usage: gsign-test-inspector {} LIMITS_JSON FILE",
            gsign_pdf::INSPECT_ARG
        );
        std::process::ExitCode::from(2)
    })
}
