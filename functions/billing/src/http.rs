//! The billing area's HTTP side: its route table (each route's operation as the OpenAPI
//! document describes it, who may call it, its rate limit and replay, its cold start; the area
//! binary, the local runner and the OpenAPI document are made from it) and each route's glue:
//! parse, authorize, call the service, map the answer.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use gsign_core::openapi::{schema, Operation, Reply};
use gsign_core::{Action, Env, FieldError};
use gsign_platform::http::{self as web};
use gsign_platform::lambda::{http_route, AreaSpec, HttpHandler, InitFuture, RouteSpec};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use schemars::JsonSchema;

use crate::error::BillingError;
use crate::service::{
    BillingApi, CheckoutInput, SubscriptionView, UsageDay, UsageRange, UsageTotals,
};

/// `GET /v1/billing/usage` and `GET /v1/billing/usage.csv` query: at most 366 days, from
/// on or before to.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct UsageQuery {
    /// The first day (UTC, YYYY-MM-DD, year 2000 to 9999); absent: 30 days before `to`.
    from: Option<NaiveDate>,
    /// The last day, included (UTC, YYYY-MM-DD, year 2000 to 9999); absent: today.
    to: Option<NaiveDate>,
}

/// Reads the usage routes' `from` and `to`; every problem at once.
fn usage_range(req: &Request) -> Result<UsageRange, BillingError> {
    let mut errors = Vec::new();
    let mut day = |name: &str| {
        web::query(req, name).and_then(|raw| {
            let day = raw
                .parse::<NaiveDate>()
                .ok()
                // Far dates overflow the use case's day arithmetic: a usage period lies in
                // these years.
                .filter(|d| (2000..=9999).contains(&chrono::Datelike::year(d)));
            if day.is_none() {
                errors.push(FieldError::new(
                    format!("/{name}"),
                    "must be a date, YYYY-MM-DD",
                ));
            }
            day
        })
    };
    let range = UsageRange {
        from: day("from"),
        to: day("to"),
    };
    if errors.is_empty() {
        Ok(range)
    } else {
        Err(BillingError::Validation(errors))
    }
}

/// `GET /v1/billing/usage`'s answer.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct UsageReport {
    /// The first day.
    from: NaiveDate,
    /// The last day, included.
    to: NaiveDate,
    /// Usage over the whole range, per type.
    totals: UsageTotals,
    /// The days with usage, oldest first (days without usage are left out).
    days: Vec<UsageDay>,
}

/// One line of an invoice preview.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct InvoiceLine {
    /// What the line is for.
    description: String,
    /// How many: 1 for the plan, the period's usage for the others.
    quantity: i64,
    /// Its price in cents of `currency` (0: included in the plan).
    amount_cents: i64,
}

/// `GET /v1/billing/invoice-preview`'s answer.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct InvoicePreview {
    /// The plan's code.
    plan: String,
    /// The period's start.
    period_start: DateTime<Utc>,
    /// The period's end.
    period_end: DateTime<Utc>,
    /// ISO 4217 code (`USD`).
    currency: String,
    /// The plan's monthly price, then the envelopes, signatures and certificates it includes.
    lines: Vec<InvoiceLine>,
    /// The total, in cents: the plan's price (no usage is billed beyond it).
    total_cents: i64,
    /// The code of a downgrade that applies at the period's end; null if none.
    #[schemars(required, extend("type" = ["string", "null"]))]
    next_plan: Option<String>,
}

/// `POST /v1/billing/checkout`'s answer: a Stripe Checkout session.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct CheckoutSession {
    /// Stripe's session id (`cs_…`).
    id: String,
    /// Where to send the person to pay (Stripe's hosted page).
    url: String,
}

/// `POST /v1/billing/portal`'s answer: a Stripe customer-portal session.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct PortalSession {
    /// Where to send the person to manage the subscription (Stripe's hosted page).
    url: String,
}

/// A Stripe event, as Stripe sends it: the raw body is what `Stripe-Signature` signs.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct StripeEvent {
    /// The event's id (`evt_…`): each event is applied once.
    id: String,
    /// `customer.subscription.created|updated|deleted`, `invoice.paid`,
    /// `invoice.payment_succeeded`, `invoice.payment_failed`; others are ignored.
    #[serde(rename = "type")]
    kind: String,
    /// When Stripe created it (Unix seconds).
    created: i64,
    /// `object`: the subscription or invoice.
    data: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `POST /v1/billing/stripe-webhook`'s answer.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct StripeEventReceipt {
    /// Always `true`.
    #[schemars(extend("const" = true))]
    received: bool,
    /// What applying it did: `applied`, `stale`, `duplicate`, `ignored`, `malformed`,
    /// `unknown_organization`, `unknown_price` or `unknown_subscription`.
    outcome: String,
}

