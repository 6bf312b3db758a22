//! Sealed-envelope figures (#9) through the local runner and SoftHSM, as a client would call
//! the API: `POST /v1/prompts/{id}/seal` (AES-256-GCM, RSA-OAEP-SHA256 wrap, RSA-PSS-SHA256
//! signature in the HSM, the row written) and `POST /v1/sealed-envelopes/{id}/open` (the
//! signature verified, the key unwrapped in the HSM, AES-GCM, the attempt logged), for 1 KB and
//! 1 MB payloads with RSA-3072 keys:
//!
//! - latency: median and p95 of 40 sequential calls;
//! - throughput: 200 calls with 8 in flight, per second.
//!
//! Twice: with the keys in the HSM (SoftHSM), then in KMS (`SealedKeyStore=kms`: LocalStack's
//! KMS locally, a Python server, so those figures say little about AWS KMS's own latency).
//!
//! Run: `cargo bench -p gsign-tests --bench sealed` (local stack up).

use std::time::Instant;

use futures::stream::{self, StreamExt};
use gsign_tests::{start_app, Tenant, TestDatabase, TestStack};
use serde_json::json;

const SEQUENTIAL: usize = 40;
const TOTAL: usize = 200;
const IN_FLIGHT: usize = 8;

async fn call_ok(
    stack: &TestStack,
    who: &Tenant,
    path: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    let (status, answer) = stack.call(who, "POST", path, body).await;
    assert!(status == 200 || status == 201, "{path}: {status} {answer}");
    answer
}

fn percentiles(mut ms: Vec<f64>) -> String {
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
    format!("median {:.1} ms, p95 {:.1} ms", at(0.5), at(0.95))
}

#[tokio::main]
async fn main() {
    gsign_tests::bench::require_optimized("sealed");
    gsign_tests::bench::show_function_logs();
    for store in ["hsm", "kms"] {
        let db = TestDatabase::migrated().await;
        let stack = start_app(
            &db,
            &[
                ("RateLimitPerIp", "1000000".to_owned()),
                ("RateLimitSensitivePerIp", "1000000".to_owned()),
                ("SealedKeyStore", store.to_owned()),
            ],
        )
        .await;
        let admin = Tenant::create(&db, "admin").await;
        call_ok(
            &stack,
            &admin,
            "/v1/crypto-keys/generate",
            Some(json!({"key_id": "bench-sender", "key_usage": "sender", "key_algorithm": "RSA-3072"})),
        )
        .await;
        call_ok(&stack, &admin, "/v1/crypto-keys/generate", Some(json!({"key_id": "bench-receiver", "key_usage": "receiver", "key_algorithm": "RSA-3072"}))).await;

        for (label, size) in [("1 KB", 1024usize), ("1 MB", 1024 * 1024)] {
            let text: String = "Нууц мэдээлэл. ".chars().cycle().take(size / 2).collect();
            let text = format!("{text}{}", "x".repeat(size - text.len()));
            assert_eq!(text.len(), size);
            let prompt = call_ok(
                &stack,
                &admin,
                "/v1/prompts",
                Some(json!({"prompt_text": text})),
            )
            .await;
            let seal_path = format!("/v1/prompts/{}/seal", prompt["id"].as_str().expect("id"));
            let seal_body = json!({"receiver_key_id": "bench-receiver"});
            // Warm: the token's session, the key handles, the caches.
            let sealed = call_ok(&stack, &admin, &seal_path, Some(seal_body.clone())).await;
            let open_path = format!(
                "/v1/sealed-envelopes/{}/open",
                sealed["id"].as_str().expect("id")
            );
            let opened = call_ok(&stack, &admin, &open_path, None).await;
            assert_eq!(opened["plaintext"].as_str().map(str::len), Some(size));

            let mut seal_ms = Vec::new();
            let mut open_ms = Vec::new();
            for _ in 0..SEQUENTIAL {
                let started = Instant::now();
                call_ok(&stack, &admin, &seal_path, Some(seal_body.clone())).await;
                seal_ms.push(started.elapsed().as_secs_f64() * 1000.0);
                let started = Instant::now();
                call_ok(&stack, &admin, &open_path, None).await;
                open_ms.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            let started = Instant::now();
            stream::iter(0..TOTAL)
                .for_each_concurrent(IN_FLIGHT, |_| {
                    let (stack, admin, seal_path, seal_body) =
                        (&stack, &admin, &seal_path, &seal_body);
                    async move {
                        call_ok(stack, admin, seal_path, Some(seal_body.clone())).await;
                    }
                })
                .await;
            let seals_per_second = TOTAL as f64 / started.elapsed().as_secs_f64();
            let started = Instant::now();
            stream::iter(0..TOTAL)
                .for_each_concurrent(IN_FLIGHT, |_| {
                    let (stack, admin, open_path) = (&stack, &admin, &open_path);
                    async move {
                        call_ok(stack, admin, open_path, None).await;
                    }
                })
                .await;
            let opens_per_second = TOTAL as f64 / started.elapsed().as_secs_f64();
            println!(
                "{store} {label}: seal {} ({seals_per_second:.0}/s with {IN_FLIGHT} in flight); open {} ({opens_per_second:.0}/s)",
                percentiles(seal_ms),
                percentiles(open_ms),
            );
        }
        stack.stop().await;
    }
}
