//! Arbitrary bytes through `sniff` and `inspect` with the production limits. Any panic that
//! reaches libFuzzer's hook counts as a crash, including one `inspect` would catch.
#![no_main]

use gsign_pdf::{inspect, sniff, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sniff(data);
    let _ = inspect(data, &Limits::default());
});
