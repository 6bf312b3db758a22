//! Plans, usage and quotas (seed 000, seed 001's billing service) without I/O: what each
//! limit counts, the billing period an instant falls in, and the refusal a client can act on.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::{IntoProblem, Problem};

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageType {
    /// An envelope sent.
    Envelope,
    /// A signature applied to a document.
    Signature,
    /// A signing certificate created.
    Certificate,
}

impl UsageType {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            UsageType::Envelope => "envelope",
            UsageType::Signature => "signature",
            UsageType::Certificate => "certificate",
        }
    }
}

/// A plan limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// Envelopes sent in the billing period.
    EnvelopesPerMonth,
    /// Members (active or invited).
    Users,
    /// Signing certificates that are not revoked.
    Certificates,
}

impl Limit {
    /// The name clients see.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::EnvelopesPerMonth => "envelopes_per_month",
            Limit::Users => "users",
            Limit::Certificates => "certificates",
        }
    }
}

/// The calendar month (UTC) that contains `at`: the free plan's billing period.
pub fn calendar_month(at: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = Utc
        .with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(at);
    let (year, month) = if at.month() == 12 {
        (at.year() + 1, 1)
    } else {
        (at.year(), at.month() + 1)
    };
    let end = Utc
        .with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .single()
        .unwrap_or(at);
    (start, end)
}

/// A refused action: which limit, how much is used, how to get more.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} limit of {allowed} reached on the {plan} plan", limit.as_str())]
pub struct QuotaExceeded {
    /// The limit.
    pub limit: Limit,
    /// The plan's allowance.
    pub allowed: i64,
    /// What is used now.
    pub used: i64,
    /// The plan's code.
    pub plan: String,
    /// When the allowance resets (per-period limits).
    pub resets_at: Option<DateTime<Utc>>,
}

impl IntoProblem for QuotaExceeded {
    fn into_problem(self) -> Problem {
        let resets = self
            .resets_at
            .map(|t| format!(" It resets on {}.", t.format("%Y-%m-%d")))
            .unwrap_or_default();
        Problem::new(
            StatusCode::PAYMENT_REQUIRED,
            "quota-exceeded",
            "Plan limit reached",
        )
        .with_detail(format!(
            "Your {} plan allows {} {}; {} used.{resets} Upgrade with POST /v1/billing/checkout.",
            self.plan,
            self.allowed,
            self.limit.as_str().replace('_', " "),
            self.used
        ))
        .with_extension("limit", serde_json::json!(self.limit))
        .with_extension("allowed", serde_json::json!(self.allowed))
        .with_extension("used", serde_json::json!(self.used))
        .with_extension("plan", serde_json::json!(self.plan))
        .with_extension("resets_at", serde_json::json!(self.resets_at))
        .with_extension("upgrade", serde_json::json!("/v1/billing/checkout"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_run_from_the_first_to_the_first() {
        let at = Utc
            .with_ymd_and_hms(2026, 12, 31, 23, 59, 59)
            .single()
            .expect("valid");
        let (start, end) = calendar_month(at);
        assert_eq!(start.to_rfc3339(), "2026-12-01T00:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2027-01-01T00:00:00+00:00");
    }

    #[test]
    fn a_refusal_says_which_limit_the_usage_and_how_to_upgrade() {
        let problem = QuotaExceeded {
            limit: Limit::EnvelopesPerMonth,
            allowed: 5,
            used: 5,
            plan: "free".into(),
            resets_at: Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).single(),
        }
        .into_problem();
        assert_eq!(problem.status_code(), StatusCode::PAYMENT_REQUIRED);
        let body = serde_json::to_value(&problem).expect("json");
        assert_eq!(body["limit"], "envelopes_per_month");
        assert_eq!(body["used"], 5);
        assert!(
            body["detail"]
                .as_str()
                .expect("detail")
                .contains("2027-01-01"),
            "{body}"
        );
    }
}
