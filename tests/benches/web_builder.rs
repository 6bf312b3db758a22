//! The sender's workspace's figures (issue #20): the JavaScript each route loads (gzip), the
//! envelope builder's time to interactive with a 40-page document (unthrottled and with the
//! CPU throttled 4×), and the long tasks while a field is dragged and moved.
//!
//! Run: `cargo bench --profile dev -p gsign-tests --bench web_builder` (local stack up,
//! `web/dist` built by it; the browser's figures do not depend on the server's build). This
//! sets a draft envelope of a 40-page document with two recipients up through the API and
//! hands it to `web/bench/builder.mjs`, which measures.

use std::process::Command;

use gsign_tests::envelopes::send_envelope;
use gsign_tests::{mailed_token, root, start_app_with_web, unique, Tenant, TestDatabase};
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    println!("web_builder: {}", gsign_tests::bench::provenance());
    let db = TestDatabase::migrated().await;
    let stack = start_app_with_web(&db, &[]).await;
    let sender = Tenant::create(&db, "owner").await;
    let document = stack
        .upload_ready_pdf(
            &sender,
            "contract.pdf",
            gsign_tests::bench::contract_pdf(40),
        )
        .await;
    let (status, draft) = stack
        .call(
            &sender,
            "POST",
            "/v1/envelopes",
            Some(json!({"document_id": document, "name": "Bench contract"})),
        )
        .await;
    anyhow::ensure!(status == 201, "draft: {draft}");
    let id = draft["id"].as_str().unwrap_or_default().to_owned();
    for (email, name) in [("a", "Ана Лима"), ("b", "Bat Second")] {
        let (status, answer) = stack
            .call(
                &sender,
                "POST",
                &format!("/v1/envelopes/{id}/recipients"),
                Some(json!({"email": format!("{email}-{}@example.mn", unique()), "name": name})),
            )
            .await;
        anyhow::ensure!(status == 201, "recipient: {answer}");
    }
    // A signing link of the same document, for the signing page's share of the table.
    let signer = format!("bench-sign-{}@example.mn", unique());
    send_envelope(
        &stack,
        &sender,
        &document,
        "parallel",
        &[(&signer, "Bench Signer", "signer", 1)],
        |_| Vec::new(),
    )
    .await;
    let token = mailed_token(&signer, "/sign").await;
    let input = std::env::temp_dir().join(format!("gsign-bench-{}.json", unique()));
    std::fs::write(
        &input,
        serde_json::to_vec(&json!({
            "base_url": stack.url,
            "access_token": sender.bearer.trim_start_matches("Bearer "),
            "builder": format!("/envelopes/{id}"),
            "sign": format!("/sign?token={token}"),
        }))?,
    )?;
    let status = Command::new("node")
        .arg("bench/builder.mjs")
        .current_dir(root().join("web"))
        .env("GSIGN_BENCH", &input)
        .status()?;
    let _ = std::fs::remove_file(&input);
    stack.stop().await;
    anyhow::ensure!(status.success(), "the measuring script failed");
    Ok(())
}
