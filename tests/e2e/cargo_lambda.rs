//! `cargo lambda`, the brief's local workflow, exercised: an HTTP route (`api-health`), an SQS
//! consumer (`sqs-record-audit-event`) and the authorizer (`api-authorize`) are built with
//! `cargo lambda build` (their area binaries, `gsign-system` and `gsign-accounts`, as deployed),
//! each run under a `cargo lambda watch` of its own (in the real Lambda runtime loop) with the
//! environment `template.yaml` gives it on a test stack and `GSIGN_FUNCTION` naming it, and
//! invoked with its sample event from `events/` through `cargo lambda invoke`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gsign_tests::{free_port, root, start_app, TestDatabase};
use serde_json::{json, Value};

/// Each function with the area binary that serves it.
const FUNCTIONS: [(&str, &str); 3] = [
    ("api-health", "gsign-system"),
    ("sqs-record-audit-event", "gsign-system"),
    ("api-authorize", "gsign-accounts"),
];

/// `cargo` with the tools' `cargo-lambda` first on the PATH.
fn cargo() -> Command {
    let tools = std::env::var_os("GSIGN_TOOLS_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/gsign/tools")))
        .expect("HOME");
    let path = format!(
        "{}:{}",
        tools.join("cargo-lambda/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = Command::new("cargo");
    command.current_dir(root()).env("PATH", path);
    // What `cargo test` sets for its test binaries (CARGO_PKG_*, CARGO_MANIFEST_DIR, …) would
    // change build-script fingerprints, and each build would undo the other's.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if (name.starts_with("CARGO") && name != "CARGO_TARGET_DIR" && name != "CARGO_HOME")
            || name.starts_with("RUST_TEST")
        {
            command.env_remove(name.as_ref());
        }
    }
    command
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// `cargo lambda watch`, stopped (with the functions it started) when dropped.
struct Watch(Child);

impl Drop for Watch {
    fn drop(&mut self) {
        // Its own process group: the functions it runs go with it.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

/// `cargo lambda invoke` of `binary` on the watch at `port`, which runs it as `function`.
fn invoke(port: u16, function: &str, binary: &str, event: &Path) -> Value {
    let output = cargo()
        .args(["lambda", "invoke", binary, "--invoke-address", "127.0.0.1"])
        .args([
            "--invoke-port",
            &port.to_string(),
            "--output-format",
            "json",
        ])
        .arg("--data-file")
        .arg(event)
        .output()
        .expect("cargo lambda invoke runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{function}: {text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{function}: {e}: {text}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn cargo_lambda_builds_runs_and_invokes_an_http_route_an_sqs_consumer_and_the_authorizer() {
    // 1. Built as Lambda deploys them: a `bootstrap` executable per area binary.
    let mut build = cargo();
    build.args(["lambda", "build", "--compiler", "cargo"]);
    for package in ["gsign-functions-system", "gsign-functions-accounts"] {
        build.args(["-p", package]);
    }
    for binary in ["gsign-system", "gsign-accounts"] {
        build.args(["--bin", binary]);
    }
    let built = build.output().expect("cargo lambda build runs");
    assert!(
        built.status.success(),
        "cargo lambda build:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    for (_, binary) in FUNCTIONS {
        let bootstrap = target_dir().join("lambda").join(binary).join("bootstrap");
        let bytes =
            std::fs::read(&bootstrap).unwrap_or_else(|e| panic!("{}: {e}", bootstrap.display()));
        assert!(bytes.starts_with(b"\x7fELF"), "{}", bootstrap.display());
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&bootstrap)
            .expect("metadata")
            .permissions()
            .mode();
        assert!(mode & 0o111 != 0, "{} is executable", bootstrap.display());
    }

    // 2. Each under a `cargo lambda watch` of its own, with the environment the template gives
    //    it on a stack of this test's own (and `GSIGN_FUNCTION`), started on first invoke.
    let db = TestDatabase::migrated().await;
    let stack = start_app(&db, &[]).await;
    let mut watches = Vec::new();
    let mut ports = std::collections::HashMap::new();
    let mut env_files = Vec::new();
    for (function, _) in FUNCTIONS {
        let local = stack
            .running
            .stack
            .function(function)
            .expect("in the template");
        let env_file = std::env::temp_dir().join(format!(
            "gsign-lambda-{function}-{}.env",
            gsign_tests::unique()
        ));
        std::fs::write(&env_file, local.dotenv()).expect("env file");
        let port = free_port();
        let child = {
            use std::os::unix::process::CommandExt as _;
            cargo()
                .args(["lambda", "watch", "--ignore-changes", "-A", "127.0.0.1"])
                .args(["-P", &port.to_string(), "--env-file"])
                .arg(&env_file)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .expect("cargo lambda watch starts")
        };
        watches.push(Watch(child));
        ports.insert(function, port);
        env_files.push(env_file);
    }
    let started = Instant::now();
    for port in ports.values() {
        while std::net::TcpStream::connect(("127.0.0.1", *port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "cargo lambda watch did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    // 4. Each with its sample event, through `cargo lambda invoke`.
    let events = root().join("events");
    let health = invoke(
        ports["api-health"],
        "api-health",
        "gsign-system",
        &events.join("api-health/get-health.200.json"),
    );
    assert_eq!(health["statusCode"], 200, "{health}");
    let body: Value = serde_json::from_str(health["body"].as_str().expect("body")).expect("json");
    assert_eq!(body, json!({"status": "ok"}), "{health}");
    let audit = invoke(
        ports["sqs-record-audit-event"],
        "sqs-record-audit-event",
        "gsign-system",
        &events.join("sqs-record-audit-event/user-registered.json"),
    );
    assert_eq!(audit, json!({"batchItemFailures": []}));
    // The consumer wrote the audit event into this stack's DynamoDB table.
    let sample: Value = serde_json::from_str(
        &std::fs::read_to_string(events.join("sqs-record-audit-event/user-registered.json"))
            .expect("sample"),
    )
    .expect("json");
    let message: Value =
        serde_json::from_str(sample["Records"][0]["body"].as_str().expect("body")).expect("json");
    let table = stack
        .running
        .stack
        .function("sqs-record-audit-event")
        .and_then(|f| f.env.get("AUDIT_EVENTS_TABLE").map(str::to_owned))
        .expect("table");
    let found = gsign_platform::aws::dynamodb(&gsign_tests::sdk().await)
        .scan()
        .table_name(&table)
        .filter_expression("event_id = :id")
        .expression_attribute_values(
            ":id",
            aws_sdk_dynamodb::types::AttributeValue::S(
                message["id"].as_str().expect("id").to_owned(),
            ),
        )
        .send()
        .await
        .expect("scan");
    assert_eq!(found.count(), 1, "the audit event is in {table}");
    let authorized = invoke(
        ports["api-authorize"],
        "api-authorize",
        "gsign-accounts",
        &events.join("api-authorize/invalid-token.json"),
    );
    assert_eq!(authorized, json!({"isAuthorized": false}));
    drop(watches);
    for env_file in env_files {
        let _ = std::fs::remove_file(env_file);
    }
    stack.stop().await;
}
