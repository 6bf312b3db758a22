//! `gsign-local metrics`: the metrics CloudWatch would extract from the functions' log lines
//! (embedded metric format), read back from the runner's log, so the operator's view can be
//! looked at locally (`infra/local/stack metrics`).

use std::collections::BTreeMap;
use std::fmt;
use std::io::BufRead;

use serde_json::Value;

/// One function's requests.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FunctionRequests {
    /// Its route group.
    pub area: String,
    /// Requests answered.
    pub requests: u64,
    /// Of which 4xx.
    pub client_errors: u64,
    /// Of which 5xx.
    pub server_errors: u64,
    /// Every latency, in milliseconds.
    latencies: Vec<f64>,
}

impl FunctionRequests {
    /// The `q` quantile of the latencies (nearest rank), if any.
    pub fn latency_quantile(&self, q: f64) -> Option<f64> {
        let mut sorted = self.latencies.clone();
        sorted.sort_by(f64::total_cmp);
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
        sorted.get(rank - 1).copied()
    }
}

/// What a log held.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Summary {
    /// Request metrics by function.
    pub functions: BTreeMap<String, FunctionRequests>,
    /// Every other metric by name: (how many values, their sum, the last one).
    pub others: BTreeMap<String, (u64, f64, f64)>,
}

/// Reads every embedded-metric line of `log`; other lines are skipped.
pub fn summarize(log: impl BufRead) -> Summary {
    let mut summary = Summary::default();
    for line in log.lines().map_while(Result::ok) {
        let Ok(value) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let Some(directives) = value["_aws"]["CloudWatchMetrics"].as_array() else {
            continue;
        };
        let number = |name: &str| value[name].as_f64().unwrap_or(0.0);
        if let Some(function) = value["Function"].as_str() {
            let entry = summary.functions.entry(function.to_owned()).or_default();
            entry.area = value["Area"].as_str().unwrap_or_default().to_owned();
            entry.requests += number("Requests") as u64;
            entry.client_errors += number("ClientErrors") as u64;
            entry.server_errors += number("ServerErrors") as u64;
            entry.latencies.push(number("Latency"));
            continue;
        }
        for metric in directives
            .iter()
            .flat_map(|d| d["Metrics"].as_array().into_iter().flatten())
        {
            let Some(name) = metric["Name"].as_str() else {
                continue;
            };
            let value = number(name);
            let entry = summary.others.entry(name.to_owned()).or_default();
            entry.0 += 1;
            entry.1 += value;
            entry.2 = value;
        }
    }
    summary
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<36} {:<13} {:>8} {:>6} {:>6} {:>9} {:>9}",
            "function", "area", "requests", "4xx", "5xx", "p50 ms", "p99 ms"
        )?;
        for (name, r) in &self.functions {
            let ms = |q| {
                r.latency_quantile(q)
                    .map_or("-".to_owned(), |v| format!("{v:.1}"))
            };
            writeln!(
                f,
                "{name:<36} {:<13} {:>8} {:>6} {:>6} {:>9} {:>9}",
                r.area,
                r.requests,
                r.client_errors,
                r.server_errors,
                ms(0.5),
                ms(0.99)
            )?;
        }
        if !self.others.is_empty() {
            writeln!(f)?;
            writeln!(
                f,
                "{:<36} {:>8} {:>10} {:>10}",
                "metric", "values", "sum", "last"
            )?;
            for (name, (count, sum, last)) in &self.others {
                writeln!(f, "{name:<36} {count:>8} {sum:>10} {last:>10}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gsign_platform::telemetry::emf_line;

    fn request(function: &str, status: u16, latency: f64) -> String {
        let class = |low: u16| if status / 100 == low / 100 { 1.0 } else { 0.0 };
        emf_line(
            &[
                ("Requests", 1.0, "Count"),
                ("ClientErrors", class(400), "Count"),
                ("ServerErrors", class(500), "Count"),
                ("Latency", latency, "Milliseconds"),
            ],
            &[("Function", function), ("Area", "accounts")],
            &[&[], &["Area"], &["Function"]],
            "gsign-local",
            0,
        )
        .to_string()
    }

    #[test]
    fn request_lines_add_up_per_function_and_other_lines_are_skipped() {
        let mut log = vec![
            r#"{"level":"INFO","message":"authorized"}"#.to_owned(),
            "not json at all".to_owned(),
        ];
        for i in 1..=100 {
            log.push(request("api-get-me", 200, f64::from(i)));
        }
        log.push(request("api-get-me", 401, 1.0));
        log.push(request("api-login", 500, 7.0));
        log.push(emf_line(&[("SigningStalled", 2.0, "Count")], &[], &[&[]], "s", 0).to_string());
        log.push(emf_line(&[("SigningStalled", 0.0, "Count")], &[], &[&[]], "s", 0).to_string());
        let summary = summarize(log.join("\n").as_bytes());
        let me = &summary.functions["api-get-me"];
        assert_eq!(
            (me.requests, me.client_errors, me.server_errors),
            (101, 1, 0)
        );
        assert_eq!(me.area, "accounts");
        assert_eq!(me.latency_quantile(0.5), Some(50.0));
        assert_eq!(me.latency_quantile(0.99), Some(99.0));
        assert_eq!(summary.functions["api-login"].server_errors, 1);
        assert_eq!(summary.others["SigningStalled"], (2, 2.0, 0.0));
        let table = summary.to_string();
        assert!(table.contains("api-get-me"), "{table}");
        assert!(table.contains("SigningStalled"), "{table}");
    }
}
