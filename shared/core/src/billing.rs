//! Plans, usage and quotas (seed 000, seed 001's billing service) without I/O: what each
//! limit counts, the billing period an instant falls in, and the refusal a client can act on.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::{IntoProblem, Problem};

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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

/// How old a Stripe signature's timestamp may be (Stripe's default tolerance).
pub const STRIPE_TOLERANCE_SECONDS: i64 = 300;

/// Why a `Stripe-Signature` header does not authenticate a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StripeSignatureError {
    /// The header is missing or has no `t=` or no `v1=`.
    #[error("the Stripe-Signature header is missing or malformed")]
    Malformed,
    /// The timestamp is more than the tolerance away from now.
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
    /// No `v1` signature matches any of the endpoint's secrets.
    #[error("no v1 signature matches")]
    Mismatch,
}

/// Checks a `Stripe-Signature` header (`t=<unix>,v1=<hex>,v1=<hex>…`): HMAC-SHA256 of
/// `"{t}.{payload}"` with any of `secrets` (several during a rotation) must equal any `v1`
/// (compared in constant time), and `t` must be within [`STRIPE_TOLERANCE_SECONDS`] of `now`.
pub fn verify_stripe_signature(
    header: Option<&str>,
    payload: &[u8],
    secrets: &[String],
    now: i64,
) -> Result<(), StripeSignatureError> {
    let header = header.ok_or(StripeSignatureError::Malformed)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => {
                if let Ok(bytes) = hex::decode(value) {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(StripeSignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(StripeSignatureError::Malformed);
    }
    if (now - timestamp).abs() > STRIPE_TOLERANCE_SECONDS {
        return Err(StripeSignatureError::Stale);
    }
    let mut message = format!("{timestamp}.").into_bytes();
    message.extend_from_slice(payload);
    let matches = secrets.iter().any(|secret| {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
        signatures
            .iter()
            .any(|given| aws_lc_rs::hmac::verify(&key, &message, given).is_ok())
    });
    if matches {
        Ok(())
    } else {
        Err(StripeSignatureError::Mismatch)
    }
}

/// The `Stripe-Signature` header Stripe would send for `payload` at `timestamp` (tests,
/// fixtures).
pub fn stripe_signature_header(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    let mut message = format!("{timestamp}.").into_bytes();
    message.extend_from_slice(payload);
    format!(
        "t={timestamp},v1={}",
        hex::encode(aws_lc_rs::hmac::sign(&key, &message).as_ref())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_signatures_are_checked_against_every_secret_and_the_tolerance() {
        let payload = br#"{"id":"evt_1","type":"invoice.paid"}"#;
        let secrets = vec!["whsec_old".to_owned(), "whsec_new".to_owned()];
        let header = stripe_signature_header("whsec_new", 1_000, payload);
        assert_eq!(
            verify_stripe_signature(Some(&header), payload, &secrets, 1_100),
            Ok(())
        );
        // Several v1 values: one matching is enough.
        let two = format!("{header},v1={}", "00".repeat(32));
        assert_eq!(
            verify_stripe_signature(Some(&two), payload, &secrets, 1_000),
            Ok(())
        );
        assert_eq!(
            verify_stripe_signature(Some(&header), payload, &secrets, 1_301),
            Err(StripeSignatureError::Stale)
        );
        assert_eq!(
            verify_stripe_signature(Some(&header), b"{}", &secrets, 1_000),
            Err(StripeSignatureError::Mismatch)
        );
        assert_eq!(
            verify_stripe_signature(Some(&header), payload, &["whsec_other".to_owned()], 1_000),
            Err(StripeSignatureError::Mismatch)
        );
        for bad in ["", "t=1000", "v1=00", "t=x,v1=00"] {
            assert_eq!(
                verify_stripe_signature(Some(bad), payload, &secrets, 1_000),
                Err(StripeSignatureError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            verify_stripe_signature(None, payload, &secrets, 1_000),
            Err(StripeSignatureError::Malformed)
        );
    }

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
