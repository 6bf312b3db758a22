//! The outbox's consumers and sweeper:
//!
//! - `sqs-record-audit-event`: audit events into the DynamoDB `audit_events` table, keyed for
//!   the seeds' access patterns (organization + time, user + time, resource + time); a
//!   conditional put on the event id makes redelivery harmless and nothing can overwrite an
//!   event;
//! - `sqs-send-email`: emails through SES v2 from the templates in `templates/email/`; an
//!   email already marked delivered is not sent again;
//! - `schedule-sweep-outbox`: publishes rows a crash left unpublished.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_dynamodb::types::AttributeValue;
use gsign_core::Env;
use gsign_platform::aws;
use gsign_platform::db::{self, DbConfig};
use gsign_platform::lambda::{
    each_message, FunctionSpec, Handler, InitFuture, InvokeError, InvokeHandler, MessageOutcome,
    SqsHandler,
};
use gsign_platform::outbox::{self, AuditEvent, Email, Kind, Message, Relay};

/// Audit events are kept seven years (seed 003's retention), then expire by TTL.
const AUDIT_RETENTION_DAYS: i64 = 7 * 366;

/// `sqs-record-audit-event`.
pub const RECORD_AUDIT_EVENT: FunctionSpec = FunctionSpec {
    name: "sqs-record-audit-event",
    init: init_audit,
};

/// `sqs-send-email`.
pub const SEND_EMAIL: FunctionSpec = FunctionSpec {
    name: "sqs-send-email",
    init: init_email,
};

/// `schedule-sweep-outbox`.
pub const SWEEP_OUTBOX: FunctionSpec = FunctionSpec {
    name: "schedule-sweep-outbox",
    init: init_sweep,
};

fn parse(body: Option<&str>, kind: Kind) -> Result<Message, String> {
    let message: Message = serde_json::from_str(body.unwrap_or_default())
        .map_err(|e| format!("not an outbox message: {e}"))?;
    if message.kind != kind {
        return Err(format!(
            "expected a {kind:?} message, got {:?}",
            message.kind
        ));
    }
    Ok(message)
}

/// The DynamoDB item of an audit event.
pub fn audit_item(message: &Message, event: &AuditEvent) -> HashMap<String, AttributeValue> {
    let at = message
        .created_at
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    let s = |v: String| AttributeValue::S(v);
    let mut item = HashMap::from([
        ("pk".to_owned(), s(format!("ORG#{}", event.organization_id))),
        ("sk".to_owned(), s(format!("{at}#{}", message.id))),
        ("event_id".to_owned(), s(message.id.to_string())),
        (
            "organization_id".to_owned(),
            s(event.organization_id.to_string()),
        ),
        ("action".to_owned(), s(event.action.clone())),
        ("resource_type".to_owned(), s(event.resource_type.clone())),
        ("resource_id".to_owned(), s(event.resource_id.clone())),
        (
            "resource_pk".to_owned(),
            s(format!("RES#{}#{}", event.resource_type, event.resource_id)),
        ),
        ("occurred_at".to_owned(), s(at)),
        ("details".to_owned(), s(event.details.to_string())),
        (
            "expires_at".to_owned(),
            AttributeValue::N(
                (message.created_at.timestamp() + AUDIT_RETENTION_DAYS * 86_400).to_string(),
            ),
        ),
    ]);
    if let Some(user) = event.actor_user_id {
        item.insert("actor_user_id".to_owned(), s(user.to_string()));
        item.insert("user_pk".to_owned(), s(format!("USER#{user}")));
    }
    if let Some(key) = event.actor_api_key_id {
        item.insert("actor_api_key_id".to_owned(), s(key.to_string()));
    }
    if let Some(ip) = &event.ip {
        item.insert("ip".to_owned(), s(ip.clone()));
    }
    if let Some(agent) = &event.user_agent {
        item.insert("user_agent".to_owned(), s(agent.clone()));
    }
    item
}

struct RecordAudit {
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
}

fn init_audit(env: Env) -> InitFuture {
    Box::pin(async move {
        let mut r = env.reader();
        let aws_config = aws::AwsConfig::read(&mut r);
        let table = r.required::<String>("AUDIT_EVENTS_TABLE");
        let (aws_config, table) = r.finish(|| Some((aws_config?, table?)))?;
        let sdk = aws::sdk_config(&aws_config).await;
        Ok(Handler::Sqs(Arc::new(RecordAudit {
            dynamodb: aws::dynamodb(&sdk),
            table,
        })))
    })
}

