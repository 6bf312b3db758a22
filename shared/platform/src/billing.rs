//! Usage and quotas in Postgres (seed 000's `plans`, `subscriptions`, `usage_records`): the
//! organization's plan and period, usage written once per cause in the caller's transaction,
//! and the quota check every limited action makes in that same transaction.

use chrono::{DateTime, Utc};
use gsign_core::billing::{calendar_month, Limit, QuotaExceeded, UsageType};
use uuid::Uuid;

use crate::database::{DbError, Session};
use crate::params;

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
pub async fn current_plan(db: &(impl Session + ?Sized), org: Uuid) -> Result<CurrentPlan, DbError> {
    let now = Utc::now();
    let row = db
        .fetch_optional(
            // A downgrade takes effect when the period it was asked in ends.
            "SELECT p.code, p.name, p.envelopes_per_month, p.max_users, p.max_certificates, \
             s.current_period_start AS period_start, s.current_period_end AS period_end \
             FROM subscriptions s JOIN plans p ON p.id = \
             CASE WHEN s.pending_plan_id IS NOT NULL AND s.current_period_end <= now() \
             THEN s.pending_plan_id ELSE s.plan_id END \
             WHERE s.organization_id = :org AND (s.status IN ('active', 'trialing', 'past_due') \
             OR (s.status = 'canceled' AND s.current_period_end > now()))",
            params!(org),
        )
        .await?;
    let row = match row {
        Some(row) => row,
        None => {
            db.fetch_one(
                "SELECT code, name, envelopes_per_month, max_users, max_certificates, \
                 NULL::timestamptz AS period_start, NULL::timestamptz AS period_end \
                 FROM plans WHERE code = 'free'",
                params!(),
            )
            .await?
        }
    };
    let (month_start, month_end) = calendar_month(now);
    let start: Option<DateTime<Utc>> = row.get("period_start")?;
    let end: Option<DateTime<Utc>> = row.get("period_end")?;
    let (period_start, period_end) = match (start, end) {
        (Some(start), Some(end)) if start <= now && now < end => (start, end),
        _ => (month_start, month_end),
    };
    Ok(CurrentPlan {
        code: row.get("code")?,
        name: row.get("name")?,
        envelopes_per_month: row.get("envelopes_per_month")?,
        max_users: row.get("max_users")?,
        max_certificates: row.get("max_certificates")?,
        period_start,
        period_end,
    })
}

/// Records one `kind` of usage caused by `source` (once: a repeat changes nothing).
#[tracing::instrument(skip_all, fields(org = %org, source = %source))]
pub async fn record_usage(
    db: &(impl Session + ?Sized),
    org: Uuid,
    kind: UsageType,
    source: Uuid,
) -> Result<(), DbError> {
    db.run(
        "INSERT INTO usage_records (organization_id, type, source_id) \
         VALUES (:org, :kind, :source) ON CONFLICT (type, source_id) DO NOTHING",
        params!(org, kind = kind.as_str(), source),
    )
    .await?;
    Ok(())
}

/// Whether one more of `limit` fits the organization's plan, checked under a per-organization
/// transaction lock so two concurrent actions cannot both take the last unit. Call it in the
/// transaction that then records the usage.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn check_quota(
    tx: &(impl Session + ?Sized),
    org: Uuid,
    limit: Limit,
) -> Result<Result<(), QuotaExceeded>, DbError> {
    tx.run(
        "SELECT pg_advisory_xact_lock(hashtextextended('quota:' || :org::text, 0))",
        params!(org = org.to_string()),
    )
    .await?;
    let plan = current_plan(tx, org).await?;
    let (allowed, used, resets_at) = match limit {
        Limit::EnvelopesPerMonth => {
            let used: i64 = tx
                .fetch_one(
                    "SELECT COALESCE(sum(quantity), 0)::bigint AS used FROM usage_records \
                     WHERE organization_id = :org AND type = 'envelope' \
                     AND recorded_at >= :start AND recorded_at < :end",
                    params!(org, start = plan.period_start, end = plan.period_end),
                )
                .await?
                .get("used")?;
            (plan.envelopes_per_month, used, Some(plan.period_end))
        }
        Limit::Users => {
            let used: i64 = tx
                .fetch_one(
                    "SELECT count(*) AS used FROM users WHERE organization_id = :org \
                     AND status IN ('invited', 'active')",
                    params!(org),
                )
                .await?
                .get("used")?;
            (plan.max_users, used, None)
        }
        Limit::Certificates => {
            let used: i64 = tx
                .fetch_one(
                    "SELECT count(*) AS used FROM certificates WHERE organization_id = :org \
                     AND purpose = 'signing' AND status <> 'revoked'",
                    params!(org),
                )
                .await?
                .get("used")?;
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
