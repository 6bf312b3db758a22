//! Document ingest figures, against the real local stack (moto S3, Postgres, Redis):
//!
//! for 1, 10 and 100 MB PDFs,
//! - `openssl dgst -sha256` on the file (the floor), best of 3;
//! - the ingest's hashing path alone: `DocumentStore::fetch_to_file` streaming the object from
//!   S3 into a work file while hashing it, in a fresh process, with that process's peak RSS;
//! - the whole `sqs-ingest-document` invocation (head, fetch + hash, sniff, sandboxed
//!   inspection, Postgres), in a fresh process, with its peak RSS;
//! - the PDF inspection alone (what the sandboxed child does), in a fresh process, with its
//!   peak RSS.
//!
//! Peak memory is each child's `VmHWM` from `/proc/self/status`, so one phase's memory never
//! hides in another's. Run: `cargo bench -p gsign-tests --bench documents` (stack up).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use gsign_core::documents::{keys, DocumentType};
use gsign_core::Env;
use gsign_local::runner::{self, StackConfig};
use gsign_local::LocalStack;
use gsign_platform::storage::{DocumentStore, ObjectRef};
use gsign_tests::bench::{make_pdf, openssl_seconds, peak_rss_kib};
use gsign_tests::{local_parameters, root, sdk, stack_env, stack_var, Tenant, TestDatabase};
use serde_json::{json, Value};

const SIZES_MB: [u64; 3] = [1, 10, 100];

/// Runs this bench binary as a child in `mode` with `args` and `env`; returns its JSON line.
fn child(mode: &str, args: &[&str], env: &[(String, String)]) -> anyhow::Result<Value> {
    let out = Command::new(std::env::current_exe()?)
        .arg(mode)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "child {mode} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or("{}");
    Ok(serde_json::from_str(line)?)
}

async fn child_main(mode: &str, args: &[String]) -> anyhow::Result<Value> {
    match mode {
        "--hash" => {
            // The ingest's own hashing path: S3 GET streamed into a file through SHA-256.
            let env = Env::from_process();
            let sdk =
                gsign_platform::aws::sdk_config(&gsign_platform::aws::config_from(&env)?).await;
            let store = DocumentStore::new(
                gsign_platform::aws::s3(&sdk),
                args[0].clone(),
                String::new(),
            );
            let object = ObjectRef {
                key: args[1].clone(),
                version_id: Some(args[2].clone()).filter(|v| !v.is_empty()),
            };
            let file = PathBuf::from(&args[3]);
            let started = Instant::now();
            let fetched = store.fetch_to_file(&object, &file, u64::MAX).await?;
            let seconds = started.elapsed().as_secs_f64();
            let _ = std::fs::remove_file(&file);
            Ok(json!({"seconds": seconds, "sha256": fetched.sha256, "peak_kib": peak_rss_kib()}))
        }
        "--hash-file" => {
            let started = Instant::now();
            let digest = gsign_platform::storage::sha256_file(Path::new(&args[0])).await?;
            Ok(
                json!({"seconds": started.elapsed().as_secs_f64(), "sha256": digest, "peak_kib": peak_rss_kib()}),
            )
        }
        "--inspect" => {
            let bytes = std::fs::read(&args[0])?;
            let started = Instant::now();
            let info = gsign_pdf::inspect(&bytes, &gsign_pdf::Limits::default())
                .map_err(|r| anyhow::anyhow!("{r}"))?;
            Ok(
                json!({"seconds": started.elapsed().as_secs_f64(), "pages": info.page_count, "peak_kib": peak_rss_kib()}),
            )
        }
        "--ingest" => {
            let env = Env::from_process();
            let handler = (gsign_functions_documents::jobs::ingest::FUNCTION.init)(env).await?;
            let gsign_platform::lambda::Handler::Sqs(handler) = handler else {
                anyhow::bail!("not an SQS function");
            };
            let event: aws_lambda_events::sqs::SqsEvent = serde_json::from_str(&args[0])?;
            let started = Instant::now();
            let response = handler
                .handle(event)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            anyhow::ensure!(
                response.batch_item_failures.is_empty(),
                "ingest asked for a retry"
            );
            Ok(json!({"seconds": started.elapsed().as_secs_f64(), "peak_kib": peak_rss_kib()}))
        }
        other => anyhow::bail!("unknown mode {other}"),
    }
}

