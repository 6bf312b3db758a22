//! The sandboxed verifier: this same binary, started as a child under CPU, memory and
//! wall-clock limits (`gsign_pdf::sandbox`), so a parser crash or an endless loop becomes a 422
//! about the file, never a dead function.

use std::ffi::OsString;
use std::process::ExitCode;

use gsign_pdf::sandbox::isolated_child_if_requested;
use gsign_pdf::Limits;
use gsign_signing::verify::verify_with_crls;
use gsign_signing::x509::parse_pem_bundle;

/// The child's first argument.
pub const VERIFY_ARG: &str = "__gsign-verify-pdf";

/// If this process was started as the verifying child, be it (see
/// [`gsign_pdf::sandbox::isolated_child_if_requested`]): `argv[4]` is a PEM file of roots,
/// `argv[5]` (optional) a file of DER CRLs, one per line in hex.
pub fn child_main_if_requested() -> Option<ExitCode> {
    isolated_child_if_requested(VERIFY_ARG, verify_job)
}

fn verify_job(_limits: &Limits, bytes: &[u8], extra: &[OsString]) -> Result<String, String> {
    let roots = match extra.first() {
        Some(path) => {
            let pem = std::fs::read_to_string(path).map_err(|e| format!("roots: {e}"))?;
            if pem.trim().is_empty() {
                Vec::new()
            } else {
                parse_pem_bundle(&pem).map_err(|e| format!("roots: {e}"))?
            }
        }
        None => Vec::new(),
    };
    let crls = match extra.get(1) {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("CRLs: {e}"))?
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| hex::decode(line.trim()).map_err(|e| format!("CRLs: {e}")))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    serde_json::to_string(&verify_with_crls(bytes, &roots, &crls)).map_err(|e| e.to_string())
}
