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
use gsign_platform::database::{Database, Session};
use gsign_platform::db::{self, DbConfig};
use gsign_platform::lambda::{
    each_message, FunctionSpec, Handler, InitFuture, InvokeError, InvokeHandler, MessageOutcome,
    SqsHandler,
};
use gsign_platform::outbox::{self, AuditEvent, Email, Kind, Message, Relay};

use crate::store::{self, Gauges, Purged, Retention};
use secrecy::ExposeSecret as _;

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
    #[tracing::instrument(skip_all)]
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

/// Every template, in every language (`templates/email/` is English, `templates/email/mn/`
/// Mongolian).
macro_rules! email_templates {
    ($($name:literal),* $(,)?) => {
        /// Template names.
        pub const TEMPLATE_NAMES: &[&str] = &[$($name),*];

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
            $(
                let _ = env.add_template(concat!("en/", $name, ".subject.txt"), include_str!(concat!("../../templates/email/", $name, ".subject.txt")));
                let _ = env.add_template(concat!("en/", $name, ".txt"), include_str!(concat!("../../templates/email/", $name, ".txt")));
                let _ = env.add_template(concat!("en/", $name, ".html"), include_str!(concat!("../../templates/email/", $name, ".html")));
                let _ = env.add_template(concat!("mn/", $name, ".subject.txt"), include_str!(concat!("../../templates/email/mn/", $name, ".subject.txt")));
                let _ = env.add_template(concat!("mn/", $name, ".txt"), include_str!(concat!("../../templates/email/mn/", $name, ".txt")));
                let _ = env.add_template(concat!("mn/", $name, ".html"), include_str!(concat!("../../templates/email/mn/", $name, ".html")));
            )*
            env
        }
    };
}

email_templates!(
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
    "recipient_mail_bounced",
    "webhook_disabled",
);

/// Mail a person needs to reach their account: sent even to an address the organization
/// suppressed (SES's own account-level list still protects the sender's reputation).
const ACCOUNT_ACCESS_TEMPLATES: &[&str] = &["verify_email", "password_reset"];

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

/// Renders `email` with its template in its language (English unless `mn`); an unknown
/// template or a missing variable is an error.
pub fn render(email: &Email) -> Result<Rendered, String> {
    let env = templates();
    let language = match email.language.as_deref() {
        Some("mn") => "mn",
        _ => "en",
    };
    let render = |suffix: &str| {
        env.get_template(&format!("{language}/{}.{suffix}", email.template))
            .and_then(|t| t.render(&email.data))
            .map_err(|e| format!("template {}: {e}", email.template))
    };
    Ok(Rendered {
        subject: render("subject.txt")?.trim().to_owned(),
        text: render("txt")?,
        html: render("html")?,
    })
}

/// The SES message tags a mail carries, so its delivery events find what it was for (tag
/// values allow letters, digits, `_`, `-` and `.`: ids and template names only).
pub fn message_tags(message: &Message, email: &Email) -> Vec<(&'static str, String)> {
    let mut tags = vec![
        ("gsign-outbox", message.id.to_string()),
        ("gsign-template", email.template.clone()),
    ];
    if let Some(org) = message.organization_id {
        tags.push(("gsign-organization", org.to_string()));
    }
    if let Some(envelope) = email.envelope_id {
        tags.push(("gsign-envelope", envelope.to_string()));
    }
    if let Some(recipient) = email.recipient_id {
        tags.push(("gsign-recipient", recipient.to_string()));
    }
    tags
}

struct SendEmail {
    db: Database,
    ses: aws_sdk_sesv2::Client,
    from: String,
    /// SES configuration set publishing delivery events (`EMAIL_CONFIGURATION_SET`).
    configuration_set: Option<String>,
    /// Where a one-click unsubscribe is posted (`{APP_URL}/v1/mail/unsubscribe`).
    unsubscribe_url: Option<String>,
}

