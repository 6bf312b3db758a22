//! The database port's two backends side by side (#23): the same use cases and statements
//! through `tokio-postgres` and through `aws-sdk-rdsdata` to the local Data API endpoint
//! (`gsign_local::data_api`, in-process, over the same local Postgres). The endpoint has none
//! of Aurora's Data API latency, so the difference is the adapter's own overhead: HTTP and
//! JSON marshalling per statement, an extra call per transaction begin and commit.
//!
//! Per backend:
//! - cold start: building the webhooks service from its environment and its first read;
//! - one statement (`fetch_one` by primary key), 1000 times: p50 and p99;
//! - a transaction (begin, a locked read, an update, commit), 300 times: p50 and p99;
//! - the use case `GET /v1/webhooks/{id}` (tenancy check and read), 500 times: p50 and p99;
//! - the same statement from 16 tasks at once, 2000 in all: statements per second.
//!
//! And per backend through the local runner (the whole application in-process, every function
//! on that backend), as clients drive it over HTTP:
//! - a route's cold start: the first `GET /v1/me` of a fresh stack (the authorizer and the
//!   route built from their environment, their first statements, the answer);
//! - `GET /v1/me` from 16 clients at once, 4000 requests: p50, p99 and requests per second;
//! - a whole envelope: draft, recipient, field and send, the signer's link mailed (moto's
//!   SES), consent and signature, the worker's B-T signature and seal, until `completed`;
//!   best and median of 5.
//!
//! The process start of each area binary on either backend is `cold_start`'s
//! (`COLD_START_DATABASE_BACKEND=data-api`).
//!
//! Run: `cargo bench -p gsign-tests --bench database` (local stack up).

use std::time::{Duration, Instant};

use gsign_core::Role;
use gsign_functions_webhooks::service::{EndpointInput, WebhooksApi};
use gsign_platform::database::{Backend, Database, Session as _};
use gsign_platform::params;
use gsign_tests::bench::contract_pdf;
use gsign_tests::envelopes::{consent_and_sign, drawn, send_envelope_at};
use gsign_tests::pki::{LocalTsa, TestPki};
use gsign_tests::use_cases::{caller, function_env_on, id_of};
use gsign_tests::{mailed_token, start_app_on, Tenant, TestDatabase, TestStack};
use serde_json::json;

const STATEMENTS: usize = 1000;
const TRANSACTIONS: usize = 300;
const USE_CASES: usize = 500;
const CONCURRENT_TASKS: usize = 16;
const CONCURRENT_STATEMENTS: usize = 2000;
const HTTP_CLIENTS: usize = 16;
const HTTP_REQUESTS: usize = 4000;
const ENVELOPES: usize = 5;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn report(backend: Backend, what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{backend:<9} {what:<44} p50 {:>8.3} ms  p99 {:>8.3} ms  (n={})",
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.len()
    );
}

async fn timed<T>(work: impl std::future::Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let out = work.await;
    (out, started.elapsed())
}

