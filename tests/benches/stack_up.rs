//! Time for `infra/local/stack up` to reach a healthy `GET /v1/health`, with everything
//! already installed and built (the script rebuilds incrementally, re-provisions moto,
//! migrates and restarts the runner each time).
//!
//! Run: `cargo bench -p gsign-tests --bench stack_up` (`STACK_UP_RUNS`, default 5).

use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    println!("stack_up: {}", gsign_tests::bench::provenance());
    let runs: usize = std::env::var("STACK_UP_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let script = gsign_tests::root().join("infra/local/stack");
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    for run in 0..=runs {
        let started = Instant::now();
        let output = Command::new(&script)
            .arg("up")
            .output()
            .expect("infra/local/stack runs");
        assert!(
            output.status.success(),
            "stack up failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        // The first run may compile; it is a warm-up, not a measurement.
        if run > 0 {
            times.push(started.elapsed());
        }
    }
    times.sort();
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    println!(
        "stack up -> healthy: median {}, min {}, max {} ({runs} runs after one warm-up)",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1])
    );
}
