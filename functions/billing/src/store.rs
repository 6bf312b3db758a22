//! The billing tables: the views the routes read (subscription, usage per type and day, a
//! plan's price and Stripe ids), and Stripe's events applied to them.
//!
//! `POST /v1/billing/stripe-webhook` (no authorizer: Stripe calls it): the `Stripe-Signature`
//! is checked (HMAC-SHA256 over `t.payload`, 300 s tolerance, any `v1` with any configured
//! secret), then the event is applied once, by its id, in one transaction:
//!
//! - `customer.subscription.created|updated|deleted`: the organization's subscription (its
//!   plan from the price, status, period). An upgrade applies at once; a downgrade within the
//!   same period waits for the period's end (`pending_plan_id`). An event older than the
//!   newest one applied to the subscription changes nothing (Stripe does not order events).
//! - `invoice.paid|invoice.payment_succeeded`: a `past_due`, `unpaid` or `incomplete`
//!   subscription is `active` again; `invoice.payment_failed`: it is `past_due`.
//!
//! The organization is the subscription's `metadata.organization_id` (set at checkout), or
//! the one already holding that Stripe subscription or customer.

use chrono::{DateTime, Utc};
use gsign_platform::database::{DbError, Row, Session};
use gsign_platform::params;
use serde_json::Value;
use uuid::Uuid;

use crate::error::BillingError;

/// What applying an event did (recorded with the event, answered to Stripe).
pub type Outcome = &'static str;

fn unix(value: &Value) -> Option<DateTime<Utc>> {
    value.as_i64().and_then(|t| DateTime::from_timestamp(t, 0))
}

/// Stripe's subscription statuses as ours.
fn status(stripe: &str, deleted: bool) -> &'static str {
    if deleted {
        return "canceled";
    }
    match stripe {
        "active" => "active",
        "trialing" => "trialing",
        "past_due" => "past_due",
        "unpaid" => "unpaid",
        "incomplete" => "incomplete",
        _ => "canceled",
    }
}

/// Applies `event` in `tx`, once.
#[tracing::instrument(skip_all)]
pub async fn apply(tx: &(impl Session + ?Sized), event: &Value) -> Result<Outcome, BillingError> {
    let (Some(id), Some(kind), Some(created)) = (
        event["id"].as_str(),
        event["type"].as_str(),
        unix(&event["created"]),
    ) else {
        return Err(BillingError::Validation(vec![gsign_core::FieldError::new(
            "",
            "an event needs id, type and created",
        )]));
    };
    let object = &event["data"]["object"];
    let first = tx
        .run(
            "INSERT INTO stripe_events (id, type, outcome, created_at) \
             VALUES (:id, :kind, 'received', :created) ON CONFLICT (id) DO NOTHING",
            params!(id, kind, created),
        )
        .await?;
    if first == 0 {
        return Ok("duplicate");
    }
    let (outcome, org) = match kind {
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => {
            subscription(tx, object, created, kind.ends_with("deleted")).await?
        }
        "invoice.paid" | "invoice.payment_succeeded" | "invoice.payment_failed" => {
            invoice(tx, object, created, kind == "invoice.payment_failed").await?
        }
        _ => ("ignored", None),
    };
    tx.run(
        "UPDATE stripe_events SET outcome = :outcome, organization_id = :org WHERE id = :id",
        params!(id, outcome, org),
    )
    .await?;
    Ok(outcome)
}

/// A Stripe subscription event as it applies to an organization's subscription row.
struct SubscriptionChange<'a> {
    org: Uuid,
    plan_id: Uuid,
    price_cents: i32,
    customer: Option<&'a str>,
    stripe_id: &'a str,
    status: &'static str,
    period_start: Option<DateTime<Utc>>,
    period_end: Option<DateTime<Utc>>,
    created: DateTime<Utc>,
    deleted: bool,
}