fn init_email(env: Env) -> InitFuture {
    Box::pin(async move {
        let mut r = env.reader();
        let db = DbConfig::read(&mut r);
        let aws_config = aws::AwsConfig::read(&mut r);
        let from = r.required::<String>("EMAIL_FROM");
        let configuration_set = r.optional::<String>("EMAIL_CONFIGURATION_SET");
        let app_url = r.optional::<String>("APP_URL");
        let (db, aws_config, from) = r.finish(|| Some((db?, aws_config?, from?)))?;
        let sdk = aws::sdk_config(&aws_config).await;
        Ok(Handler::Sqs(Arc::new(SendEmail {
            db: db::database(&db, &sdk).map_err(anyhow::Error::from)?,
            ses: aws::sesv2(&sdk),
            from,
            configuration_set: configuration_set.filter(|s| !s.is_empty()),
            unsubscribe_url: app_url
                .filter(|s| !s.is_empty())
                .map(|url| format!("{}/v1/mail/unsubscribe", url.trim_end_matches('/'))),
        })))
    })
}

impl SendEmail {
    #[tracing::instrument(skip_all)]
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

    #[tracing::instrument(skip_all)]
    async fn deliver(
        &self,
        message: &Message,
        email: &Email,
        rendered: &Rendered,
    ) -> anyhow::Result<()> {
        let client = self.db.connect().await?;
        if store::mail_delivered(&client, message.id).await? {
            return Ok(());
        }
        let suppressed = match message.organization_id {
            Some(org) if !ACCOUNT_ACCESS_TEMPLATES.contains(&email.template.as_str()) => {
                store::suppression_reason(&client, org, &email.to).await?
            }
            _ => None,
        };
        let unsubscribe = (email.bulk && suppressed.is_none())
            .then_some(self.unsubscribe_url.as_ref())
            .flatten()
            .map(|url| (url, gsign_platform::credentials::new_token()));
        // The row SES's events come back to, before SES has the mail (an event may beat
        // the update below). A redelivered message sends again and keeps the newest id. What
        // it was for may be gone meanwhile (a registration purged, a draft deleted): the mail
        // still goes, its record just names less.
        store::record_mail(
            &client,
            &store::NewMail {
                id: message.id,
                organization: message.organization_id,
                envelope: email.envelope_id,
                recipient: email.recipient_id,
                template: &email.template,
                to: &email.to,
                suppressed: suppressed.is_some(),
                unsubscribe_token_hash: unsubscribe.as_ref().map(|(_, token)| token.hash.as_str()),
            },
        )
        .await?;
        if let Some(reason) = suppressed {
            return not_mailed(&client, message, email, &reason).await;
        }
        let ses_message_id = self
            .send_to_ses(message, email, rendered, unsubscribe)
            .await?;
        // Sent first, marked second: a crash in between sends twice rather than never.
        mailed(&client, message, email, ses_message_id.as_deref()).await
    }

    /// Hands the rendered mail to SES (with RFC 8058 one-click unsubscribe headers when
    /// `unsubscribe` is given); SES's message id.
    #[tracing::instrument(skip_all)]
    async fn send_to_ses(
        &self,
        message: &Message,
        email: &Email,
        rendered: &Rendered,
        unsubscribe: Option<(&String, gsign_platform::credentials::NewToken)>,
    ) -> anyhow::Result<Option<String>> {
        use aws_sdk_sesv2::types::{
            Body, Content, Destination, EmailContent, Message as SesMessage, MessageHeader,
            MessageTag,
        };
        let content = |text: &str| Content::builder().data(text).charset("UTF-8").build();
        let mut ses_message = SesMessage::builder()
            .subject(content(&rendered.subject)?)
            .body(
                Body::builder()
                    .text(content(&rendered.text)?)
                    .html(content(&rendered.html)?)
                    .build(),
            );
        if let Some((url, token)) = &unsubscribe {
            // RFC 8058 one-click: mail clients POST `List-Unsubscribe=One-Click` to the URL.
            ses_message = ses_message
                .headers(
                    MessageHeader::builder()
                        .name("List-Unsubscribe")
                        .value(format!("<{url}?token={}>", token.secret.expose_secret()))
                        .build()?,
                )
                .headers(
                    MessageHeader::builder()
                        .name("List-Unsubscribe-Post")
                        .value("List-Unsubscribe=One-Click")
                        .build()?,
                );
        }
        let mut request = self
            .ses
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(EmailContent::builder().simple(ses_message.build()).build())
            .set_configuration_set_name(self.configuration_set.clone());
        for (name, value) in message_tags(message, email) {
            request = request.email_tags(MessageTag::builder().name(name).value(value).build()?);
        }
        let sent = request
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", aws_sdk_sesv2::error::DisplayErrorContext(&e)))?;
        Ok(sent.message_id)
    }
}

