//! Structured JSON logs through `tracing`.
//!
//! Every line is one JSON object with the fields of every span it was logged in (`spans`,
//! outermost first), so the `requestId` the Lambda runtime (or the local runner) puts on the
//! invocation span, and the API request id, appear on every line logged while handling that
//! request, beside the use case and store call that logged it. Never log secrets or document
//! contents.

use gsign_core::Env;
use tracing_error::ErrorLayer;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::EnvFilter;

/// The CloudWatch namespace of GSign's own metrics.
pub const METRICS_NAMESPACE: &str = "GSign";

/// Whether metric lines are written (on by default; test harnesses that run many stacks in one
/// process switch them off, as they are meant for CloudWatch and `infra/local/stack metrics`).
static METRICS_ENABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Switches metric lines on or off for this process.
pub fn set_metrics_enabled(enabled: bool) {
    METRICS_ENABLED.store(enabled, std::sync::atomic::Ordering::Relaxed);
}

/// One CloudWatch embedded-metric-format line: `values` (name, value, unit) under
/// [`METRICS_NAMESPACE`], aggregated by each of `dimension_sets` (names of `dimensions`, each
/// set also by `Stack`). Lambda turns the line into metrics with no API call; alarms and the
/// dashboard in `template.yaml` read them.
pub fn emf_line(
    values: &[(&str, f64, &str)],
    dimensions: &[(&str, &str)],
    dimension_sets: &[&[&str]],
    stack: &str,
    timestamp_ms: u64,
) -> serde_json::Value {
    let sets: Vec<Vec<&str>> = dimension_sets
        .iter()
        .map(|set| {
            std::iter::once("Stack")
                .chain(set.iter().copied())
                .collect()
        })
        .collect();
    let mut line = serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": METRICS_NAMESPACE,
                "Dimensions": sets,
                "Metrics": values
                    .iter()
                    .map(|(name, _, unit)| serde_json::json!({"Name": name, "Unit": unit}))
                    .collect::<Vec<_>>(),
            }],
        },
        "Stack": stack,
    });
    for (name, value) in dimensions {
        line[*name] = serde_json::Value::from(*value);
    }
    for (name, value, _) in values {
        line[*name] = serde_json::Value::from(*value);
    }
    line
}

fn write_metrics(values: &[(&str, f64, &str)], dimensions: &[(&str, &str)], sets: &[&[&str]]) {
    if !METRICS_ENABLED.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let stack = std::env::var("GSIGN_STACK").unwrap_or_default();
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    println!("{}", emf_line(values, dimensions, sets, &stack, timestamp));
}

/// Emits one metric with the dimension `Stack` (from `GSIGN_STACK`).
pub fn metric(name: &str, value: f64, unit: &str) {
    write_metrics(&[(name, value, unit)], &[], &[&[]]);
}

/// Emits what one HTTP request came to: `Requests`, `ClientErrors` (4xx), `ServerErrors` (5xx)
/// and `Latency`, for the stack, by `Area` (the route group: `GSIGN_AREA`) and by `Function`.
pub fn request_metrics(function: &str, area: &str, status: u16, latency_ms: f64) {
    let class = |range: std::ops::Range<u16>| f64::from(u8::from(range.contains(&status)));
    write_metrics(
        &[
            ("Requests", 1.0, "Count"),
            ("ClientErrors", class(400..500), "Count"),
            ("ServerErrors", class(500..600), "Count"),
            ("Latency", latency_ms, "Milliseconds"),
        ],
        &[("Function", function), ("Area", area)],
        &[&[], &["Area"], &["Function"]],
    );
}