#[tracing::instrument(skip_all)]
async fn subscription(
    tx: &(impl Session + ?Sized),
    object: &Value,
    created: DateTime<Utc>,
    deleted: bool,
) -> Result<(Outcome, Option<Uuid>), BillingError> {
    let Some(stripe_id) = object["id"].as_str() else {
        return Ok(("malformed", None));
    };
    let customer = object["customer"].as_str();
    let Some(org) = subscription_organization(tx, object, stripe_id, customer).await? else {
        return Ok(("unknown_organization", None));
    };
    let Some((plan_id, price_cents)) = plan_of_price(tx, price_id(object)).await? else {
        return Ok(("unknown_price", Some(org)));
    };
    let change = SubscriptionChange {
        org,
        plan_id,
        price_cents,
        customer,
        stripe_id,
        period_start: period_bound(object, "current_period_start"),
        period_end: period_bound(object, "current_period_end"),
        status: status(object["status"].as_str().unwrap_or_default(), deleted),
        created,
        deleted,
    };
    // One subscription per organization: the row is locked while it is decided.
    let current = tx
        .fetch_optional(
            "SELECT s.last_event_at, s.current_period_start, p.monthly_price_cents \
             FROM subscriptions s JOIN plans p ON p.id = s.plan_id \
             WHERE s.organization_id = :org FOR UPDATE OF s",
            params!(org),
        )
        .await?;
    let outcome = match current {
        None => insert_subscription(tx, &change).await?,
        Some(row) => update_subscription(tx, &change, &row).await?,
    };
    Ok((outcome, Some(org)))
}

/// The organization a Stripe subscription is for: the one its metadata names, or the one
/// already holding it or its customer; `None` when there is no such organization.
#[tracing::instrument(skip_all)]
async fn subscription_organization(
    tx: &(impl Session + ?Sized),
    object: &Value,
    stripe_id: &str,
    customer: Option<&str>,
) -> Result<Option<Uuid>, BillingError> {
    let named: Option<Uuid> = object["metadata"]["organization_id"]
        .as_str()
        .and_then(|s| s.parse().ok());
    let known: Option<Uuid> = tx
        .fetch_optional(
            "SELECT organization_id FROM subscriptions WHERE stripe_subscription_id = :stripe_id \
             OR (:customer::text IS NOT NULL AND stripe_customer_id = :customer::text) LIMIT 1",
            params!(stripe_id, customer),
        )
        .await?
        .map(|row| row.get("organization_id"))
        .transpose()?;
    let Some(org) = named.or(known) else {
        return Ok(None);
    };
    let exists: bool = tx
        .fetch_one(
            "SELECT EXISTS (SELECT 1 FROM organizations WHERE id = :org) AS known",
            params!(org),
        )
        .await?
        .get("known")?;
    Ok(exists.then_some(org))
}

/// The subscription's Stripe price: its first item's price or plan, else its own plan.
fn price_id(object: &Value) -> Option<&str> {
    let item = &object["items"]["data"][0];
    item["price"]["id"]
        .as_str()
        .or_else(|| item["plan"]["id"].as_str())
        .or_else(|| object["plan"]["id"].as_str())
}

/// A bound of the subscription's period (`name`), else of its first item's.
fn period_bound(object: &Value, name: &str) -> Option<DateTime<Utc>> {
    unix(&object[name]).or_else(|| unix(&object["items"]["data"][0][name]))
}

