//! Usage and quotas in Postgres (seed 000's `plans`, `subscriptions`, `usage_records`): the
//! organization's plan and period, usage written once per cause in the caller's transaction,
//! and the quota check every limited action makes in that same transaction.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use gsign_core::billing::{calendar_month, Limit, QuotaExceeded, UsageType};
use uuid::Uuid;

use crate::db::PgError;

/// The plan an organization is on now, and its current period.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct CurrentPlan {
    /// `free`, `pro`, `business`, …
    pub code: String,
    /// Its name.
    pub name: String,
    /// Envelopes per period (`None`: unlimited).
    pub envelopes_per_month: Option<i32>,
    /// Members.
    pub max_users: Option<i32>,
    /// Certificates.
    pub max_certificates: Option<i32>,
    /// Period start.
    pub period_start: DateTime<Utc>,
    /// Period end.
    pub period_end: DateTime<Utc>,
}

/// The organization's plan: its subscription's if active (a canceled one counts until its
/// period ends), else the free plan with the calendar month as period.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn current_plan(client: &impl GenericClient, org: Uuid) -> Result<CurrentPlan, PgError> {
    let now = Utc::now();
    let row = client
        .query_opt(
            // A downgrade takes effect when the period it was asked in ends.
            "SELECT p.code, p.name, p.envelopes_per_month, p.max_users, p.max_certificates, \
             s.current_period_start, s.current_period_end FROM subscriptions s JOIN plans p ON p.id = \
             CASE WHEN s.pending_plan_id IS NOT NULL AND s.current_period_end <= now() \
             THEN s.pending_plan_id ELSE s.plan_id END \
             WHERE s.organization_id = $1 AND (s.status IN ('active', 'trialing', 'past_due') \
             OR (s.status = 'canceled' AND s.current_period_end > now()))",
            &[&org],
        )
        .await?;
    let row = match row {
        Some(row) => row,
        None => {
            client
                .query_one(
                    "SELECT code, name, envelopes_per_month, max_users, max_certificates, \
                     NULL::timestamptz, NULL::timestamptz FROM plans WHERE code = 'free'",
                    &[],
                )
                .await?
        }
    };
    let (month_start, month_end) = calendar_month(now);
    let start: Option<DateTime<Utc>> = row.get(5);
    let end: Option<DateTime<Utc>> = row.get(6);
    let (period_start, period_end) = match (start, end) {
        (Some(start), Some(end)) if start <= now && now < end => (start, end),
        _ => (month_start, month_end),
    };
    Ok(CurrentPlan {
        code: row.get(0),
        name: row.get(1),
        envelopes_per_month: row.get(2),
        max_users: row.get(3),
        max_certificates: row.get(4),
        period_start,
        period_end,
    })
}

/// Records one `kind` of usage caused by `source` (once: a repeat changes nothing).
#[tracing::instrument(skip_all, fields(org = %org, source = %source))]
pub async fn record_usage(
    client: &impl GenericClient,
    org: Uuid,
    kind: UsageType,
    source: Uuid,
) -> Result<(), PgError> {
    client
        .execute(
            "INSERT INTO usage_records (organization_id, type, source_id) VALUES ($1, $2, $3) \
             ON CONFLICT (type, source_id) DO NOTHING",
            &[&org, &kind.as_str(), &source],
        )
        .await?;
    Ok(())
}

/// Whether one more of `limit` fits the organization's plan, checked under a per-organization
/// transaction lock so two concurrent actions cannot both take the last unit. Call it in the
/// transaction that then records the usage.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn check_quota(
    tx: &deadpool_postgres::Transaction<'_>,
    org: Uuid,
    limit: Limit,
) -> Result<Result<(), QuotaExceeded>, PgError> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('quota:' || $1::text, 0))",
        &[&org.to_string()],
    )
    .await?;
    let plan = current_plan(tx, org).await?;
    let (allowed, used, resets_at) = match limit {
        Limit::EnvelopesPerMonth => {
            let used: i64 = tx
                .query_one(
                    "SELECT COALESCE(sum(quantity), 0)::bigint FROM usage_records WHERE organization_id = $1 \
                     AND type = 'envelope' AND recorded_at >= $2 AND recorded_at < $3",
                    &[&org, &plan.period_start, &plan.period_end],
                )
                .await?
                .get(0);
            (plan.envelopes_per_month, used, Some(plan.period_end))
        }
        Limit::Users => {
            let used: i64 = tx
                .query_one(
                    "SELECT count(*) FROM users WHERE organization_id = $1 AND status IN ('invited', 'active')",
                    &[&org],
                )
                .await?
                .get(0);
            (plan.max_users, used, None)
        }
        Limit::Certificates => {
            let used: i64 = tx
                .query_one(
                    "SELECT count(*) FROM certificates WHERE organization_id = $1 AND purpose = 'signing' \
                     AND status <> 'revoked'",
                    &[&org],
                )
                .await?
                .get(0);
            (plan.max_certificates, used, None)
        }
    };
    Ok(match allowed {
        Some(allowed) if used >= i64::from(allowed) => Err(QuotaExceeded {
            limit,
            allowed: i64::from(allowed),
            used,
            plan: plan.code,
            resets_at,
        }),
        _ => Ok(()),
    })
}
