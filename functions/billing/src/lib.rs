//! Billing (seed 000, seed 001's billing service): the organization's plan and period, and
//! its usage per type and day. Usage is recorded where it happens (envelope send, signature
//! applied, certificate created) and quotas are enforced there (`gsign_platform::billing`).
//! Each route is its own Lambda ([`AREA`]); Stripe's events arrive at `stripe.rs`.

// The route futures nest the spans of the use cases and store calls they await.
#![recursion_limit = "256"]

pub mod api;
pub mod checkout;
pub mod error;
pub mod stripe;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use gsign_core::{Env, FieldError};
use gsign_platform::database::Session as _;
use gsign_platform::http::{self as web, Caller};
use gsign_platform::lambda::{http_route, HttpHandler, InitFuture, RouteSpec, StartupError};
use gsign_platform::params;
use gsign_platform::service::{Base, BaseConfig};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

pub use crate::error::{BillingCase, BillingError};

/// `GET /v1/billing/subscription` answer.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SubscriptionView {
    /// The plan in force now, and its current period.
    plan: gsign_platform::billing::CurrentPlan,
    /// The subscription's status (`active`, `trialing`, `past_due`, `canceled`,
    /// `incomplete`, `unpaid`); null without a subscription (the free plan).
    #[schemars(required, extend("type" = ["string", "null"]))]
    status: Option<String>,
    /// The code of a downgrade that applies at the period's end; null if none.
    #[schemars(required, extend("type" = ["string", "null"]))]
    pending_plan: Option<String>,
    /// Usage in the current period, per type.
    #[schemars(with = "crate::api::UsageTotals")]
    usage: serde_json::Value,
}

/// One day of usage.
#[derive(Debug, Serialize, schemars::JsonSchema)]
struct UsageDay {
    /// The day (UTC).
    day: NaiveDate,
    /// Envelopes sent that day.
    envelope: i64,
    /// Signatures applied that day.
    signature: i64,
    /// Certificates created that day.
    certificate: i64,
}

/// The service behind the routes.
pub struct BillingApi {
    base: Base,
    /// `STRIPE_WEBHOOK_SECRETS`: the endpoint's signing secrets (comma-separated; two during
    /// a rotation). Only the webhook reads it.
    stripe_secrets: Vec<String>,
    /// The Stripe API (the checkout and portal routes).
    stripe: Option<checkout::StripeApi>,
}

impl BillingApi {
    /// Verifies and applies one Stripe event; answers what it did (Stripe retries non-2xx).
    #[tracing::instrument(skip_all)]
    pub async fn stripe_webhook(&self, req: &Request) -> Result<Response<Body>, BillingError> {
        let payload: &[u8] = req.body().as_ref();
        let header = req
            .headers()
            .get("stripe-signature")
            .and_then(|v| v.to_str().ok());
        gsign_core::billing::verify_stripe_signature(
            header,
            payload,
            &self.stripe_secrets,
            Utc::now().timestamp(),
        )?;
        let event: serde_json::Value = serde_json::from_slice(payload)
            .map_err(|e| BillingError::invalid("", format!("not a JSON event: {e}")))?;
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let outcome = stripe::apply(&tx, &event).await?;
        tx.commit().await?;
        tracing::info!(event = %event["id"], kind = %event["type"], outcome, "stripe event");
        Ok(web::json(
            StatusCode::OK,
            &serde_json::json!({"received": true, "outcome": outcome}),
        ))
    }

