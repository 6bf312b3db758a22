//! Mail feedback (issue #25): what SES says happened to a mail GSign sent, read from the
//! event notifications a configuration set publishes, and the rules for what each changes.
//!
//! SES publishes one JSON document per event (`eventType`: `Send`, `Delivery`, `Bounce`,
//! `Complaint`, `Reject`, `DeliveryDelay`, …) with the mail's `messageId` and the message tags
//! it was sent with; through SNS it arrives wrapped in a notification (`Type`,
//! `Message`), or bare with raw message delivery. Both are read here. The older identity
//! notifications (`notificationType`) have the same shape and are read too.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::FieldError;

/// What became of a mail, from SES's events; ordered so that a later, stronger verdict
/// replaces a weaker one and never the reverse (a delivery arriving after its complaint does
/// not hide the complaint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MailStatus {
    /// Handed to SES.
    Sent,
    /// SES is still trying (a soft bounce or a delay); it retries by itself.
    Delayed,
    /// The receiving server accepted it.
    Delivered,
    /// SES refused it (a virus, say): it never left.
    Rejected,
    /// The receiving server refused it for good.
    Bounced,
    /// The person marked it as spam.
    Complained,
}

impl MailStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MailStatus::Sent => "sent",
            MailStatus::Delayed => "delayed",
            MailStatus::Delivered => "delivered",
            MailStatus::Rejected => "rejected",
            MailStatus::Bounced => "bounced",
            MailStatus::Complained => "complained",
        }
    }

    /// The status named `text`.
    pub fn parse(text: &str) -> Option<Self> {
        [
            MailStatus::Sent,
            MailStatus::Delayed,
            MailStatus::Delivered,
            MailStatus::Rejected,
            MailStatus::Bounced,
            MailStatus::Complained,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// The kind of an SES event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailEventKind {
    /// SES accepted the mail.
    Send,
    /// Delivered to the receiving server.
    Delivery,
    /// Bounced: `permanent` for a hard bounce (`bounceType` `Permanent`); transient and
    /// undetermined bounces are retried by SES.
    Bounce {
        /// A hard bounce.
        permanent: bool,
        /// `bounceType`/`bounceSubType`, as SES names them.
        kind: String,
    },
    /// A spam complaint.
    Complaint,
    /// SES refused to send it.
    Reject,
    /// Delivery is delayed; SES keeps trying until `expirationTime`.
    DeliveryDelay,
    /// Opens, clicks and the rest: not published by GSign's configuration set.
    Other(String),
}

impl MailEventKind {
    /// The name stored with the event (`bounce`, `complaint`, …).
    pub fn as_str(&self) -> &str {
        match self {
            MailEventKind::Send => "send",
            MailEventKind::Delivery => "delivery",
            MailEventKind::Bounce { .. } => "bounce",
            MailEventKind::Complaint => "complaint",
            MailEventKind::Reject => "reject",
            MailEventKind::DeliveryDelay => "delivery_delay",
            MailEventKind::Other(name) => name,
        }
    }

    /// The status this event gives the mail (and the recipient it was for); `None` when it
    /// changes nothing.
    pub fn status(&self) -> Option<MailStatus> {
        match self {
            MailEventKind::Send => None,
            MailEventKind::Delivery => Some(MailStatus::Delivered),
            MailEventKind::Bounce {
                permanent: true, ..
            } => Some(MailStatus::Bounced),
            MailEventKind::Bounce { .. } | MailEventKind::DeliveryDelay => {
                Some(MailStatus::Delayed)
            }
            MailEventKind::Complaint => Some(MailStatus::Complained),
            MailEventKind::Reject => Some(MailStatus::Rejected),
            MailEventKind::Other(_) => None,
        }
    }

    /// Whether the mail will never arrive: the sender must hear of it and the address is
    /// not mailed again.
    pub fn failed_for_good(&self) -> bool {
        matches!(
            self,
            MailEventKind::Bounce {
                permanent: true,
                ..
            } | MailEventKind::Reject
        )
    }
}

/// What an event says about one address the mail went to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressOutcome {
    /// The address, lower-cased.
    pub address: String,
    /// When it happened (the event's own timestamp).
    pub occurred_at: DateTime<Utc>,
    /// The receiving server's words (`diagnosticCode`, `smtpResponse`) or SES's reason.
    pub diagnostic: Option<String>,
}

