//! The billing area's route table: each route's operation as the OpenAPI document describes it,
//! who may call it, its rate limit and replay, and its cold start. The area binary, the local
//! runner and the OpenAPI document are made from it.

use chrono::{DateTime, NaiveDate, Utc};
use gsign_core::openapi::{schema, Operation, Reply};
use gsign_core::Action;
use gsign_platform::lambda::{AreaSpec, RouteSpec};
use schemars::JsonSchema;

use crate::checkout::CheckoutInput;
use crate::{init_route, Route, SubscriptionView, UsageDay};

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

/// Usage per type.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
pub(crate) struct UsageTotals {
    /// Envelopes sent.
    envelope: i64,
    /// Signatures applied.
    signature: i64,
    /// Certificates created.
    certificate: i64,
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