fn sqs_event(bucket: &str, key: &str, version: &str) -> String {
    let record = json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {
        "bucket": {"name": bucket}, "object": {"key": key, "versionId": version}}}]});
    json!({"Records": [{"messageId": "bench", "body": record.to_string(), "eventSource": "aws:sqs"}]})
        .to_string()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The sandboxed PDF inspector is this binary too.
    if let Some(code) = gsign_pdf::child_main_if_requested() {
        std::process::exit(if code == std::process::ExitCode::SUCCESS {
            0
        } else {
            1
        });
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(mode) = args
        .first()
        .filter(|a| a.starts_with("--") && *a != "--bench")
    {
        let answer = child_main(mode, &args[1..]).await?;
        println!("{answer}");
        return Ok(());
    }
    gsign_tests::bench::require_optimized("documents");

    let db = TestDatabase::migrated().await;
    let tenant = Tenant::create(&db, "member").await;
    let sdk = sdk().await;
    let mut parameters = local_parameters();
    parameters.insert("DatabaseUrl".to_owned(), db.url.clone());
    parameters.insert("DocumentMaxBytes".to_owned(), (200u64 << 20).to_string());
    let config = StackConfig {
        template_path: root().join("template.yaml"),
        stack_name: format!("bench-{}", gsign_tests::unique()),
        region: stack_var("AWS_REGION"),
        parameters,
        base_env: runner::base_env(stack_env()),
        sqs_wait_seconds: 1,
        web_dist: None,
    };
    // Built, not served: nothing polls the queue, so each ingest below is the measured one.
    let stack = LocalStack::build(config, &gsign_local::registry(), &sdk).await?;
    let function = stack
        .function("sqs-ingest-document")
        .ok_or_else(|| anyhow::anyhow!("no ingest function"))?;
    let exe = std::env::current_exe()?.to_string_lossy().into_owned();
    let mut env: Vec<(String, String)> = function
        .env
        .names()
        .filter_map(|n| function.env.get(n).map(|v| (n.to_owned(), v.to_owned())))
        .collect();
    env.push(("PDF_INSPECTOR".to_owned(), exe));
    env.push(("RUST_LOG".to_owned(), "warn".to_owned()));
    let bucket = function
        .env
        .get("DOCUMENTS_BUCKET")
        .unwrap_or_default()
        .to_owned();
    let store = DocumentStore::new(
        gsign_platform::aws::s3(&sdk),
        bucket.clone(),
        function
            .env
            .get("DOCUMENTS_KEY_ID")
            .unwrap_or_default()
            .to_owned(),
    );
    let work = std::env::temp_dir().join(format!("gsign-bench-{}", gsign_tests::unique()));
    std::fs::create_dir_all(&work)?;
    let client = db.connect().await;

    println!("size   | openssl | sha256 file (x openssl, peak) | S3 GET+sha256 (peak) | inspect (peak) | whole ingest (peak)");
    for mb in SIZES_MB {
        let file = work.join(format!("{mb}mb.pdf"));
        make_pdf(&file, (mb as usize) << 20)?;
        let size = std::fs::metadata(&file)?.len();
        let (openssl, digest) = openssl_seconds(&file)?;

        let id = uuid::Uuid::new_v4();
        let key = keys::original(tenant.org, id, DocumentType::Pdf);
        client
            .execute(
                "INSERT INTO documents (id, organization_id, name, original_name, type, mime_type, size, s3_key)
                 VALUES ($1, $2, $3, $3, 'pdf', 'application/pdf', $4, $5)",
                &[&id, &tenant.org, &format!("{mb}mb.pdf"), &(size as i64), &key],
            )
            .await?;
        let stored = store.put_file(&key, &file, "application/pdf").await?;
        let version = stored.version_id.clone().unwrap_or_default();

        let scratch = work.join("hash-copy").to_string_lossy().into_owned();
        let local = child("--hash-file", &[&file.to_string_lossy()], &env)?;
        let hash = child("--hash", &[&bucket, &key, &version, &scratch], &env)?;
        anyhow::ensure!(
            local["sha256"] == digest.as_str(),
            "our SHA-256 differs from openssl's"
        );
        anyhow::ensure!(
            hash["sha256"] == digest.as_str(),
            "our SHA-256 differs from openssl's"
        );
        let inspect = child("--inspect", &[&file.to_string_lossy()], &env)?;
        let ingest = child("--ingest", &[&sqs_event(&bucket, &key, &version)], &env)?;
        let row = client
            .query_one(
                "SELECT status, hash, page_count FROM documents WHERE id = $1",
                &[&id],
            )
            .await?;
        anyhow::ensure!(row.get::<_, String>(0) == "ready", "not ready: {:?}", row);
        anyhow::ensure!(row.get::<_, String>(1) == digest, "stored hash differs");

        let secs = |v: &Value| v["seconds"].as_f64().unwrap_or(f64::NAN);
        let mib = |v: &Value| v["peak_kib"].as_f64().unwrap_or(f64::NAN) / 1024.0;
        println!(
            "{mb:>3} MB | {openssl:.3} s | {:.3} s ({:.2}x, {:.1} MiB) | {:.3} s ({:.1} MiB) | {:.3} s ({:.1} MiB) | {:.3} s ({:.1} MiB)",
            secs(&local),
            secs(&local) / openssl,
            mib(&local),
            secs(&hash),
            mib(&hash),
            secs(&inspect),
            mib(&inspect),
            secs(&ingest),
            mib(&ingest),
        );
        let _ = std::fs::remove_file(&file);
    }
    let _ = std::fs::remove_dir_all(&work);
    stack.teardown().await?;
    Ok(())
}
