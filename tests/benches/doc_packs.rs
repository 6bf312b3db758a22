//! Document generation figures (#8):
//!
//! - typesetting one 20-page contract (Mongolian Cyrillic, headings, a numbered list across
//!   sections) with `gsign_render::render`, in this process: best, median and worst of 10,
//!   and the process's peak memory;
//! - generating a 5-document pack through the local runner, as a client would: `POST
//!   /v1/doc-packs` to its `201` (gates, schema checks, five documents typeset in parallel,
//!   ten objects stored in moto's S3, the rows written): best, median and worst of 5.
//!
//! Run: `cargo bench -p gsign-tests --bench doc_packs` (local stack up).

use std::collections::BTreeMap;
use std::time::Instant;

use gsign_tests::bench::peak_rss_kib;
use gsign_tests::packs::{long_terms, sale_library, sale_signers, sale_variables, template};
use gsign_tests::{start_app, Tenant, TestDatabase};
use serde_json::json;

const RENDERS: usize = 10;
const PACKS: usize = 5;

fn summary(mut seconds: Vec<f64>) -> String {
    seconds.sort_by(f64::total_cmp);
    format!(
        "best {:.3} s, median {:.3} s, worst {:.3} s over {}",
        seconds[0],
        seconds[seconds.len() / 2],
        seconds[seconds.len() - 1],
        seconds.len()
    )
}

#[tokio::main]
async fn main() {
    gsign_tests::bench::require_optimized("doc_packs");
    gsign_tests::bench::show_function_logs();

    // One 20-page document, typeset in this process.
    let document = gsign_render::Document {
        title: "Ерөнхий нөхцөл".into(),
        id: "bench-20-pages".into(),
        markdown: format!("# Гэрээ № {{{{no}}}}\n\n{}", long_terms(180)),
        logo_png: None,
        lang: "mn".into(),
        header: None,
        footer: Some("Говь Трейд ХХК".into()),
        variables: BTreeMap::from([("no".to_owned(), "2026/118-Х".to_owned())]),
    };
    let first = gsign_render::render(&document).expect("typeset");
    let mut seconds = Vec::new();
    for _ in 0..RENDERS {
        let started = Instant::now();
        let rendered = gsign_render::render(&document).expect("typeset");
        seconds.push(started.elapsed().as_secs_f64());
        assert_eq!(rendered.sha256, first.sha256, "deterministic");
    }
    println!(
        "render a {}-page document ({} bytes of PDF): {}; peak RSS {} MiB",
        first.pages,
        first.pdf.len(),
        summary(seconds),
        peak_rss_kib() / 1024
    );

    // A 5-document pack through the runner.
    let db = TestDatabase::migrated().await;
    let stack = start_app(&db, &[("RateLimitPerIp", "1000000".to_owned())]).await;
    let admin = Tenant::create(&db, "admin").await;
    let library = sale_library(&stack, &admin, 40).await;
    let annex_a = template(
        &stack,
        &admin,
        "Annex A",
        &[&library.parties, &library.price],
        &["seller", "buyer"],
        json!({"lang": "mn"}),
    )
    .await;
    let annex_b = template(
        &stack,
        &admin,
        "Annex B",
        &[&library.parties, &library.terms, &library.signatures],
        &["seller", "buyer"],
        json!({"lang": "mn"}),
    )
    .await;
    let templates = [
        library.sale,
        library.general_terms,
        library.receipt,
        annex_a,
        annex_b,
    ];
    let mut seconds = Vec::new();
    let mut pages = 0;
    for run in 0..=PACKS {
        let suffix = gsign_tests::unique();
        let started = Instant::now();
        let (status, pack) = stack
            .call(
                &admin,
                "POST",
                "/v1/doc-packs",
                Some(json!({"reference": format!("bench-{suffix}"), "city": "UB", "templates": templates,
                            "variables": sale_variables(), "signer_map": sale_signers(&suffix)})),
            )
            .await;
        let elapsed = started.elapsed().as_secs_f64();
        assert_eq!(status, 201, "{pack}");
        pages = pack["documents"]
            .as_array()
            .expect("documents")
            .iter()
            .filter_map(|d| d["page_count"].as_i64())
            .sum::<i64>();
        // The first run warms the containers (cold start, font book): not counted.
        if run > 0 {
            seconds.push(elapsed);
        }
    }
    println!(
        "generate a 5-document pack ({pages} pages in all) through POST /v1/doc-packs: {}",
        summary(seconds)
    );
    stack.stop().await;
}
