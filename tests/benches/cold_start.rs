//! Cold start of every function from its area's release binary, and the binary's size.
//!
//! For each function of `template.yaml` whose area binary is under `$CARGO_TARGET_DIR/release/`,
//! this starts a Lambda Runtime API stand-in on 127.0.0.1, spawns the binary with the
//! environment the template gives the function (resolved against the running local stack) and
//! `_HANDLER` set to its `Handler`, as Lambda does, and measures:
//!
//! - *cold start*: process start until its first `GET /runtime/invocation/next`;
//! - *first invoke*: from handing it its sample event until it posts the response (this is
//!   where lazy connections to Postgres, Redis, moto and the HSM are made).
//!
//! Run: `cargo build --release -p gsign-functions-system && cargo bench -p gsign-tests --bench cold_start`
//! (with the local stack up). `COLD_START_RUNS` sets the number of runs (default 30),
//! `COLD_START_FUNCTIONS` (comma-separated names) measures only those functions, and
//! `COLD_START_DATABASE_BACKEND=data-api` gives the functions the Data API backend (the
//! runner's local endpoint, on the stack's database) instead of `postgres`.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::routing::{get, post};
use gsign_local::runner::{self, StackConfig};
use gsign_local::LocalStack;
use gsign_tests::{local_parameters, root, sdk, stack_env, stack_var};
use tokio::sync::Notify;

#[derive(Default)]
struct Observed {
    next_at: Option<Instant>,
    handed_event: bool,
    response_at: Option<Instant>,
    response: Option<String>,
    init_error: Option<String>,
}

#[derive(Clone)]
struct RuntimeApi {
    observed: Arc<Mutex<Observed>>,
    event: Arc<String>,
    changed: Arc<Notify>,
}

async fn next(State(api): State<RuntimeApi>) -> axum::response::Response {
    let first = {
        let mut o = api.observed.lock().expect("lock");
        o.next_at.get_or_insert_with(Instant::now);
        let first = !o.handed_event;
        o.handed_event = true;
        first
    };
    api.changed.notify_waiters();
    if !first {
        // Only one event per run; the process is killed afterwards.
        std::future::pending::<()>().await;
    }
    let deadline = chrono_ms() + 30_000;
    axum::response::Response::builder()
        .header("lambda-runtime-aws-request-id", "bench-request-1")
        .header("lambda-runtime-deadline-ms", deadline.to_string())
        .header(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:bench",
        )
        .header(
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000",
        )
        .body(axum::body::Body::from(api.event.as_str().to_owned()))
        .unwrap_or_default()
}

fn chrono_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

async fn response(
    State(api): State<RuntimeApi>,
    Path(_id): Path<String>,
    body: String,
) -> &'static str {
    {
        let mut o = api.observed.lock().expect("lock");
        o.response_at = Some(Instant::now());
        o.response = Some(body);
    }
    api.changed.notify_waiters();
    "{}"
}

async fn init_error(State(api): State<RuntimeApi>, body: String) -> &'static str {
    api.observed.lock().expect("lock").init_error = Some(body);
    api.changed.notify_waiters();
    "{}"
}

struct Run {
    cold_start: Duration,
    first_invoke: Duration,
    response: String,
}

