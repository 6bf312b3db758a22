//! The audit trail's DynamoDB table, read a page at a time (the system area's outbox writes
//! it): by organization, or through its `by-user` and `by-resource` indexes.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::query::QueryError;
use aws_sdk_dynamodb::types::AttributeValue;
use uuid::Uuid;

/// Which events a page holds.
#[derive(Debug, Clone)]
pub struct AuditFilter {
    /// The organization (the indexes span tenants: this keeps them apart).
    pub org: Uuid,
    /// The earliest sort key (an RFC 3339 time or a prefix of one).
    pub from: String,
    /// The latest sort key.
    pub to: String,
    /// The events of one member or one resource, or all of the organization's.
    pub about: AuditSubject,
    /// Only this action.
    pub action: Option<String>,
    /// At most this many items read.
    pub limit: i32,
    /// Where the previous page stopped (its last key's string attributes).
    pub start: Option<HashMap<String, String>>,
}

/// Whose events.
#[derive(Debug, Clone)]
pub enum AuditSubject {
    /// The whole organization's.
    Organization,
    /// One member's (the `by-user` index).
    User(Uuid),
    /// One resource's, by type and id (the `by-resource` index).
    Resource(String, String),
}

/// A page of events, newest first, as the API shows them.
#[derive(Debug)]
pub struct AuditPage {
    /// The events.
    pub events: Vec<serde_json::Value>,
    /// Where the next page starts (`None`: this was the last).
    pub next: Option<HashMap<String, String>>,
}

/// The page of `table` that `filter` selects.
#[tracing::instrument(skip_all, fields(org = %filter.org))]
pub async fn page(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    filter: &AuditFilter,
) -> Result<AuditPage, SdkError<QueryError>> {
    let org = filter.org.to_string();
    let start = filter.start.as_ref().map(|start| {
        start
            .iter()
            .map(|(k, v)| (k.clone(), AttributeValue::S(v.clone())))
            .collect()
    });
    let mut q = dynamodb
        .query()
        .table_name(table)
        .scan_index_forward(false)
        .limit(filter.limit)
        .expression_attribute_values(":from", AttributeValue::S(filter.from.clone()))
        .expression_attribute_values(":to", AttributeValue::S(filter.to.clone()))
        .set_exclusive_start_key(start);
    let mut filters = Vec::new();
    let (index, key, pk) = match &filter.about {
        AuditSubject::User(user) => (Some("by-user"), "user_pk", format!("USER#{user}")),
        AuditSubject::Resource(kind, id) => (
            Some("by-resource"),
            "resource_pk",
            format!("RES#{kind}#{id}"),
        ),
        AuditSubject::Organization => (None, "pk", format!("ORG#{org}")),
    };
    q = q
        .set_index_name(index.map(str::to_owned))
        .key_condition_expression(format!("{key} = :pk AND sk BETWEEN :from AND :to"))
        .expression_attribute_values(":pk", AttributeValue::S(pk));
    if index.is_some() {
        filters.push("organization_id = :org");
        q = q.expression_attribute_values(":org", AttributeValue::S(org));
    }
    if let Some(action) = &filter.action {
        filters.push("#action = :action");
        q = q
            .expression_attribute_names("#action", "action")
            .expression_attribute_values(":action", AttributeValue::S(action.clone()));
    }
    if !filters.is_empty() {
        q = q.filter_expression(filters.join(" AND "));
    }
    let out = q.send().await?;
    Ok(AuditPage {
        events: out.items().iter().map(event).collect(),
        next: out.last_evaluated_key().map(|key| {
            key.iter()
                .filter_map(|(k, v)| v.as_s().ok().map(|s| (k.clone(), s.clone())))
                .collect()
        }),
    })
}

/// A stored event as the API shows it: every member present, absent ones `null`.
fn event(item: &HashMap<String, AttributeValue>) -> serde_json::Value {
    let s = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
    serde_json::json!({
        "id": s("event_id"),
        "action": s("action"),
        "occurred_at": s("occurred_at"),
        "actor_user_id": s("actor_user_id"),
        "actor_api_key_id": s("actor_api_key_id"),
        "resource_type": s("resource_type"),
        "resource_id": s("resource_id"),
        "ip": s("ip"),
        "user_agent": s("user_agent"),
        "details": s("details").and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok()),
    })
}
