//! Arbitrary bytes through the verifier, as `POST /v1/verify`'s sandboxed child runs it
//! (`gsign_functions_signatures::service`'s `verify_job`: `verify_with_crls` with the
//! configured roots and the organization's CRLs), here with the attack corpus's root and no
//! CRL. The child's CPU, memory and time limits are libFuzzer's `-rss_limit_mb` and
//! `-timeout`; any panic is a crash (in production the child would die and the route answer
//! 422, but a panic is still a bug).
#![no_main]

use std::sync::OnceLock;

use gsign_signing::verify::verify_with_crls;
use gsign_signing::x509::parse_pem_bundle;
use libfuzzer_sys::fuzz_target;
use x509_cert::Certificate;

fn roots() -> &'static [Certificate] {
    static ROOTS: OnceLock<Vec<Certificate>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        parse_pem_bundle(include_str!("../../tests/corpus/roots.pem")).expect("corpus root")
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = verify_with_crls(data, roots(), &[]);
});
