//! The plan, subscription and usage views: `GET /v1/billing/subscription`, `/usage` (JSON and
//! CSV) and `/invoice-preview`.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use gsign_platform::http::Caller;

pub use crate::error::BillingError;

use super::{BillingApi, SubscriptionView, UsageDay};
use crate::store;

/// The days a usage report covers, as asked; an end not given takes its default.
#[derive(Debug, Clone, Copy, Default)]
pub struct UsageRange {
    /// The first day; absent: 30 days before `to`.
    pub from: Option<NaiveDate>,
    /// The last day, included; absent: today (UTC).
    pub to: Option<NaiveDate>,
}

/// What an organization used each day of a range.
#[derive(Debug)]
pub struct UsageReport {
    /// The first day.
    pub from: NaiveDate,
    /// The last day, included.
    pub to: NaiveDate,
    days: Vec<UsageDay>,
}

impl UsageReport {
    /// `GET /v1/billing/usage`'s answer: the range, its totals and the days with usage.
    pub fn json(&self) -> serde_json::Value {
        let total = |pick: fn(&UsageDay) -> i64| self.days.iter().map(pick).sum::<i64>();
        serde_json::json!({
            "from": self.from,
            "to": self.to,
            "totals": {
                "envelope": total(|d| d.envelope),
                "signature": total(|d| d.signature),
                "certificate": total(|d| d.certificate),
            },
            "days": self.days,
        })
    }

    /// The same days as CSV: a `day,envelope,signature,certificate` line, then one per day.
    pub fn csv(&self) -> String {
        let mut csv = String::from("day,envelope,signature,certificate\n");
        for day in &self.days {
            csv.push_str(&format!(
                "{},{},{},{}\n",
                day.day, day.envelope, day.signature, day.certificate
            ));
        }
        csv
    }
}

impl BillingApi {
    /// `GET /v1/billing/subscription`: the organization's plan, subscription and pending change.
    #[tracing::instrument(skip_all)]
    pub async fn subscription(&self, caller: &Caller) -> Result<SubscriptionView, BillingError> {
        let client = self.base.db.connect().await?;
        let plan = gsign_platform::billing::current_plan(&client, caller.org).await?;
        let state = store::subscription_state(&client, caller.org).await?;
        let usage =
            store::usage_totals(&client, caller.org, plan.period_start, plan.period_end).await?;
        let mut totals = serde_json::json!({"envelope": 0, "signature": 0, "certificate": 0});
        for (kind, used) in usage {
            totals[kind] = serde_json::json!(used);
        }
        let (status, pending_plan) = state.unzip();
        Ok(SubscriptionView {
            status,
            pending_plan: pending_plan.flatten(),
            plan,
            usage: totals,
        })
    }

    /// Usage per day over `range` (default: the last 30 days).
    #[tracing::instrument(skip_all)]
    pub async fn usage(
        &self,
        caller: &Caller,
        range: UsageRange,
    ) -> Result<UsageReport, BillingError> {
        let to = range.to.unwrap_or_else(|| Utc::now().date_naive());
        let from = range.from.unwrap_or_else(|| to - Duration::days(30));
        if from > to || (to - from).num_days() > 366 {
            return Err(BillingError::invalid(
                "/from",
                "must be on or before to, at most 366 days before",
            ));
        }
        let start: DateTime<Utc> = from.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let end: DateTime<Utc> = (to + Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc();
        let client = self.base.db.connect().await?;
        let days = store::usage_per_day(&client, caller.org, start, end)
            .await?
            .into_iter()
            .map(|d| UsageDay {
                day: d.day,
                envelope: d.envelope,
                signature: d.signature,
                certificate: d.certificate,
            })
            .collect();
        Ok(UsageReport { from, to, days })
    }

    /// What the current period's invoice will say: the plan's price, and the usage it
    /// includes (no usage is billed beyond the plan; over a limit, actions are refused).
    #[tracing::instrument(skip_all)]
    pub async fn invoice_preview(
        &self,
        caller: &Caller,
    ) -> Result<serde_json::Value, BillingError> {
        let view = self.subscription(caller).await?;
        let client = self.base.db.connect().await?;
        let (price, currency) = store::plan_price(&client, &view.plan.code).await?;
        let included = |used: &serde_json::Value, allowance: Option<i32>, what: &str| {
            serde_json::json!({
                "description": match allowance {
                    Some(n) => format!("{what}: {used} of {n} included"),
                    None => format!("{what}: {used}, unlimited"),
                },
                "quantity": used,
                "amount_cents": 0,
            })
        };
        Ok(serde_json::json!({
            "plan": view.plan.code,
            "period_start": view.plan.period_start,
            "period_end": view.plan.period_end,
            "currency": currency,
            "lines": [
                {"description": format!("{} plan, monthly", view.plan.name), "quantity": 1, "amount_cents": price},
                included(&view.usage["envelope"], view.plan.envelopes_per_month, "Envelopes sent"),
                included(&view.usage["signature"], None, "Signatures applied"),
                included(&view.usage["certificate"], view.plan.max_certificates, "Certificates created"),
            ],
            "total_cents": price,
            "next_plan": view.pending_plan,
        }))
    }
}