async fn run_once(
    binary: &PathBuf,
    handler: &str,
    env: &gsign_core::Env,
    event: &str,
) -> anyhow::Result<Run> {
    let api = RuntimeApi {
        observed: Arc::new(Mutex::new(Observed::default())),
        event: Arc::new(event.to_owned()),
        changed: Arc::new(Notify::new()),
    };
    let app = axum::Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(response))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let mut command = tokio::process::Command::new(binary);
    command.env_clear();
    for name in env.names() {
        if let Some(value) = env.get(name) {
            command.env(name, value);
        }
    }
    command
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("_HANDLER", handler)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_LAMBDA_LOG_LEVEL", "WARN")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = command.spawn()?;
    let deadline = started + Duration::from_secs(20);
    let result = loop {
        let waiting = api.changed.notified();
        let snapshot = {
            let o = api.observed.lock().expect("lock");
            (
                o.next_at,
                o.response_at,
                o.response.clone(),
                o.init_error.clone(),
            )
        };
        match snapshot {
            (_, _, _, Some(error)) => break Err(anyhow::anyhow!("init error: {error}")),
            (Some(next_at), Some(response_at), Some(body), None) => {
                break Ok(Run {
                    cold_start: next_at - started,
                    first_invoke: response_at - next_at,
                    response: body,
                })
            }
            _ => {}
        }
        if let Ok(Some(status)) = child.try_wait() {
            break Err(anyhow::anyhow!("the function exited with {status}"));
        }
        if Instant::now() > deadline {
            break Err(anyhow::anyhow!("no response within 20 s"));
        }
        let _ = tokio::time::timeout(Duration::from_millis(50), waiting).await;
    };
    let _ = child.kill().await;
    server.abort();
    result
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    println!("cold_start: {}", gsign_tests::bench::provenance());
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing we need.
    let runs: usize = std::env::var("COLD_START_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let target = stack_env()
        .get("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let release = target.join("release");
    let mut parameters = local_parameters();
    let backend = std::env::var("COLD_START_DATABASE_BACKEND").unwrap_or_default();
    if backend == "data-api" {
        let database = stack_var("DATABASE_URL")
            .rsplit('/')
            .next()
            .and_then(|name| name.split('?').next())
            .unwrap_or("gsign")
            .to_owned();
        for (name, value) in [
            ("DatabaseBackend", "data-api".to_owned()),
            (
                "DatabaseClusterArn",
                "arn:aws:rds:us-east-1:000000000000:cluster:gsign-local".to_owned(),
            ),
            (
                "DatabaseSecretArn",
                "arn:aws:secretsmanager:us-east-1:000000000000:secret:gsign-local-db".to_owned(),
            ),
            ("DatabaseName", database),
        ] {
            parameters.insert(name.to_owned(), value);
        }
    }
    println!(
        "database backend: {}",
        if backend.is_empty() {
            "postgres"
        } else {
            &backend
        }
    );
    let config = StackConfig {
        template_path: root().join("template.yaml"),
        stack_name: stack_var("GSIGN_STACK_NAME"),
        region: stack_var("AWS_REGION"),
        parameters,
        base_env: runner::base_env(stack_env()),
        sqs_wait_seconds: 1,
        web_dist: None,
    };
    let stack = LocalStack::build(config, &gsign_local::registry(), &sdk().await).await?;

    println!(
        "{:<14} {:>10} {:>12} {:>12} {:>12} {:>14} {:>14}",
        "function", "size", "cold p50", "cold p90", "cold min", "1st invoke p50", "1st invoke p90"
    );
    let only: Option<Vec<String>> = std::env::var("COLD_START_FUNCTIONS")
        .ok()
        .map(|list| list.split(',').map(|name| name.trim().to_owned()).collect());
    for function in stack.functions() {
        if only
            .as_ref()
            .is_some_and(|only| !only.contains(&function.handler))
        {
            continue;
        }
        let binary = release.join(&function.binary);
        let Ok(meta) = std::fs::metadata(&binary) else {
            println!(
                "{:<14} not built: cargo build --release --bin {}",
                function.handler, function.binary
            );
            continue;
        };
        let event_dir = root().join("events").join(&function.handler);
        let event_file = std::fs::read_dir(&event_dir)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .min()
            .ok_or_else(|| anyhow::anyhow!("no sample event in {}", event_dir.display()))?;
        // `migrate` would change the database: benchmark it on `status`.
        let event = if function.handler == "migrate" {
            r#"{"action":"status"}"#.to_owned()
        } else {
            std::fs::read_to_string(&event_file)?
        };
        let mut cold = Vec::with_capacity(runs);
        let mut first = Vec::with_capacity(runs);
        let mut last_response = String::new();
        for _ in 0..runs {
            let run = run_once(&binary, &function.handler, &function.env, &event).await?;
            cold.push(run.cold_start);
            first.push(run.first_invoke);
            last_response = run.response;
        }
        cold.sort();
        first.sort();
        println!(
            "{:<14} {:>7.2} MB {:>12} {:>12} {:>12} {:>14} {:>14}",
            function.handler,
            meta.len() as f64 / 1_000_000.0,
            ms(percentile(&cold, 0.5)),
            ms(percentile(&cold, 0.9)),
            ms(cold[0]),
            ms(percentile(&first, 0.5)),
            ms(percentile(&first, 0.9)),
        );
        let preview: String = last_response.chars().take(120).collect();
        println!("{:<14} last response: {preview}", "");
    }
    println!(
        "({runs} runs each; release profile; this machine: {} cores)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    Ok(())
}
