//! Envelope figures through the local runner (every function in-process, moto, Postgres,
//! Redis, SoftHSM, a local TSA), as recipients would drive it over HTTP:
//!
//! - the time from the last signer's `POST /v1/signing/{token}/sign` to the envelope reading
//!   `completed` (their signature in the PDF, B-T; the seal, B-T; for B-LTA the organization
//!   CA's CRL issued in the HSM and published, the TSA's CRL fetched, the DSS revision and the
//!   document timestamp; the certificate of completion; retention; the emails written), for a
//!   1-, 10- and 100-page PDF at B-T and at B-LTA side by side, best and median of 5;
//! - the latency of fetching an organization CA's CRL from its distribution point;
//! - envelopes completed per minute with 20 envelopes of 2 sequential signers in flight at
//!   once: every first signer signs at once, then every second one as their links arrive
//!   (from the first links read to the last `completed`).
//!
//! Run: `cargo bench -p gsign-tests --bench envelopes` (local stack up).

use std::time::{Duration, Instant};

use gsign_tests::bench::contract_pdf;
use gsign_tests::envelopes::{consent_and_sign, drawn, envelope_when, send_envelope_at};
use gsign_tests::pki::{LocalTsa, TestPki};
use gsign_tests::{mailed_token, mailed_tokens, start_app, Tenant, TestDatabase, TestStack};
use serde_json::json;

const RUNS: usize = 5;
const IN_FLIGHT: usize = 20;

/// A sent envelope of `document` for two signers in order, at `level`; their addresses.
async fn two_signer_envelope(
    stack: &TestStack,
    sender: &Tenant,
    document: &str,
    level: &str,
) -> (String, [String; 2]) {
    let tag = gsign_tests::unique();
    let signers = [
        format!("first-{tag}@bench.example"),
        format!("second-{tag}@bench.example"),
    ];
    let (base, _) = send_envelope_at(
        stack,
        sender,
        document,
        "sequential",
        Some(level),
        &[
            (&signers[0], "Ана Лима", "signer", 1),
            (&signers[1], "Батбаяр Өлзий", "signer", 2),
        ],
        |_| Vec::new(),
    )
    .await;
    (base, signers)
}

/// Signs as `email` from the newest link mailed to them.
async fn sign_as(stack: &TestStack, email: &str) {
    let token = mailed_token(email, "/sign").await;
    let (status, answer) = consent_and_sign(stack, &token, json!({"signature": drawn()})).await;
    assert_eq!(status, 202, "{answer}");
}

