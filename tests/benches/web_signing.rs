//! The signing page's figures (issue #19): time to the first page painted and to "ready to
//! sign" for a 1-page, a 40-page and a 2,000-page document, on a phone viewport in Debian's
//! Chromium, unthrottled and with the CPU throttled 4×; and the JavaScript shipped (gzip).
//!
//! Run: `cargo bench --profile dev -p gsign-tests --bench web_signing` (local stack up,
//! `web/dist` built by it; the browser's figures do not depend on the server's build). This
//! sets the envelopes up through the API (each signer has consented, so the link opens on the
//! document) and hands the links to `web/bench/signing-page.mjs`, which measures.

use std::process::Command;

use gsign_tests::envelopes::{by_link, send_envelope};
use gsign_tests::{mailed_token, root, start_app_with_web, unique, Tenant, TestDatabase};
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Browser-bound: the page's paint is measured, so any build serves; the line says which.
    println!("web_signing: {}", gsign_tests::bench::provenance());
    let db = TestDatabase::migrated().await;
    let stack =
        start_app_with_web(&db, &[("DocumentMaxBytes", (64 * 1024 * 1024).to_string())]).await;
    let sender = Tenant::create(&db, "member").await;
    let mut links = Vec::new();
    // The 2,000-page document twice: its page tree flat (every page under the root, as
    // LibreOffice writes it; pdf.js then reads every page object, i.e. the whole file, to check
    // the last page) and grouped 50 to a node (as most producers write long documents).
    for (pages, fanout) in [(1usize, None), (40, None), (2000, None), (2000, Some(50))] {
        let document = stack
            .upload_ready_pdf(
                &sender,
                "contract.pdf",
                gsign_tests::bench::contract_pdf_with_tree(pages, fanout),
            )
            .await;
        let email = format!("bench-{pages}-{}@example.mn", unique());
        send_envelope(
            &stack,
            &sender,
            &document,
            "parallel",
            &[(&email, "Bench Signer", "signer", 1)],
            |_| Vec::new(),
        )
        .await;
        let token = mailed_token(&email, "/sign").await;
        let (status, _) = by_link(
            &stack,
            "POST",
            &format!("/v1/signing/{token}/consent"),
            Some(json!({"disclosure_version": "2026-11", "accepted": true})),
        )
        .await;
        anyhow::ensure!(status == 204, "consent: {status}");
        links.push(json!({
            "label": format!(
                "{pages} page{}{}",
                if pages == 1 { "" } else { "s" },
                if fanout.is_some() { ", grouped tree" } else { "" }
            ),
            "link": format!("{}/sign?token={token}", stack.url),
        }));
    }
    let input = std::env::temp_dir().join(format!("gsign-bench-{}.json", unique()));
    std::fs::write(&input, serde_json::to_vec(&links)?)?;
    let status = Command::new("node")
        .arg("bench/signing-page.mjs")
        .current_dir(root().join("web"))
        .env("GSIGN_BENCH", &input)
        .status()?;
    let _ = std::fs::remove_file(&input);
    stack.stop().await;
    anyhow::ensure!(status.success(), "the measuring script failed");
    Ok(())
}