/// A mail the organization suppressed: its recipient's mail state says so, and its outbox
/// row is delivered without sending.
#[tracing::instrument(skip_all)]
async fn not_mailed(
    client: &(impl Session + ?Sized),
    message: &Message,
    email: &Email,
    reason: &str,
) -> anyhow::Result<()> {
    tracing::info!(outbox = %message.id, template = email.template, %reason,
        "not mailed: the organization suppressed this address");
    if let Some(recipient) = email.recipient_id {
        store::mark_recipient(client, recipient, &email.to, "suppressed", Some(reason)).await?;
    }
    store::outbox_delivered(client, message.id).await?;
    Ok(())
}

/// A mail SES took (as `ses_message_id`): marked sent, its recipient's mail state started
/// over, its outbox row delivered. The mail's data (its links carry raw tokens) is not kept
/// once it was handed to SES.
#[tracing::instrument(skip_all)]
async fn mailed(
    client: &(impl Session + ?Sized),
    message: &Message,
    email: &Email,
    ses_message_id: Option<&str>,
) -> anyhow::Result<()> {
    store::mail_sent(client, message.id, ses_message_id).await?;
    if let Some(recipient) = email.recipient_id {
        // A recipient's newest mail went out: their mail state starts over, unless the
        // address was corrected meanwhile.
        store::mark_recipient(client, recipient, &email.to, "sent", None).await?;
    }
    store::outbox_delivered(client, message.id).await?;
    Ok(())
}

#[async_trait]
impl SqsHandler for SendEmail {
    async fn handle(&self, event: SqsEvent) -> Result<SqsBatchResponse, InvokeError> {
        Ok(each_message(event, |m| self.send(m.body)).await)
    }
}

/// The sweeper's clients.
pub struct Sweeper {
    db: Database,
    relay: Relay,
    grace: Duration,
    retention: Retention,
}

impl Sweeper {
    /// Deletes, in bounded batches, what no longer needs keeping: published outbox rows
    /// (their raw links and payloads), expired idempotency records, registrations never
    /// verified, invitations never accepted and records of mails sent 90 days ago.
    #[tracing::instrument(skip_all)]
    pub async fn purge(&self) -> anyhow::Result<Purged> {
        let session = self.db.connect().await?;
        let purged = store::purge(&session, &self.retention).await?;
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
        let envelope_events_queue = r.required::<String>("ENVELOPE_EVENTS_QUEUE_URL");
        let grace = Duration::from_secs(r.or("OUTBOX_SWEEP_GRACE_SECONDS", 30u64));
        let retention = Retention {
            outbox_days: r.or("OUTBOX_RETENTION_DAYS", 7i32),
            unverified_days: r.or("UNVERIFIED_ACCOUNT_TTL_DAYS", 7i32),
        };
        let (db, aws_config, queues) = r.finish(|| {
            Some((
                db?,
                aws_config?,
                (
                    audit_queue?,
                    email_queue?,
                    signing_queue?,
                    webhook_queue?,
                    envelope_events_queue?,
                ),
            ))
        })?;
        let (audit_queue, email_queue, signing_queue, webhook_queue, envelope_events_queue) =
            queues;
        let sdk = aws::sdk_config(&aws_config).await;
        Ok(Handler::Invoke(Arc::new(Sweeper {
            db: db::database(&db, &sdk).map_err(anyhow::Error::from)?,
            relay: Relay::new(aws::sqs(&sdk), audit_queue, email_queue)
                .with_signing_queue(Some(signing_queue))
                .with_webhook_queue(Some(webhook_queue))
                .with_envelope_events_queue(Some(envelope_events_queue)),
            grace,
            retention,
        })))
    })
}

impl Sweeper {
    /// Measures [`Gauges`] and emits them as metrics (`OutboxRowsWaiting`, `SigningStalled`).
    #[tracing::instrument(skip_all)]
    pub async fn gauges(&self) -> Result<Gauges, InvokeError> {
        let session = self.db.connect().await?;
        let gauges = store::gauges(&session, self.grace).await?;
        gsign_platform::telemetry::metric(
            "OutboxRowsWaiting",
            gauges.outbox_rows_waiting as f64,
            "Count",
        );
        gsign_platform::telemetry::metric("SigningStalled", gauges.signing_stalled as f64, "Count");
        Ok(gauges)
    }
}