impl RecordAudit {
    async fn record(&self, body: Option<String>) -> MessageOutcome {
        let message = match parse(body.as_deref(), Kind::Audit) {
            Ok(message) => message,
            Err(reason) => return MessageOutcome::Rejected(reason),
        };
        let event: AuditEvent = match serde_json::from_value(message.payload.clone()) {
            Ok(event) => event,
            Err(err) => return MessageOutcome::Rejected(format!("not an audit event: {err}")),
        };
        let put = self
            .dynamodb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(audit_item(&message, &event)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => MessageOutcome::Done,
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                // Recorded by an earlier delivery.
                MessageOutcome::Done
            }
            Err(err) => MessageOutcome::Retry(anyhow::anyhow!(
                "{}",
                aws_sdk_dynamodb::error::DisplayErrorContext(&err)
            )),
        }
    }
}

#[async_trait]
impl SqsHandler for RecordAudit {
    async fn handle(&self, event: SqsEvent) -> Result<SqsBatchResponse, InvokeError> {
        Ok(each_message(event, |m| self.record(m.body)).await)
    }
}

/// A rendered email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body (values auto-escaped).
    pub html: String,
}

/// The templates, compiled into the binary.
fn templates() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            minijinja::AutoEscape::Html
        } else {
            minijinja::AutoEscape::None
        }
    });
    macro_rules! add {
        ($($name:literal),*) => {
            $(
                let _ = env.add_template(concat!($name, ".subject.txt"), include_str!(concat!("../templates/email/", $name, ".subject.txt")));
                let _ = env.add_template(concat!($name, ".txt"), include_str!(concat!("../templates/email/", $name, ".txt")));
                let _ = env.add_template(concat!($name, ".html"), include_str!(concat!("../templates/email/", $name, ".html")));
            )*
        };
    }
    add!(
        "account_exists",
        "verify_email",
        "password_reset",
        "invitation",
        "invitation_account_exists",
        "signing_request",
        "envelope_declined",
        "envelope_voided",
        "envelope_expired",
        "envelope_completed",
        "webhook_disabled"
    );
    env
}

/// Renders `email` with its template; an unknown template or a missing variable is an error.
pub fn render(email: &Email) -> Result<Rendered, String> {
    let env = templates();
    let render = |suffix: &str| {
        env.get_template(&format!("{}.{suffix}", email.template))
            .and_then(|t| t.render(&email.data))
            .map_err(|e| format!("template {}: {e}", email.template))
    };
    Ok(Rendered {
        subject: render("subject.txt")?.trim().to_owned(),
        text: render("txt")?,
        html: render("html")?,
    })
}

struct SendEmail {
    pool: deadpool_postgres::Pool,
    ses: aws_sdk_sesv2::Client,
    from: String,
}

fn init_email(env: Env) -> InitFuture {
    Box::pin(async move {
        let mut r = env.reader();
        let db = DbConfig::read(&mut r);
        let aws_config = aws::AwsConfig::read(&mut r);
        let from = r.required::<String>("EMAIL_FROM");
        let (db, aws_config, from) = r.finish(|| Some((db?, aws_config?, from?)))?;
        let sdk = aws::sdk_config(&aws_config).await;
        Ok(Handler::Sqs(Arc::new(SendEmail {
            pool: db::pool(&db).map_err(anyhow::Error::from)?,
            ses: aws::sesv2(&sdk),
            from,
        })))
    })
}

impl SendEmail {
    async fn send(&self, body: Option<String>) -> MessageOutcome {
        let message = match parse(body.as_deref(), Kind::Email) {
            Ok(message) => message,
            Err(reason) => return MessageOutcome::Rejected(reason),
        };
        let email: Email = match serde_json::from_value(message.payload.clone()) {
            Ok(email) => email,
            Err(err) => return MessageOutcome::Rejected(format!("not an email: {err}")),
        };
        let rendered = match render(&email) {
            Ok(rendered) => rendered,
            Err(reason) => return MessageOutcome::Rejected(reason),
        };
        match self.deliver(&message, &email, &rendered).await {
            Ok(()) => MessageOutcome::Done,
            Err(err) => MessageOutcome::Retry(err),
        }
    }

