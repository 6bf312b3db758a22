//! Structured JSON logs through `tracing`.
//!
//! Every line is one JSON object with the current span's fields, so the `requestId` the Lambda
//! runtime (or the local runner) puts on the invocation span appears on every line logged while
//! handling that request. Never log secrets or document contents.

use gsign_core::Env;
use tracing_subscriber::EnvFilter;

/// The CloudWatch namespace of GSign's own metrics.
pub const METRICS_NAMESPACE: &str = "GSign";

/// Emits one metric as a CloudWatch embedded-metric-format line on stdout: Lambda turns it
/// into a metric of [`METRICS_NAMESPACE`] with the dimension `Stack` (from `GSIGN_STACK`), no
/// API call needed. Alarms in `template.yaml` watch these.
pub fn metric(name: &str, value: f64, unit: &str) {
    let stack = std::env::var("GSIGN_STACK").unwrap_or_default();
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    let line = serde_json::json!({
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": METRICS_NAMESPACE,
                "Dimensions": [["Stack"]],
                "Metrics": [{"Name": name, "Unit": unit}],
            }],
        },
        "Stack": stack,
        name: value,
    });
    println!("{line}");
}

/// Installs the process-wide JSON subscriber. Safe to call twice (the second call is a no-op),
/// which tests rely on.
///
/// The level comes from `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's advanced logging controls) or
/// `RUST_LOG`, default `info`. `GSIGN_LOG_FORMAT=text` gives human-readable lines locally.
pub fn init(env: &Env) {
    let filter = env
        .get("RUST_LOG")
        .or_else(|| env.get("AWS_LAMBDA_LOG_LEVEL"))
        .map(|level| level.to_ascii_lowercase())
        .unwrap_or_else(|| "info".to_owned());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true)
        .with_writer(std::io::stdout);
    let result = if env.get("GSIGN_LOG_FORMAT") == Some("text") {
        builder.with_ansi(false).try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    };
    // An error only means a subscriber is already installed.
    drop(result);
}