/// One SES event about one mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailEvent {
    /// What happened.
    pub kind: MailEventKind,
    /// SES's id of the mail.
    pub ses_message_id: String,
    /// The message tags the mail was sent with (`gsign-outbox`, …; SES adds `ses:*`).
    pub tags: HashMap<String, Vec<String>>,
    /// Per address.
    pub outcomes: Vec<AddressOutcome>,
}

impl MailEvent {
    /// The first value of tag `name`.
    pub fn tag(&self, name: &str) -> Option<&str> {
        self.tags.get(name)?.first().map(String::as_str)
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct SnsEnvelope {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Message")]
    message: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct RawEvent {
    event_type: Option<String>,
    notification_type: Option<String>,
    mail: RawMail,
    bounce: Option<RawBounce>,
    complaint: Option<RawComplaint>,
    delivery: Option<RawDelivery>,
    reject: Option<RawReject>,
    delivery_delay: Option<RawDelay>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct RawMail {
    message_id: String,
    timestamp: DateTime<Utc>,
    #[serde(default)]
    destination: Vec<String>,
    #[serde(default)]
    tags: HashMap<String, Vec<String>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct RawRecipient {
    email_address: String,
    diagnostic_code: Option<String>,
    status: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct RawBounce {
    bounce_type: String,
    bounce_sub_type: Option<String>,
    bounced_recipients: Vec<RawRecipient>,
    timestamp: DateTime<Utc>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct RawComplaint {
    complained_recipients: Vec<RawRecipient>,
    timestamp: DateTime<Utc>,
    complaint_feedback_type: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct RawDelivery {
    recipients: Vec<String>,
    timestamp: DateTime<Utc>,
    smtp_response: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct RawReject {
    reason: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct RawDelay {
    delayed_recipients: Vec<RawRecipient>,
    timestamp: DateTime<Utc>,
    delay_type: Option<String>,
}

fn diagnostic(recipient: &RawRecipient) -> Option<String> {
    recipient
        .diagnostic_code
        .clone()
        .or_else(|| recipient.status.clone())
}

/// Reads an SES event notification: bare (SNS raw message delivery) or inside an SNS
/// notification. A document of another shape, or an event missing what its type needs, is
/// an error naming what is wrong (such a message is dropped, not retried).
pub fn parse_notification(body: &str) -> Result<MailEvent, String> {
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    let inner = if value.get("Type").is_some() && value.get("Message").is_some() {
        let sns: SnsEnvelope =
            serde_json::from_value(value).map_err(|e| format!("not an SNS notification: {e}"))?;
        if sns.kind != "Notification" {
            return Err(format!("an SNS {} message, not a notification", sns.kind));
        }
        serde_json::from_str(&sns.message)
            .map_err(|e| format!("the SNS message is not JSON: {e}"))?
    } else {
        value
    };
    let raw: RawEvent =
        serde_json::from_value(inner).map_err(|e| format!("not an SES event: {e}"))?;
    let name = raw
        .event_type
        .or(raw.notification_type)
        .ok_or("an SES event names its eventType")?;
    let missing = |part: &str| format!("a {name} event without its {part} part");
    let at_mail = |diagnostic: Option<String>| -> Vec<AddressOutcome> {
        raw.mail
            .destination
            .iter()
            .map(|address| AddressOutcome {
                address: address.to_lowercase(),
                occurred_at: raw.mail.timestamp,
                diagnostic: diagnostic.clone(),
            })
            .collect()
    };
    let each = |recipients: &[RawRecipient], at: DateTime<Utc>| -> Vec<AddressOutcome> {
        recipients
            .iter()
            .map(|r| AddressOutcome {
                address: r.email_address.to_lowercase(),
                occurred_at: at,
                diagnostic: diagnostic(r),
            })
            .collect()
    };
    let (kind, outcomes) = match name.as_str() {
        "Send" => (MailEventKind::Send, at_mail(None)),
        "Delivery" => {
            let d = raw.delivery.as_ref().ok_or_else(|| missing("delivery"))?;
            (
                MailEventKind::Delivery,
                d.recipients
                    .iter()
                    .map(|address| AddressOutcome {
                        address: address.to_lowercase(),
                        occurred_at: d.timestamp,
                        diagnostic: d.smtp_response.clone(),
                    })
                    .collect(),
            )
        }
        "Bounce" => {
            let b = raw.bounce.as_ref().ok_or_else(|| missing("bounce"))?;
            (
                MailEventKind::Bounce {
                    permanent: b.bounce_type == "Permanent",
                    kind: match &b.bounce_sub_type {
                        Some(sub) => format!("{}/{sub}", b.bounce_type),
                        None => b.bounce_type.clone(),
                    },
                },
                each(&b.bounced_recipients, b.timestamp),
            )
        }
        "Complaint" => {
            let c = raw.complaint.as_ref().ok_or_else(|| missing("complaint"))?;
            let mut outcomes = each(&c.complained_recipients, c.timestamp);
            for outcome in &mut outcomes {
                outcome.diagnostic = c.complaint_feedback_type.clone();
            }
            (MailEventKind::Complaint, outcomes)
        }
        "Reject" => {
            let reason = raw.reject.as_ref().and_then(|r| r.reason.clone());
            (
                MailEventKind::Reject,
                at_mail(Some(reason.unwrap_or_else(|| "rejected by SES".to_owned()))),
            )
        }
        "DeliveryDelay" => {
            let d = raw
                .delivery_delay
                .as_ref()
                .ok_or_else(|| missing("deliveryDelay"))?;
            let mut outcomes = each(&d.delayed_recipients, d.timestamp);
            for outcome in outcomes.iter_mut().filter(|o| o.diagnostic.is_none()) {
                outcome.diagnostic = d.delay_type.clone();
            }
            (MailEventKind::DeliveryDelay, outcomes)
        }
        other => (MailEventKind::Other(other.to_owned()), Vec::new()),
    };
    Ok(MailEvent {
        kind,
        ses_message_id: raw.mail.message_id,
        tags: raw.mail.tags,
        outcomes,
    })
}

/// An address an organization does not mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppressed {
    /// The address, lower-cased.
    pub email: String,
    /// `bounce`, `complaint`, `unsubscribe` or `manual`.
    pub reason: String,
    /// Since when.
    pub since: DateTime<Utc>,
}

/// Every recipient of an envelope about to be mailed whose address the organization
/// suppressed, as one problem each at `/recipients/{i}/email` (`recipients`: each one's
/// address and whether GSign mails them — embedded recipients are not mailed).
pub fn suppression_problems(
    recipients: &[(&str, bool)],
    suppressed: &[Suppressed],
) -> Vec<FieldError> {
    recipients
        .iter()
        .enumerate()
        .filter(|(_, (_, mailed))| *mailed)
        .filter_map(|(i, (email, _))| {
            let hit = suppressed
                .iter()
                .find(|s| s.email.eq_ignore_ascii_case(email))?;
            Some(FieldError::new(
                format!("/recipients/{i}/email"),
                format!(
                    "{} is on the organization's suppression list ({} since {}): GSign does \
                     not mail it; use another address, or remove it from the list",
                    hit.email,
                    hit.reason,
                    hit.since.format("%Y-%m-%d")
                ),
            ))
        })
        .collect()
}

/// Whether `text` looks like a mail address GSign can send to (one `@`, a dot in the
/// domain, no spaces, at most 254 characters); the full grammar is the receiving server's.
pub fn is_plausible_address(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    text.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/../../tests/fixtures/ses/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn a_permanent_bounce_names_the_address_and_the_servers_words() {
        let event = parse_notification(&fixture("bounce")).expect("parses");
        assert_eq!(
            event.kind,
            MailEventKind::Bounce {
                permanent: true,
                kind: "Permanent/General".to_owned()
            }
        );
        assert!(event.kind.failed_for_good());
        assert_eq!(event.kind.status(), Some(MailStatus::Bounced));
        assert_eq!(event.outcomes.len(), 1);
        assert_eq!(event.outcomes[0].address, "recipient@example.com");
        assert_eq!(
            event.outcomes[0].diagnostic.as_deref(),
            Some("smtp; 550 5.1.1 user unknown")
        );
        assert_eq!(
            event.tag("ses:configuration-set"),
            Some("ConfigSet"),
            "tags are read"
        );
    }

    #[test]
    fn every_published_event_type_is_read_bare_or_inside_sns() {
        for (name, kind, status) in [
            ("send", "send", None),
            ("delivery", "delivery", Some(MailStatus::Delivered)),
            ("complaint", "complaint", Some(MailStatus::Complained)),
            ("reject", "reject", Some(MailStatus::Rejected)),
            (
                "delivery-delay",
                "delivery_delay",
                Some(MailStatus::Delayed),
            ),
            ("bounce-transient", "bounce", Some(MailStatus::Delayed)),
        ] {
            let bare = fixture(name);
            let event = parse_notification(&bare).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(event.kind.as_str(), kind, "{name}");
            assert_eq!(event.kind.status(), status, "{name}");
            assert!(!event.outcomes.is_empty(), "{name}");
            let wrapped = serde_json::json!({
                "Type": "Notification",
                "MessageId": "b2a5e2b5-0a8f-5c0b-9f6e-3a1c2d3e4f50",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:mail-events",
                "Message": bare,
            });
            assert_eq!(
                parse_notification(&wrapped.to_string()).expect("wrapped"),
                event,
                "{name} inside SNS"
            );
        }
    }

    #[test]
    fn documents_of_other_shapes_are_refused_with_a_reason() {
        for (body, why) in [
            ("not json", "not JSON"),
            ("{}", "not an SES event"),
            (
                r#"{"Type":"SubscriptionConfirmation","Message":"{}"}"#,
                "SubscriptionConfirmation",
            ),
            (
                r#"{"eventType":"Bounce","mail":{"messageId":"x","timestamp":"2026-01-01T00:00:00Z"}}"#,
                "without its bounce part",
            ),
        ] {
            let err = parse_notification(body).expect_err(body);
            assert!(err.contains(why), "{body}: {err}");
        }
    }

    #[test]
    fn stronger_verdicts_outrank_weaker_ones() {
        assert!(MailStatus::Complained > MailStatus::Delivered);
        assert!(MailStatus::Bounced > MailStatus::Delayed);
        assert!(MailStatus::Delivered > MailStatus::Sent);
        for status in [
            "sent",
            "delayed",
            "delivered",
            "rejected",
            "bounced",
            "complained",
        ] {
            assert_eq!(
                MailStatus::parse(status).map(MailStatus::as_str),
                Some(status)
            );
        }
    }

    #[test]
    fn suppressed_addresses_of_mailed_recipients_are_each_a_problem() {
        let since = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .expect("date")
            .with_timezone(&Utc);
        let suppressed = [Suppressed {
            email: "bat@example.mn".to_owned(),
            reason: "complaint".to_owned(),
            since,
        }];
        let problems = suppression_problems(
            &[
                ("ana@example.com", true),
                ("Bat@Example.mn", true),
                ("bat@example.mn", false),
            ],
            &suppressed,
        );
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].pointer, "/recipients/1/email");
        assert!(problems[0].detail.contains("complaint since 2026-12-01"));
    }

    #[test]
    fn plausible_addresses() {
        assert!(is_plausible_address("ana@example.com"));
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "a na@example.com",
            "ana@ex@ample.com",
        ] {
            assert!(!is_plausible_address(bad), "{bad}");
        }
    }
}