#[async_trait]
impl InvokeHandler for Sweeper {
    async fn handle(&self, _event: serde_json::Value) -> Result<serde_json::Value, InvokeError> {
        // Rows younger than the grace period are still being published by their request.
        // At most ten batches a run; a batch with failures ends the run (the next minute's
        // sweep retries them), so a broken queue is not hammered.
        let mut total = outbox::Batch::default();
        for _ in 0..10 {
            let batch = self.relay.sweep(&self.db, self.grace).await?;
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
        let gauges = self.gauges().await?;
        Ok(serde_json::json!({
            "published": total.published,
            "failed": total.failed,
            "purged": purged,
            "waiting": gauges.outbox_rows_waiting,
            "signing_stalled": gauges.signing_stalled,
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
            ..Default::default()
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
            "reminder": 2,
            "diagnostic": "smtp; 550 5.1.1 user unknown",
            "url": "https://hooks.example/gsign",
            "endpoint_id": "00000000-0000-4000-8000-000000000001",
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
            "recipient_mail_bounced",
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
    fn every_template_speaks_mongolian_with_the_same_variables() {
        let mut data = serde_json::json!({
            "first_name": "Батбаяр",
            "organization_name": "Говь Трейд ХХК",
            "link": "https://app.example/sign?token=abc",
            "reset_link": "https://app.example/reset-password",
            "inviter": "Ана",
            "role": "admin",
            "recipient_name": "Батбаяр Өлзий",
            "sender": "Ана",
            "envelope_name": "Түрээсийн гэрээ",
            "action": "approve",
            "message": null,
            "reminder": null,
            "expires_on": "",
            "recipient_email": "bat@example.mn",
            "reason": "Дүн буруу",
            "final_sha256": "ab".repeat(32),
            "diagnostic": "smtp; 550 5.1.1 user unknown",
            "url": "https://hooks.example/gsign",
            "endpoint_id": "00000000-0000-4000-8000-000000000001",
        });
        for action in ["sign", "approve", "review"] {
            data["action"] = serde_json::json!(action);
            for &template in TEMPLATE_NAMES {
                let mut mail = email(template, data.clone());
                let english = render(&mail).expect(template);
                mail.language = Some("mn".to_owned());
                let mongolian = render(&mail).unwrap_or_else(|e| panic!("mn {template}: {e}"));
                assert_ne!(english.text, mongolian.text, "{template} is translated");
                assert!(
                    mongolian.html.contains("lang=\"mn\""),
                    "{template}: {}",
                    mongolian.html
                );
                // English words passed as values are never shown raw in Mongolian mail.
                for raw in [" sign ", " approve ", " review ", " admin "] {
                    assert!(!mongolian.subject.contains(raw), "{template}: {raw}");
                    assert!(!mongolian.text.contains(raw), "{template}: {raw}");
                }
                // The same links in both.
                for link in [
                    "https://app.example/sign?token=abc",
                    "https://app.example/reset-password",
                ] {
                    assert_eq!(
                        english.text.contains(link),
                        mongolian.text.contains(link),
                        "{template}: {link}"
                    );
                }
            }
        }
        // A language GSign does not write falls back to English.
        let mut mail = email("verify_email", data);
        mail.language = Some("de".to_owned());
        assert!(render(&mail).expect("en").html.contains("lang=\"en\""));
    }

    #[test]
    fn message_tags_name_what_the_mail_is_for() {
        let message = Message {
            id: uuid::Uuid::new_v4(),
            kind: Kind::Email,
            organization_id: Some(uuid::Uuid::new_v4()),
            payload: serde_json::json!({}),
            created_at: chrono::Utc::now(),
        };
        let mut mail = email("signing_request", serde_json::json!({}));
        mail.envelope_id = Some(uuid::Uuid::new_v4());
        mail.recipient_id = Some(uuid::Uuid::new_v4());
        let tags = message_tags(&message, &mail);
        assert!(tags.contains(&("gsign-outbox", message.id.to_string())));
        assert!(tags.contains(&(
            "gsign-recipient",
            mail.recipient_id.expect("set").to_string()
        )));
        // SES allows letters, digits, `_`, `-` and `.` in tag names and values.
        for (name, value) in tags {
            for text in [name, value.as_str()] {
                assert!(
                    !text.is_empty()
                        && text.len() <= 256
                        && text
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)),
                    "{text}"
                );
            }
        }
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