/// `err` as an `anyhow::Error` that says where it happened: the spans it was raised in,
/// innermost first with their fields (the store call and use case `#[instrument]` opened, then
/// the request), as its outer context. The original error stays in the chain, so
/// `downcast_ref` still finds it.
/// An error located once keeps its first (innermost) location.
pub fn located(err: impl Into<anyhow::Error>) -> anyhow::Error {
    let err = err.into();
    if err.downcast_ref::<Location>().is_some() {
        return err;
    }
    match span_path(&tracing_error::SpanTrace::capture()) {
        Some(path) => err.context(Location(path)),
        None => err,
    }
}

/// The context [`located`] adds.
#[derive(Debug)]
struct Location(String);

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "in {}", self.0)
    }
}

/// `a{x=1} < b < c`: the spans of `trace`, innermost first, or `None` outside any span (or
/// without the error layer).
fn span_path(trace: &tracing_error::SpanTrace) -> Option<String> {
    let mut spans = Vec::new();
    trace.with_spans(|metadata, fields| {
        let name = match metadata.target().rsplit_once("::") {
            Some((_, module)) => format!("{module}::{}", metadata.name()),
            None => metadata.name().to_owned(),
        };
        spans.push(if fields.is_empty() {
            name
        } else {
            format!("{name}{{{fields}}}")
        });
        true
    });
    (!spans.is_empty()).then(|| spans.join(" < "))
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
    // The error layer lets an error capture the spans it was raised in ([`located`]).
    let result = if env.get("GSIGN_LOG_FORMAT") == Some("text") {
        builder
            .with_ansi(false)
            .finish()
            .with(ErrorLayer::default())
            .try_init()
    } else {
        // Every span, outermost first: the invocation's `requestId`, the API request's id,
        // then the use case and store call `#[instrument]` opened.
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .finish()
            .with(ErrorLayer::default())
            .try_init()
    };
    // An error only means a subscriber is already installed.
    drop(result);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_says_which_spans_it_was_raised_in_and_keeps_its_cause() {
        let subscriber = tracing_subscriber::registry().with(ErrorLayer::default());
        let err = tracing::subscriber::with_default(subscriber, || {
            let _outer = tracing::info_span!("send").entered();
            let _inner = tracing::info_span!("lock_envelope", envelope_id = 7).entered();
            located(std::io::Error::other("connection reset"))
        });
        assert_eq!(
            format!("{err:#}"),
            "in tests::lock_envelope{envelope_id=7} < tests::send: connection reset"
        );
        assert!(err.downcast_ref::<std::io::Error>().is_some());
        // Located again further out, it keeps where it was raised.
        let again = tracing::subscriber::with_default(
            tracing_subscriber::registry().with(ErrorLayer::default()),
            || {
                let _span = tracing::info_span!("handler").entered();
                located(err)
            },
        );
        assert!(!format!("{again:#}").contains("handler"), "{again:#}");
        // Outside any span the error is left as it is.
        let plain = located(std::io::Error::other("refused"));
        assert_eq!(format!("{plain:#}"), "refused");
    }

    #[test]
    fn an_emf_line_names_every_value_and_dimension_it_carries() {
        let line = emf_line(
            &[
                ("Requests", 1.0, "Count"),
                ("Latency", 12.5, "Milliseconds"),
            ],
            &[("Function", "api-get-me"), ("Area", "accounts")],
            &[&["Area"], &["Function"]],
            "gsign",
            1_800_000_000_000,
        );
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], METRICS_NAMESPACE);
        assert_eq!(
            directive["Dimensions"],
            serde_json::json!([["Stack", "Area"], ["Stack", "Function"]])
        );
        // Every dimension and metric named in the directive is a member of the line (EMF's
        // rule; CloudWatch drops the line otherwise).
        for dimension in ["Stack", "Area", "Function"] {
            assert!(line[dimension].is_string(), "{dimension}");
        }
        for metric in directive["Metrics"].as_array().expect("metrics") {
            let name = metric["Name"].as_str().expect("name");
            assert!(line[name].is_number(), "{name}");
        }
        assert_eq!(line["_aws"]["Timestamp"], 1_800_000_000_000u64);
    }
}