/// The id and monthly price of the plan sold at Stripe price `price`, if there is one.
#[tracing::instrument(skip_all)]
async fn plan_of_price(
    tx: &(impl Session + ?Sized),
    price: Option<&str>,
) -> Result<Option<(Uuid, i32)>, BillingError> {
    let Some(plan) = tx
        .fetch_optional(
            "SELECT id, monthly_price_cents FROM plans WHERE stripe_price_id = :price",
            params!(price),
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(Some((plan.get("id")?, plan.get("monthly_price_cents")?)))
}

/// The organization's first subscription.
#[tracing::instrument(skip_all)]
async fn insert_subscription(
    tx: &(impl Session + ?Sized),
    change: &SubscriptionChange<'_>,
) -> Result<Outcome, BillingError> {
    let SubscriptionChange {
        org,
        plan_id,
        customer,
        stripe_id,
        status,
        period_start,
        period_end,
        created,
        ..
    } = *change;
    tx.run(
        "INSERT INTO subscriptions (organization_id, plan_id, stripe_customer_id, \
         stripe_subscription_id, status, current_period_start, current_period_end, \
         last_event_at) VALUES (:org, :plan_id, :customer, :stripe_id, :status, \
         :period_start, :period_end, :created)",
        params!(
            org,
            plan_id,
            customer,
            stripe_id,
            status,
            period_start,
            period_end,
            created
        ),
    )
    .await?;
    Ok("applied")
}

/// The organization's locked subscription row `current` changed, unless a newer event
/// already did; a cheaper plan within the same period waits for the period's end.
#[tracing::instrument(skip_all)]
async fn update_subscription(
    tx: &(impl Session + ?Sized),
    change: &SubscriptionChange<'_>,
    current: &Row,
) -> Result<Outcome, BillingError> {
    let SubscriptionChange {
        org,
        plan_id,
        price_cents,
        customer,
        stripe_id,
        status,
        period_start,
        period_end,
        created,
        deleted,
    } = *change;
    let last: Option<DateTime<Utc>> = current.get("last_event_at")?;
    if last.is_some_and(|last| last > created) {
        return Ok("stale");
    }
    let old_start: Option<DateTime<Utc>> = current.get("current_period_start")?;
    let old_price: i32 = current.get("monthly_price_cents")?;
    let downgrade_now =
        !deleted && price_cents < old_price && period_start.is_some() && period_start == old_start;
    if downgrade_now {
        tx.run(
            "UPDATE subscriptions SET pending_plan_id = :plan_id, status = :status, \
             stripe_customer_id = COALESCE(:customer::text, stripe_customer_id), \
             stripe_subscription_id = :stripe_id, \
             current_period_end = COALESCE(:period_end::timestamptz, current_period_end), \
             last_event_at = :created WHERE organization_id = :org",
            params!(org, plan_id, status, customer, stripe_id, period_end, created),
        )
        .await?;
    } else {
        tx.run(
            "UPDATE subscriptions SET plan_id = :plan_id, pending_plan_id = NULL, \
             status = :status, \
             stripe_customer_id = COALESCE(:customer::text, stripe_customer_id), \
             stripe_subscription_id = :stripe_id, \
             current_period_start = COALESCE(:period_start::timestamptz, current_period_start), \
             current_period_end = COALESCE(:period_end::timestamptz, current_period_end), \
             last_event_at = :created WHERE organization_id = :org",
            params!(
                org,
                plan_id,
                status,
                customer,
                stripe_id,
                period_start,
                period_end,
                created
            ),
        )
        .await?;
    }
    Ok("applied")
}

#[tracing::instrument(skip_all)]
async fn invoice(
    tx: &(impl Session + ?Sized),
    object: &Value,
    created: DateTime<Utc>,
    failed: bool,
) -> Result<(Outcome, Option<Uuid>), BillingError> {
    let Some(subscription) = object["subscription"].as_str() else {
        return Ok(("ignored", None));
    };
    let row = tx
        .fetch_optional(
            "SELECT organization_id, last_event_at FROM subscriptions \
             WHERE stripe_subscription_id = :subscription FOR UPDATE",
            params!(subscription),
        )
        .await?;
    let Some(row) = row else {
        return Ok(("unknown_subscription", None));
    };
    let org: Uuid = row.get("organization_id")?;
    let last: Option<DateTime<Utc>> = row.get("last_event_at")?;
    if last.is_some_and(|last| last > created) {
        return Ok(("stale", Some(org)));
    }
    let changed = if failed {
        tx.run(
            "UPDATE subscriptions SET status = 'past_due', last_event_at = :created \
             WHERE organization_id = :org AND status IN ('active', 'trialing', 'past_due')",
            params!(org, created),
        )
        .await?
    } else {
        tx.run(
            "UPDATE subscriptions SET status = 'active', last_event_at = :created \
             WHERE organization_id = :org \
             AND status IN ('past_due', 'unpaid', 'incomplete', 'active')",
            params!(org, created),
        )
        .await?
    };
    Ok((if changed > 0 { "applied" } else { "ignored" }, Some(org)))
}

/// The organization's subscription status and pending plan code, if it has a subscription.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn subscription_state(
    db: &(impl Session + ?Sized),
    org: Uuid,
) -> Result<Option<(String, Option<String>)>, DbError> {
    db.fetch_optional(
        "SELECT s.status, p.code AS pending_plan FROM subscriptions s \
         LEFT JOIN plans p ON p.id = s.pending_plan_id WHERE s.organization_id = :org",
        params!(org),
    )
    .await?
    .map(|row| Ok((row.get("status")?, row.get("pending_plan")?)))
    .transpose()
}

