//! The PDF inspector as a binary of its own: what `gsign_pdf::inspect_isolated` starts in the
//! tests, and a way to run the inspector by hand:
//! `gsign-pdf-inspect __gsign-inspect-pdf '{}' file.pdf` (`{}` = default limits).

use std::process::ExitCode;

fn main() -> ExitCode {
    if let Some(code) = gsign_pdf::child_main_if_requested() {
        return code;
    }
    eprintln!(
        "usage: gsign-pdf-inspect {} <limits-json> <file>",
        gsign_pdf::INSPECT_ARG
    );
    ExitCode::from(2)
}
