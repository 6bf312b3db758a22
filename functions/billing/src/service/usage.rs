//! The plan, subscription and usage views: `GET /v1/billing/subscription`, `/usage` (JSON and
//! CSV) and `/invoice-preview`.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use gsign_core::FieldError;
use gsign_platform::http::{self as web, Caller};
use http::StatusCode;
use lambda_http::{Body, Request, Response};

pub use crate::error::BillingError;

use super::{BillingApi, SubscriptionView, UsageDay};
use crate::store;

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

    /// Usage per day between the `from` and `to` query dates (default: the last 30 days).
    #[tracing::instrument(skip_all)]
    async fn usage_days(
        &self,
        caller: &Caller,
        req: &Request,
    ) -> Result<(NaiveDate, NaiveDate, Vec<UsageDay>), BillingError> {
        let mut errors = Vec::new();
        let day = |name: &str, errors: &mut Vec<FieldError>| {
            web::query(req, name).and_then(|raw| {
                raw.parse::<NaiveDate>()
                    .ok()
                    // Far dates overflow the day arithmetic below: a usage period lies in
                    // these years.
                    .filter(|d| (2000..=9999).contains(&chrono::Datelike::year(d)))
                    .ok_or(())
                    .map_err(|_| {
                        errors.push(FieldError::new(
                            format!("/{name}"),
                            "must be a date, YYYY-MM-DD",
                        ))
                    })
                    .ok()
            })
        };
        let now = Utc::now();
        let to = day("to", &mut errors).unwrap_or_else(|| now.date_naive());
        let from = day("from", &mut errors).unwrap_or_else(|| to - Duration::days(30));
        if from > to || (to - from).num_days() > 366 {
            errors.push(FieldError::new(
                "/from",
                "must be on or before to, at most 366 days before",
            ));
        }
        if !errors.is_empty() {
            return Err(BillingError::Validation(errors));
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
        Ok((from, to, days))
    }

    /// `GET /v1/billing/usage`: what the organization used each day of a range (`from`, `to`).
    #[tracing::instrument(skip_all)]
    pub async fn usage(
        &self,
        caller: &Caller,
        req: &Request,
    ) -> Result<serde_json::Value, BillingError> {
        let (from, to, days) = self.usage_days(caller, req).await?;
        let total = |pick: fn(&UsageDay) -> i64| days.iter().map(pick).sum::<i64>();
        Ok(serde_json::json!({
            "from": from,
            "to": to,
            "totals": {
                "envelope": total(|d| d.envelope),
                "signature": total(|d| d.signature),
                "certificate": total(|d| d.certificate),
            },
            "days": days,
        }))
    }

    /// The same days as CSV: `day,envelope,signature,certificate`.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn usage_csv(
        &self,
        caller: &Caller,
        req: &Request,
    ) -> Result<Response<Body>, BillingError> {
        let (from, to, days) = self.usage_days(caller, req).await?;
        let mut csv = String::from("day,envelope,signature,certificate\n");
        for day in &days {
            csv.push_str(&format!(
                "{},{},{},{}\n",
                day.day, day.envelope, day.signature, day.certificate
            ));
        }
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "text/csv; charset=utf-8")
            .header(
                "content-disposition",
                format!("attachment; filename=\"usage-{from}-{to}.csv\""),
            )
            .body(Body::Text(csv))
            .map_err(|e| BillingError::Internal(e.into()))
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