/// Usage per type (`envelope`, `signature`, `certificate`) recorded in `[start, end)`.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn usage_totals(
    db: &(impl Session + ?Sized),
    org: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<(String, i64)>, DbError> {
    db.fetch_all(
        "SELECT type, COALESCE(sum(quantity), 0)::bigint AS used FROM usage_records \
         WHERE organization_id = :org AND recorded_at >= :start AND recorded_at < :end \
         GROUP BY type",
        params!(org, start, end),
    )
    .await?
    .iter()
    .map(|row| Ok((row.get("type")?, row.get("used")?)))
    .collect()
}

/// One UTC day's usage per type.
pub struct DayUsage {
    /// The day.
    pub day: chrono::NaiveDate,
    /// Envelopes sent.
    pub envelope: i64,
    /// Signatures applied.
    pub signature: i64,
    /// Certificates created.
    pub certificate: i64,
}

/// Usage per UTC day recorded in `[start, end)`, days without usage left out.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn usage_per_day(
    db: &(impl Session + ?Sized),
    org: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<DayUsage>, DbError> {
    db.fetch_all(
        "SELECT (recorded_at AT TIME ZONE 'UTC')::date AS day, \
         COALESCE(sum(quantity) FILTER (WHERE type = 'envelope'), 0)::bigint AS envelope, \
         COALESCE(sum(quantity) FILTER (WHERE type = 'signature'), 0)::bigint AS signature, \
         COALESCE(sum(quantity) FILTER (WHERE type = 'certificate'), 0)::bigint AS certificate \
         FROM usage_records WHERE organization_id = :org \
         AND recorded_at >= :start AND recorded_at < :end GROUP BY 1 ORDER BY 1",
        params!(org, start, end),
    )
    .await?
    .iter()
    .map(|r| {
        Ok(DayUsage {
            day: r.get("day")?,
            envelope: r.get("envelope")?,
            signature: r.get("signature")?,
            certificate: r.get("certificate")?,
        })
    })
    .collect()
}

/// A plan's monthly price in cents and its currency.
#[tracing::instrument(skip_all)]
pub async fn plan_price(
    db: &(impl Session + ?Sized),
    code: &str,
) -> Result<(i32, String), DbError> {
    let row = db
        .fetch_one(
            "SELECT monthly_price_cents, currency FROM plans WHERE code = :code",
            params!(code),
        )
        .await?;
    Ok((row.get("monthly_price_cents")?, row.get("currency")?))
}

/// The Stripe price of an active paid plan, if `plan` is one.
#[tracing::instrument(skip_all)]
pub async fn stripe_price(
    db: &(impl Session + ?Sized),
    plan: &str,
) -> Result<Option<String>, DbError> {
    db.fetch_optional(
        "SELECT stripe_price_id FROM plans WHERE code = :plan AND is_active \
         AND stripe_price_id IS NOT NULL",
        params!(plan),
    )
    .await?
    .map(|row| row.get("stripe_price_id"))
    .transpose()
}

/// The organization's Stripe customer, once it has one.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn stripe_customer(
    db: &(impl Session + ?Sized),
    org: Uuid,
) -> Result<Option<String>, DbError> {
    Ok(db
        .fetch_optional(
            "SELECT stripe_customer_id FROM subscriptions WHERE organization_id = :org",
            params!(org),
        )
        .await?
        .map(|row| row.get::<Option<String>>("stripe_customer_id"))
        .transpose()?
        .flatten())
}
