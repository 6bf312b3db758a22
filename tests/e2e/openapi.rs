//! The OpenAPI document: generated from the areas' operation tables, committed as
//! `docs/openapi.json`, one operation per template route, valid OpenAPI 3.1 by a validator
//! nobody here wrote, served at `GET /v1/openapi.json`, and true of the running API by
//! schemathesis' account.

use std::collections::BTreeMap;
use std::path::PathBuf;

use gsign_core::openapi::Access;
use gsign_local::template::{EventDef, Template};
use gsign_tests::{root, stack_var, start_app_with_web, Tenant, TestDatabase};

const REGENERATE: &str = "cargo run -p gsign-local -- openapi > docs/openapi.json";

fn committed() -> String {
    std::fs::read_to_string(root().join("docs/openapi.json")).expect("docs/openapi.json")
}

/// A tool of the API-check virtualenv (`infra/local/stack` installs it).
fn api_check_tool(name: &str) -> PathBuf {
    PathBuf::from(stack_var("GSIGN_API_CHECK_BIN")).join(name)
}

#[test]
fn the_committed_document_is_what_the_operation_tables_generate() {
    let generated = format!("{}\n", gsign_local::openapi_json());
    assert!(
        committed() == generated,
        "docs/openapi.json is out of date: run `{REGENERATE}`"
    );
}

#[test]
fn every_template_route_is_documented_once_and_nothing_else_is() {
    let template = Template::load(&root().join("template.yaml")).expect("template");
    // (method, path) -> (function, public)
    let mut routes = BTreeMap::new();
    for function in template.functions().expect("functions") {
        for event in &function.events {
            if let EventDef::Http {
                method,
                path,
                authorizer,
                ..
            } = event
            {
                let public = authorizer.as_deref() == Some("NONE");
                routes.insert(
                    (method.clone(), path.clone()),
                    (function.handler.clone(), public),
                );
            }
        }
    }
    let mut documented = BTreeMap::new();
    for area in gsign_local::api_areas() {
        for operation in area.operations {
            let key = (operation.method.to_owned(), operation.path.to_owned());
            let value = (
                operation.function.to_owned(),
                operation.access == Access::Public,
            );
            assert!(
                documented.insert(key.clone(), value).is_none(),
                "{key:?} is documented twice"
            );
            assert!(
                !operation.summary.is_empty() && operation.summary.chars().count() <= 120,
                "{key:?}: a summary is one short line"
            );
        }
    }
    let missing: Vec<_> = routes
        .iter()
        .filter(|(key, _)| !documented.contains_key(*key))
        .collect();
    let extra: Vec<_> = documented
        .iter()
        .filter(|(key, _)| !routes.contains_key(*key))
        .collect();
    assert!(
        missing.is_empty(),
        "routes without an operation: {missing:?}"
    );
    assert!(extra.is_empty(), "operations without a route: {extra:?}");
    for (key, route) in &routes {
        assert_eq!(
            &documented[key], route,
            "{key:?}: the operation's function or access differs from the template's \
             (function, public)"
        );
    }
    println!("{} operations documented", documented.len());
}

#[test]
fn the_document_is_valid_openapi_3_1() {
    let output = std::process::Command::new(api_check_tool("openapi-spec-validator"))
        .arg(root().join("docs/openapi.json"))
        .output()
        .expect("openapi-spec-validator runs");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let document: serde_json::Value = serde_json::from_str(&committed()).expect("JSON");
    assert_eq!(document["openapi"], "3.1.0");
}

#[tokio::test]
async fn the_running_api_serves_the_document_and_schemathesis_finds_it_true() {
    // The functions' warnings and errors beside schemathesis' findings.
    gsign_tests::bench::show_function_logs();
    let db = TestDatabase::migrated().await;
    // Checkout and the portal reach Stripe: its recorded answers.
    let stripe = gsign_tests::stripe::RecordedStripe::start().await;
    // Fuzzing sends several thousand requests from one address with one token.
    // With the web app: `GET /embed/sign` serves its page.
    let stack = start_app_with_web(
        &db,
        &[
            ("StripeApiBase", stripe.url.clone()),
            ("RateLimitPerIp", "1000000".to_owned()),
            ("RateLimitSensitivePerIp", "1000000".to_owned()),
            ("RateLimitPerIdentifier", "1000000".to_owned()),
            ("RateLimitPerSigningLink", "1000000".to_owned()),
        ],
    )
    .await;
    let served = reqwest::get(format!("{}/v1/openapi.json", stack.url))
        .await
        .expect("GET /v1/openapi.json");
    assert_eq!(served.status(), 200);
    assert_eq!(served.text().await.expect("body"), committed());

    let owner = Tenant::create(&db, "owner").await;
    let report = std::env::temp_dir().join(format!("gsign-schemathesis-{}", gsign_tests::unique()));
    // Its caches and reports stay in a directory of its own, removed after the run.
    std::fs::create_dir_all(&report).expect("report directory");
    let output = tokio::process::Command::new(api_check_tool("schemathesis"))
        .current_dir(&report)
        .arg("run")
        .arg(root().join("docs/openapi.json"))
        .args(["--url", &stack.url])
        .args(["--header", &format!("Authorization: {}", owner.bearer)])
        // Every check of what an answer may be; stateful phases would mostly exercise the
        // fuzzer's own guesses at links between operations.
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", "25", "--seed", "20261204", "--workers", "2"])
        // Signing out would end the session every later request uses.
        .args(["--exclude-operation-id", "api-logout"])
        .args(["--request-timeout", "30", "--no-color"])
        .args(["--report", "junit", "--report-dir"])
        .arg(&report)
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .env("HYPOTHESIS_STORAGE_DIRECTORY", report.join("hypothesis"))
        .output()
        .await
        .expect("schemathesis runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    let _ = std::fs::remove_dir_all(&report);
    assert!(
        output.status.success(),
        "schemathesis found answers the document does not describe:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