    async fn deliver(
        &self,
        message: &Message,
        email: &Email,
        rendered: &Rendered,
    ) -> anyhow::Result<()> {
        let client = self.pool.get().await?;
        let delivered: Option<bool> = client
            .query_opt(
                "SELECT delivered_at IS NOT NULL FROM outbox WHERE id = $1",
                &[&message.id],
            )
            .await?
            .map(|row| row.get(0));
        if delivered == Some(true) {
            return Ok(());
        }
        use aws_sdk_sesv2::types::{
            Body, Content, Destination, EmailContent, Message as SesMessage,
        };
        let content = |text: &str| Content::builder().data(text).charset("UTF-8").build();
        self.ses
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(
                EmailContent::builder()
                    .simple(
                        SesMessage::builder()
                            .subject(content(&rendered.subject)?)
                            .body(
                                Body::builder()
                                    .text(content(&rendered.text)?)
                                    .html(content(&rendered.html)?)
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", aws_sdk_sesv2::error::DisplayErrorContext(&e)))?;
        // Sent first, marked second: a crash in between sends twice rather than never. The
        // mail's data (its links carry raw tokens) is not kept once it was handed to SES.
        client
            .execute(
                "UPDATE outbox SET delivered_at = now(), payload = payload - 'data' WHERE id = $1",
                &[&message.id],
            )
            .await?;
        Ok(())
    }
}

#[async_trait]
impl SqsHandler for SendEmail {
    async fn handle(&self, event: SqsEvent) -> Result<SqsBatchResponse, InvokeError> {
        Ok(each_message(event, |m| self.send(m.body)).await)
    }
}

/// The sweeper's clients.
pub struct Sweeper {
    pool: deadpool_postgres::Pool,
    relay: Relay,
    grace: Duration,
    retention: Retention,
}

/// How long the sweeper keeps what is no longer needed.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// `OUTBOX_RETENTION_DAYS` (7): published outbox rows are deleted after this.
    pub outbox_days: i32,
    /// `UNVERIFIED_ACCOUNT_TTL_DAYS` (7): registrations never verified and invitations never
    /// accepted are deleted after this.
    pub unverified_days: i32,
}

/// What one purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Purged {
    /// Published outbox rows past their retention.
    pub outbox_rows: u64,
    /// Expired `Idempotency-Key` records.
    pub idempotency_records: u64,
    /// Organizations whose only account registered and never verified its address.
    pub unverified_registrations: u64,
    /// Invitations never accepted.
    pub stale_invitations: u64,
}

impl Sweeper {
    /// Deletes, in bounded batches, what no longer needs keeping: published outbox rows
    /// (their raw links and payloads), expired idempotency records, registrations never
    /// verified and invitations never accepted.
    pub async fn purge(&self) -> anyhow::Result<Purged> {
        let client = self.pool.get().await?;
        let outbox_rows = client
            .execute(
                "DELETE FROM outbox WHERE id IN (
                   SELECT id FROM outbox WHERE published_at < now() - make_interval(days => $1) LIMIT 5000)",
                &[&self.retention.outbox_days],
            )
            .await?;
        let idempotency_records = client
            .execute(
                "DELETE FROM idempotency_records WHERE (scope, key) IN (
                   SELECT scope, key FROM idempotency_records WHERE expires_at < now() LIMIT 5000)",
                &[],
            )
            .await?;
        // An organization whose every account is an owner that never verified its address
        // nor signed in: a registration nobody confirmed. Deleting it removes its rows.
        let unverified_registrations = client
            .execute(
                "DELETE FROM organizations o WHERE o.id IN (
                   SELECT u.organization_id FROM users u
                    GROUP BY u.organization_id
                   HAVING bool_and(u.email_verified_at IS NULL AND u.last_login_at IS NULL
                                   AND u.created_at < now() - make_interval(days => $1))
                    LIMIT 1000)",
                &[&self.retention.unverified_days],
            )
            .await?;
        let stale_invitations = client
            .execute(
                "DELETE FROM users WHERE id IN (
                   SELECT id FROM users WHERE status = 'invited'
                      AND created_at < now() - make_interval(days => $1) LIMIT 1000)",
                &[&self.retention.unverified_days],
            )
            .await?;
        let purged = Purged {
            outbox_rows,
            idempotency_records,
            unverified_registrations,
            stale_invitations,
        };
        if purged != Purged::default() {
            tracing::info!(?purged, "purged what is no longer kept");
        }
        Ok(purged)
    }
}