/// Seconds from the last signer's `sign` to `completed`, polled every 5 ms.
async fn last_sign_to_completed(
    stack: &TestStack,
    sender: &Tenant,
    document: &str,
    level: &str,
) -> f64 {
    let (base, signers) = two_signer_envelope(stack, sender, document, level).await;
    sign_as(stack, &signers[0]).await;
    envelope_when(stack, sender, &base, "the first signature", |e| {
        e["current_routing_order"] == 2
    })
    .await;
    let token = mailed_token(&signers[1], "/sign").await;
    // Consent first: only `sign` itself is timed.
    let (_, _) = gsign_tests::envelopes::by_link(
        stack,
        "POST",
        &format!("/v1/signing/{token}/consent"),
        Some(json!({"disclosure_version": "2026-11", "accepted": true})),
    )
    .await;
    let started = Instant::now();
    let (status, answer) = gsign_tests::envelopes::by_link(
        stack,
        "POST",
        &format!("/v1/signing/{token}/sign"),
        Some(json!({"signature": drawn()})),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    loop {
        let (_, envelope) = stack.call(sender, "GET", &base, None).await;
        if envelope["status"] == "completed" {
            return started.elapsed().as_secs_f64();
        }
        assert!(
            envelope["processing_error"].is_null(),
            "{}",
            envelope["processing_error"]
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "never completed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::main]
async fn main() {
    gsign_tests::bench::require_optimized("envelopes");
    gsign_tests::bench::show_function_logs();
    let db = TestDatabase::migrated().await;
    let pki = TestPki::new();
    let tsa = LocalTsa::start(&pki).await;
    let stack = start_app(&db, &gsign_tests::bench::signing_stack_parameters(&tsa)).await;
    let sender = Tenant::create(&db, "member").await;
    // The organization's CA and seal are made on first use: warm them up outside the figures.
    let warm = stack
        .upload_ready_pdf(&sender, "warm.pdf", contract_pdf(1))
        .await;
    last_sign_to_completed(&stack, &sender, &warm, "b_lta").await;

    for pages in [1, 10, 100] {
        let pdf = contract_pdf(pages);
        let size = pdf.len();
        let document = stack
            .upload_ready_pdf(&sender, &format!("contract-{pages}.pdf"), pdf)
            .await;
        let mut medians = Vec::new();
        for level in ["b_t", "b_lta"] {
            let mut seconds = Vec::new();
            for _ in 0..RUNS {
                seconds.push(last_sign_to_completed(&stack, &sender, &document, level).await);
            }
            seconds.sort_by(f64::total_cmp);
            println!(
                "last sign -> completed, {pages}-page PDF ({size} bytes), {level}: best {:.3} s, median {:.3} s, worst {:.3} s over {RUNS}",
                seconds[0],
                seconds[RUNS / 2],
                seconds[RUNS - 1]
            );
            medians.push(seconds[RUNS / 2]);
        }
        println!(
            "  B-LTA adds {:.3} s (median) to B-T for {pages} pages",
            medians[1] - medians[0]
        );
    }

    // The CRL a validator fetches (the runner serving the PKI bucket, as CloudFront does).
    let ca = stack
        .call(&sender, "GET", "/v1/certificates?purpose=ca", None)
        .await
        .1["data"][0]["id"]
        .as_str()
        .expect("the organization CA")
        .to_owned();
    let url = format!("{}/pki/crls/{ca}.crl", stack.url);
    let http = reqwest::Client::new();
    let mut fetches = Vec::new();
    for _ in 0..50 {
        let started = Instant::now();
        let response = http.get(&url).send().await.expect("CRL");
        assert_eq!(response.status(), 200);
        response.bytes().await.expect("bytes");
        fetches.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    fetches.sort_by(f64::total_cmp);
    println!(
        "CRL fetch from its distribution point: p50 {:.2} ms, p99 {:.2} ms over 50",
        fetches[25], fetches[49]
    );

    let document = stack
        .upload_ready_pdf(&sender, "contract-throughput.pdf", contract_pdf(10))
        .await;
    let mut envelopes = Vec::new();
    for _ in 0..IN_FLIGHT {
        envelopes.push(two_signer_envelope(&stack, &sender, &document, "b_lta").await);
    }
    // Every first signer, then every second one, each wave signing at once; the links are
    // read from the local mailbox once per round for all of them.
    let started = Instant::now();
    for wave in 0..2 {
        let addresses: Vec<String> = envelopes.iter().map(|(_, s)| s[wave].clone()).collect();
        let tokens = mailed_tokens(&addresses, "/sign", Duration::from_secs(120)).await;
        let signing = tokens.iter().map(|token| {
            let stack = &stack;
            async move {
                let (status, answer) =
                    consent_and_sign(stack, token, json!({"signature": drawn()})).await;
                assert_eq!(status, 202, "{answer}");
            }
        });
        futures::future::join_all(signing).await;
    }
    let completing = envelopes.iter().map(|(base, _)| {
        envelope_when(&stack, &sender, base, "completed", |e| {
            e["status"] == "completed"
        })
    });
    futures::future::join_all(completing).await;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{IN_FLIGHT} envelopes x 2 signers in flight (10 pages): all completed in {elapsed:.2} s = {:.0} envelopes/min",
        IN_FLIGHT as f64 / elapsed * 60.0
    );
    stack.stop().await;
}