async fn measure(backend: Backend) {
    let db = TestDatabase::migrated().await;
    let owner = Tenant::create(&db, "owner").await;
    let who = caller(&owner, Role::Owner);
    let env = function_env_on(backend, "api-get-webhook", &db);

    let (api, cold) = timed(async {
        let api = WebhooksApi::from_env(&env)
            .await
            .expect("the service starts");
        // An endpoint to read; its creation is the first statement through the backend.
        let input: EndpointInput =
            serde_json::from_value(serde_json::json!({"url": "https://127.0.0.1:8443/hook"}))
                .expect("input");
        let id = id_of(api.create(&who, input).await.expect("created"));
        (api, id)
    })
    .await;
    let (api, id) = api;
    println!(
        "{backend:<9} {:<44} {:>8.3} ms",
        "cold start: service built, first write",
        cold.as_secs_f64() * 1e3
    );

    let mut config_reader = env.reader();
    let base_config = gsign_platform::service::BaseConfig::read(&mut config_reader);
    let base_config = config_reader.finish(|| base_config).expect("settings");
    let base = gsign_platform::service::Base::build(base_config)
        .await
        .expect("clients");
    let database: Database = base.db.clone();
    assert_eq!(database.backend(), backend);

    let mut samples = Vec::with_capacity(STATEMENTS);
    for _ in 0..STATEMENTS {
        let (row, took) = timed(async {
            database
                .connect()
                .await
                .expect("connection")
                .fetch_one(
                    "SELECT id, url, event_types, created_at FROM webhook_endpoints WHERE id = :id",
                    params!(id),
                )
                .await
        })
        .await;
        row.expect("the endpoint");
        samples.push(took);
    }
    report(backend, "one statement (read by primary key)", samples);

    let mut samples = Vec::with_capacity(TRANSACTIONS);
    for _ in 0..TRANSACTIONS {
        let (result, took) = timed(async {
            let mut connection = database.connect().await?;
            let tx = connection.begin().await?;
            tx.fetch_one(
                "SELECT id FROM webhook_endpoints WHERE id = :id FOR UPDATE",
                params!(id),
            )
            .await?;
            tx.run(
                "UPDATE webhook_endpoints SET description = :description WHERE id = :id",
                params!(id, description = "benchmark"),
            )
            .await?;
            tx.commit().await
        })
        .await;
        result.expect("the transaction commits");
        samples.push(took);
    }
    report(backend, "transaction (lock, update, commit)", samples);

    let mut samples = Vec::with_capacity(USE_CASES);
    for _ in 0..USE_CASES {
        let (endpoint, took) = timed(api.endpoint(&who, id)).await;
        endpoint.expect("the endpoint");
        samples.push(took);
    }
    report(backend, "use case GET /v1/webhooks/{id}", samples);

    let started = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENT_TASKS)
        .map(|_| {
            let database = database.clone();
            tokio::spawn(async move {
                for _ in 0..CONCURRENT_STATEMENTS / CONCURRENT_TASKS {
                    database
                        .connect()
                        .await
                        .expect("connection")
                        .fetch_one(
                            "SELECT id FROM webhook_endpoints WHERE id = :id",
                            params!(id),
                        )
                        .await
                        .expect("the endpoint");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("the task");
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{backend:<9} {:<44} {:>8.0} statements/s",
        format!("{CONCURRENT_TASKS} tasks, {CONCURRENT_STATEMENTS} statements"),
        CONCURRENT_STATEMENTS as f64 / elapsed
    );
}

/// `GET /v1/me` as `who`: its latency, after checking it answered 200.
async fn get_me(http: &reqwest::Client, url: &str, who: &Tenant) -> Duration {
    let started = Instant::now();
    let response = http
        .get(format!("{url}/v1/me"))
        .header("authorization", &who.bearer)
        .send()
        .await
        .expect("the runner answers");
    let status = response.status();
    let body = response.bytes().await.expect("the body");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    started.elapsed()
}

/// One envelope from draft to `completed`: one signer, B-T, signing from the mailed link.
async fn whole_envelope(stack: &TestStack, sender: &Tenant, document: &str) -> Duration {
    let email = format!("signer-{}@bench.example", gsign_tests::unique());
    let started = Instant::now();
    let (base, _) = send_envelope_at(
        stack,
        sender,
        document,
        "sequential",
        Some("b_t"),
        &[(&email, "Ана Лима", "signer", 1)],
        |_| Vec::new(),
    )
    .await;
    let token = mailed_token(&email, "/sign").await;
    let (status, answer) = consent_and_sign(stack, &token, json!({"signature": drawn()})).await;
    assert_eq!(status, 202, "{answer}");
    loop {
        let (_, envelope) = stack.call(sender, "GET", &base, None).await;
        if envelope["status"] == "completed" {
            return started.elapsed();
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

async fn through_the_runner(backend: Backend, tsa: &LocalTsa) {
    let db = TestDatabase::migrated().await;
    let stack = start_app_on(
        backend,
        &db,
        &gsign_tests::bench::signing_stack_parameters(tsa),
    )
    .await;
    let owner = Tenant::create(&db, "owner").await;
    let http = reqwest::Client::new();

    let cold = get_me(&http, &stack.url, &owner).await;
    println!(
        "{backend:<9} {:<44} {:>8.3} ms",
        "runner: first GET /v1/me (route cold start)",
        cold.as_secs_f64() * 1e3
    );

    for _ in 0..100 {
        get_me(&http, &stack.url, &owner).await;
    }
    let started = Instant::now();
    let clients: Vec<_> = (0..HTTP_CLIENTS)
        .map(|_| {
            let (http, url, owner) = (http.clone(), stack.url.clone(), owner.clone());
            tokio::spawn(async move {
                let mut samples = Vec::with_capacity(HTTP_REQUESTS / HTTP_CLIENTS);
                for _ in 0..HTTP_REQUESTS / HTTP_CLIENTS {
                    samples.push(get_me(&http, &url, &owner).await);
                }
                samples
            })
        })
        .collect();
    let mut samples = Vec::with_capacity(HTTP_REQUESTS);
    for client in clients {
        samples.extend(client.await.expect("the client"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    report(
        backend,
        &format!("runner: GET /v1/me, {HTTP_CLIENTS} clients"),
        samples,
    );
    println!(
        "{backend:<9} {:<44} {:>8.0} requests/s",
        format!("runner: GET /v1/me, {HTTP_CLIENTS} clients"),
        HTTP_REQUESTS as f64 / elapsed
    );

    let document = stack
        .upload_ready_pdf(&owner, "contract.pdf", contract_pdf(1))
        .await;
    // The organization's CA and seal key are made on first use: outside the figures.
    whole_envelope(&stack, &owner, &document).await;
    let mut runs = Vec::with_capacity(ENVELOPES);
    for _ in 0..ENVELOPES {
        runs.push(whole_envelope(&stack, &owner, &document).await);
    }
    runs.sort();
    println!(
        "{backend:<9} {:<44} best {:>7.0} ms  median {:>7.0} ms  (n={ENVELOPES})",
        "runner: envelope draft -> completed (B-T)",
        runs[0].as_secs_f64() * 1e3,
        runs[ENVELOPES / 2].as_secs_f64() * 1e3,
    );
    stack.stop().await;
}

#[tokio::main]
async fn main() {
    gsign_tests::bench::require_optimized("database");
    gsign_platform::telemetry::set_metrics_enabled(false);
    for backend in [Backend::Postgres, Backend::DataApi] {
        measure(backend).await;
    }
    let pki = TestPki::new();
    let tsa = LocalTsa::start(&pki).await;
    for backend in [Backend::Postgres, Backend::DataApi] {
        through_the_runner(backend, &tsa).await;
    }
}