fn init_sweep(env: Env) -> InitFuture {
    Box::pin(async move {
        let mut r = env.reader();
        let db = DbConfig::read(&mut r);
        let aws_config = aws::AwsConfig::read(&mut r);
        let audit_queue = r.required::<String>("AUDIT_QUEUE_URL");
        let email_queue = r.required::<String>("EMAIL_QUEUE_URL");
        let signing_queue = r.required::<String>("SIGNING_QUEUE_URL");
        let webhook_queue = r.required::<String>("WEBHOOK_EVENTS_QUEUE_URL");
        let grace = Duration::from_secs(r.or("OUTBOX_SWEEP_GRACE_SECONDS", 30u64));
        let retention = Retention {
            outbox_days: r.or("OUTBOX_RETENTION_DAYS", 7i32),
            unverified_days: r.or("UNVERIFIED_ACCOUNT_TTL_DAYS", 7i32),
        };
        let (db, aws_config, audit_queue, email_queue, signing_queue, webhook_queue) =
            r.finish(|| {
                Some((
                    db?,
                    aws_config?,
                    audit_queue?,
                    email_queue?,
                    signing_queue?,
                    webhook_queue?,
                ))
            })?;
        let sdk = aws::sdk_config(&aws_config).await;
        Ok(Handler::Invoke(Arc::new(Sweeper {
            pool: db::pool(&db).map_err(anyhow::Error::from)?,
            relay: Relay::new(aws::sqs(&sdk), audit_queue, email_queue)
                .with_signing_queue(Some(signing_queue))
                .with_webhook_queue(Some(webhook_queue)),
            grace,
            retention,
        })))
    })
}

#[async_trait]
impl InvokeHandler for Sweeper {
    async fn handle(&self, _event: serde_json::Value) -> Result<serde_json::Value, InvokeError> {
        // Rows younger than the grace period are still being published by their request.
        // At most ten batches a run; a batch with failures ends the run (the next minute's
        // sweep retries them), so a broken queue is not hammered.
        let mut total = outbox::Batch::default();
        for _ in 0..10 {
            let batch = self.relay.sweep(&self.pool, self.grace).await?;
            total.published += batch.published;
            total.failed += batch.failed;
            if batch.selected < 100 || batch.failed > 0 {
                break;
            }
        }
        if total.published > 0 {
            tracing::warn!(
                published = total.published,
                "swept outbox rows left unpublished"
            );
        }
        let purged = self.purge().await?;
        Ok(serde_json::json!({
            "published": total.published,
            "failed": total.failed,
            "purged": purged,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(template: &str, data: serde_json::Value) -> Email {
        Email {
            template: template.to_owned(),
            to: "ana@example.com".to_owned(),
            data,
        }
    }

    #[test]
    fn every_template_renders_and_html_values_are_escaped() {
        let data = serde_json::json!({
            "first_name": "<b>Батбаяр</b>",
            "organization_name": "Acme & Sons",
            "link": "https://app.example/verify?token=abc",

            "reset_link": "https://app.example/reset-password",
            "inviter": "Ana",
            "role": "member",
            "recipient_name": "Батбаяр Өлзий",
            "sender": "Ana",
            "envelope_name": "Түрээсийн гэрээ",
            "action": "sign",
            "message": "Please sign by Friday.",
            "expires_on": "2027-03-28",
            "recipient_email": "bat@example.mn",
            "reason": "Wrong amount",
            "final_sha256": "ab".repeat(32),
        });
        for template in [
            "account_exists",
            "verify_email",
            "password_reset",
            "invitation",
            "signing_request",
            "envelope_declined",
            "envelope_expired",
            "envelope_completed",
        ] {
            let rendered = render(&email(template, data.clone())).expect(template);
            assert!(!rendered.subject.is_empty() && !rendered.subject.contains('\n'));
            assert!(
                rendered
                    .text
                    .contains("https://app.example/verify?token=abc"),
                "{template}"
            );
        }
        // The invitation to an address with an account elsewhere has no link: it cannot be
        // accepted with that address.
        let blocked = render(&email("invitation_account_exists", data.clone()))
            .expect("invitation_account_exists");
        assert!(blocked.text.contains("Acme & Sons") && !blocked.text.contains("token="));
        assert!(blocked.html.contains("Acme &amp; Sons"));
        // The voided notice has no link: nothing is left to open.
        let voided = render(&email("envelope_voided", data.clone())).expect("envelope_voided");
        assert!(voided.text.contains("Wrong amount") && voided.html.contains("Түрээсийн гэрээ"));
        let verify = render(&email("verify_email", data)).expect("renders");
        assert!(
            verify.html.contains("&lt;b&gt;Батбаяр&lt;&#x2f;b&gt;")
                || verify.html.contains("&lt;b&gt;Батбаяр&lt;/b&gt;"),
            "{}",
            verify.html
        );
        assert!(
            verify.text.contains("<b>Батбаяр</b>"),
            "plain text is not escaped"
        );
    }

    #[test]
    fn unknown_templates_and_missing_variables_are_refused() {
        assert!(render(&email("nope", serde_json::json!({}))).is_err());
        assert!(
            render(&email("password_reset", serde_json::json!({}))).is_err(),
            "link missing"
        );
    }
}