/// The billing area.
pub const AREA: AreaSpec = AreaSpec {
    binary: "gsign-billing",
    name: "billing",
    description: "The organization's plan, its period and usage, the invoice preview, and Stripe checkout, portal and events.",
    routes: &[
        RouteSpec::new(
            Operation::new(
                "api-get-subscription",
                "GET",
                "/v1/billing/subscription",
                "The plan, its period, a pending downgrade and the usage of the period.",
                Reply::Json(200, schema::<SubscriptionView>),
            ),
            Action::ReadOrganization,
            |env, spec| init_route(env, spec, Route::Subscription),
        ),
        RouteSpec::new(
            Operation::new(
                "api-get-usage",
                "GET",
                "/v1/billing/usage",
                "Usage per type and per day between from and to (default: the last 30 days).",
                Reply::Json(200, schema::<UsageReport>),
            )
            .with_query(schema::<UsageQuery>),
            Action::ReadOrganization,
            |env, spec| init_route(env, spec, Route::Usage),
        ),
        RouteSpec::public(
            Operation::new(
                "api-stripe-webhook",
                "POST",
                "/v1/billing/stripe-webhook",
                "Stripe's events (only Stripe calls it): Stripe-Signature checked, each event applied once by id.",
                Reply::Json(200, schema::<StripeEventReceipt>),
            )
            .with_body(schema::<StripeEvent>),
            |env, spec| init_route(env, spec, Route::StripeWebhook),
        ),
        RouteSpec::new(
            Operation::new(
                "api-get-usage-csv",
                "GET",
                "/v1/billing/usage.csv",
                "The same usage as CSV (day,envelope,signature,certificate).",
                Reply::Other(
                    200,
                    "text/csv",
                    "A `day,envelope,signature,certificate` header line, then one line per day with usage, oldest first.",
                ),
            )
            .with_query(schema::<UsageQuery>),
            Action::ReadOrganization,
            |env, spec| init_route(env, spec, Route::UsageCsv),
        ),
        RouteSpec::new(
            Operation::new(
                "api-get-invoice-preview",
                "GET",
                "/v1/billing/invoice-preview",
                "The current period's invoice: the plan's price and the usage it includes.",
                Reply::Json(200, schema::<InvoicePreview>),
            ),
            Action::ReadOrganization,
            |env, spec| init_route(env, spec, Route::InvoicePreview),
        ),
        RouteSpec::new(
            Operation::new(
                "api-create-checkout",
                "POST",
                "/v1/billing/checkout",
                "A Stripe Checkout link to subscribe or upgrade to a plan (owners and admins).",
                Reply::Json(201, schema::<CheckoutSession>),
            )
            .with_body(schema::<CheckoutInput>),
            Action::UpdateOrganization,
            |env, spec| init_route(env, spec, Route::Checkout),
        ),
        RouteSpec::new(
            Operation::new(
                "api-create-portal-session",
                "POST",
                "/v1/billing/portal",
                "A Stripe customer-portal link to change or cancel the subscription (owners and admins).",
                Reply::Json(201, schema::<PortalSession>),
            ),
            Action::UpdateOrganization,
            |env, spec| init_route(env, spec, Route::Portal),
        ),
    ],
    jobs: &[],
};

/// Which route a function serves (its entry in [`AREA`] says the rest).
#[derive(Debug, Clone, Copy)]
enum Route {
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
            Route::StripeWebhook => {
                let signature = req
                    .headers()
                    .get("stripe-signature")
                    .and_then(|v| v.to_str().ok());
                let outcome = api.stripe_webhook(signature, req.body().as_ref()).await?;
                web::json(
                    StatusCode::OK,
                    &serde_json::json!({"received": true, "outcome": outcome}),
                )
            }
            Route::Subscription => {
                let caller = self.spec.caller(req)?;
                web::json(StatusCode::OK, &api.subscription(&caller).await?)
            }
            Route::Usage => {
                let caller = self.spec.caller(req)?;
                web::json(
                    StatusCode::OK,
                    &api.usage(&caller, usage_range(req)?).await?.json(),
                )
            }
            Route::UsageCsv => {
                let caller = self.spec.caller(req)?;
                let report = api.usage(&caller, usage_range(req)?).await?;
                let file_name = format!("usage-{}-{}.csv", report.from, report.to);
                Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", "text/csv; charset=utf-8")
                    .header(
                        "content-disposition",
                        format!("attachment; filename=\"{file_name}\""),
                    )
                    .body(Body::Text(report.csv()))
                    .map_err(|e| BillingError::Internal(e.into()))?
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

fn init_route(env: Env, spec: &'static RouteSpec, route: Route) -> InitFuture {
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
