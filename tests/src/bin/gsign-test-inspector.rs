//! The sandboxed PDF children for stacks that tests run in-process: in Lambda the ingest and
//! verify binaries are their own children, in `gsign-local` the runner is; a test binary cannot
//! be, so the tests point `PDF_INSPECTOR` and `PDF_VERIFIER` here.
fn main() -> std::process::ExitCode {
    gsign_pdf::child_main_if_requested()
        .or_else(gsign_functions_signatures::service::child_main_if_requested)
        .unwrap_or_else(|| {
            eprintln!(
                "usage: gsign-test-inspector {}|{} LIMITS_JSON FILE [ROOTS]",
                gsign_pdf::INSPECT_ARG,
                gsign_functions_signatures::service::VERIFY_ARG
            );
            std::process::ExitCode::from(2)
        })
}