    /// `GET /v1/billing/subscription`: the organization's plan, subscription and pending change.
    #[tracing::instrument(skip_all)]
    pub async fn subscription(&self, caller: &Caller) -> Result<SubscriptionView, BillingError> {
        let client = self.base.db.connect().await?;
        let plan = gsign_platform::billing::current_plan(&client, caller.org).await?;
        let row = client
            .fetch_optional(
                "SELECT s.status, p.code AS pending_plan FROM subscriptions s \
                 LEFT JOIN plans p ON p.id = s.pending_plan_id WHERE s.organization_id = :org",
                params!(org = caller.org),
            )
            .await?;
        let usage = client
            .fetch_all(
                "SELECT type, COALESCE(sum(quantity), 0)::bigint AS used FROM usage_records \
                 WHERE organization_id = :org AND recorded_at >= :start AND recorded_at < :end \
                 GROUP BY type",
                params!(
                    org = caller.org,
                    start = plan.period_start,
                    end = plan.period_end
                ),
            )
            .await?;
        let mut totals = serde_json::json!({"envelope": 0, "signature": 0, "certificate": 0});
        for row in usage {
            totals[row.get::<String>("type")?] = serde_json::json!(row.get::<i64>("used")?);
        }
        Ok(SubscriptionView {
            status: row.as_ref().map(|r| r.get("status")).transpose()?,
            pending_plan: row.map(|r| r.get("pending_plan")).transpose()?.flatten(),
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
        let rows = client
            .fetch_all(
                "SELECT (recorded_at AT TIME ZONE 'UTC')::date AS day, \
                 COALESCE(sum(quantity) FILTER (WHERE type = 'envelope'), 0)::bigint AS envelope, \
                 COALESCE(sum(quantity) FILTER (WHERE type = 'signature'), 0)::bigint AS signature, \
                 COALESCE(sum(quantity) FILTER (WHERE type = 'certificate'), 0)::bigint AS certificate \
                 FROM usage_records WHERE organization_id = :org \
                 AND recorded_at >= :start AND recorded_at < :end GROUP BY 1 ORDER BY 1",
                params!(org = caller.org, start, end),
            )
            .await?;
        let days: Vec<UsageDay> = rows
            .iter()
            .map(|r| {
                Ok(UsageDay {
                    day: r.get("day")?,
                    envelope: r.get("envelope")?,
                    signature: r.get("signature")?,
                    certificate: r.get("certificate")?,
                })
            })
            .collect::<Result<_, gsign_platform::database::DbError>>()?;
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
    async fn usage_csv(
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
        let row = client
            .fetch_one(
                "SELECT monthly_price_cents, currency FROM plans WHERE code = :code",
                params!(code = view.plan.code),
            )
            .await?;
        let (price, currency): (i32, String) =
            (row.get("monthly_price_cents")?, row.get("currency")?);
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

/// Which route a function serves (its entry in [`crate::api::AREA`] says the rest).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Route {
    Subscription,
    Usage,
    UsageCsv,
    InvoicePreview,
    StripeWebhook,
    Checkout,
    Portal,
}

struct BillingRoute {
    api: BillingApi,
    spec: &'static RouteSpec,
    route: Route,
}

impl BillingRoute {
    #[tracing::instrument(skip_all)]
    async fn answer(&self, req: &Request) -> Result<Response<Body>, BillingError> {
        let api = &self.api;
        Ok(match self.route {
            // Stripe calls without credentials; its signature is the authentication.
            Route::StripeWebhook => api.stripe_webhook(req).await?,
            Route::Subscription => {
                let caller = self.spec.caller(req)?;
                web::json(StatusCode::OK, &api.subscription(&caller).await?)
            }
            Route::Usage => {
                let caller = self.spec.caller(req)?;
                web::json(StatusCode::OK, &api.usage(&caller, req).await?)
            }
            Route::UsageCsv => {
                let caller = self.spec.caller(req)?;
                api.usage_csv(&caller, req).await?
            }
            Route::Checkout => {
                let caller = self.spec.caller(req)?;
                web::json(
                    StatusCode::CREATED,
                    &api.checkout(&caller, web::parse_json(req, 4096)?).await?,
                )
            }
            Route::Portal => {
                let caller = self.spec.caller(req)?;
                web::json(StatusCode::CREATED, &api.portal(&caller).await?)
            }
            Route::InvoicePreview => {
                let caller = self.spec.caller(req)?;
                web::json(StatusCode::OK, &api.invoice_preview(&caller).await?)
            }
        })
    }
}

#[async_trait]
impl HttpHandler for BillingRoute {
    async fn handle(&self, req: Request) -> Response<Body> {
        match self.answer(&req).await {
            Ok(response) => response,
            Err(err) => web::error(err, &req),
        }
    }
}

impl BillingApi {
    /// Reads the configuration from `env` (every problem at once) and builds the clients:
    /// the Stripe webhook's signing secrets only `with_webhook_secrets`, the Stripe API only
    /// `with_stripe_api` (the checkout and portal routes).
    pub async fn from_env(
        env: &Env,
        with_webhook_secrets: bool,
        with_stripe_api: bool,
    ) -> Result<Self, StartupError> {
        let mut r = env.reader();
        let base = BaseConfig::read(&mut r);
        let secrets = if with_webhook_secrets {
            r.required::<String>("STRIPE_WEBHOOK_SECRETS")
        } else {
            Some(String::new())
        };
        let stripe = with_stripe_api.then(|| {
            let api_base = r.or("STRIPE_API_BASE", "https://api.stripe.com".to_owned());
            let key = r.required::<String>("STRIPE_SECRET_KEY");
            let app_url = r.required::<String>("APP_URL");
            (api_base, key, app_url)
        });
        let (base, secrets) = r
            .finish(|| Some((base?, secrets?)))
            .map_err(StartupError::from)?;
        let stripe = match stripe {
            Some((api_base, Some(secret_key), Some(app_url))) => Some(checkout::StripeApi {
                base: api_base,
                secret_key,
                client: reqwest::Client::builder()
                    .timeout(std::time::Duration::from_secs(20))
                    .build()
                    .map_err(|e| StartupError::Setup(e.into()))?,
                app_url: app_url.trim_end_matches('/').to_owned(),
            }),
            _ => None,
        };
        let stripe_secrets = secrets
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(Self {
            base: Base::build(base).await?,
            stripe_secrets,
            stripe,
        })
    }
}

pub(crate) fn init_route(env: Env, spec: &'static RouteSpec, route: Route) -> InitFuture {
    Box::pin(async move {
        let api = BillingApi::from_env(
            &env,
            matches!(route, Route::StripeWebhook),
            matches!(route, Route::Checkout | Route::Portal),
        )
        .await?;
        let limiter = api.base.limiter.clone();
        let db = api.base.db.clone();
        Ok(http_route(
            Arc::new(BillingRoute { api, spec, route }),
            spec,
            limiter,
            db,
        ))
    })
}

pub use api::AREA;
