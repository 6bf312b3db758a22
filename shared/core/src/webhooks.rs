//! Webhooks (seed 000's `webhook_deliveries`, seed 001's webhook delivery), signed as
//! Standard Webhooks 1.0 says: headers `webhook-id` (the event id, stable across retries),
//! `webhook-timestamp` and `webhook-signature` = space-separated `v1,<base64 HMAC-SHA256 of
//! "{id}.{timestamp}.{body}">`, one per active secret; secrets are `whsec_` + base64.
//!
//! [`verify`] is the helper receivers can use (README, "Verifying GSign webhooks").

use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

string_enum!(
    /// Where one delivery of an event to an endpoint stands.
    #[schemars(rename = "WebhookDeliveryStatus")]
    DeliveryStatus {
        /// Attempts are left: the next is at `next_attempt_at`.
        Pending = "pending",
        /// An attempt succeeded (2xx).
        Delivered = "delivered",
        /// Every attempt failed, or the endpoint answered 410 or is no longer active.
        Failed = "failed",
    }
);

/// What happened, as a receiver filters on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum EventType {
    /// A document finished ingest and can be sent.
    #[serde(rename = "document.ready")]
    DocumentReady,
    /// Ingest refused a document (with its reason).
    #[serde(rename = "document.failed")]
    DocumentFailed,
    /// An envelope went out for signature.
    #[serde(rename = "envelope.sent")]
    EnvelopeSent,
    /// A recipient opened their link for the first time.
    #[serde(rename = "recipient.viewed")]
    RecipientViewed,
    /// A recipient signed (or approved).
    #[serde(rename = "recipient.signed")]
    RecipientSigned,
    /// A recipient declined.
    #[serde(rename = "recipient.declined")]
    RecipientDeclined,
    /// A recipient's signing request bounced permanently: their address needs correcting.
    #[serde(rename = "recipient.mail_bounced")]
    RecipientMailBounced,
    /// Everyone signed; the final document is sealed.
    #[serde(rename = "envelope.completed")]
    EnvelopeCompleted,
    /// A completed envelope's final document got a fresh archive timestamp (PAdES B-LTA
    /// renewal) before the last one's authority certificate ends: a new version to keep.
    #[serde(rename = "envelope.archive_renewed")]
    EnvelopeArchiveRenewed,
    /// The envelope ended because a recipient declined.
    #[serde(rename = "envelope.declined")]
    EnvelopeDeclined,
    /// The sender voided the envelope.
    #[serde(rename = "envelope.voided")]
    EnvelopeVoided,
    /// The envelope passed its expiry.
    #[serde(rename = "envelope.expired")]
    EnvelopeExpired,
    /// Sent by `POST /v1/webhooks/{id}/test`.
    #[serde(rename = "webhook.test")]
    WebhookTest,
}

impl EventType {
    /// Every event type.
    pub const ALL: [EventType; 13] = [
        EventType::DocumentReady,
        EventType::DocumentFailed,
        EventType::EnvelopeSent,
        EventType::RecipientViewed,
        EventType::RecipientSigned,
        EventType::RecipientDeclined,
        EventType::RecipientMailBounced,
        EventType::EnvelopeCompleted,
        EventType::EnvelopeArchiveRenewed,
        EventType::EnvelopeDeclined,
        EventType::EnvelopeVoided,
        EventType::EnvelopeExpired,
        EventType::WebhookTest,
    ];

    /// The wire name, e.g. `envelope.completed`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::DocumentReady => "document.ready",
            EventType::DocumentFailed => "document.failed",
            EventType::EnvelopeSent => "envelope.sent",
            EventType::RecipientViewed => "recipient.viewed",
            EventType::RecipientSigned => "recipient.signed",
            EventType::RecipientDeclined => "recipient.declined",
            EventType::RecipientMailBounced => "recipient.mail_bounced",
            EventType::EnvelopeCompleted => "envelope.completed",
            EventType::EnvelopeArchiveRenewed => "envelope.archive_renewed",
            EventType::EnvelopeDeclined => "envelope.declined",
            EventType::EnvelopeVoided => "envelope.voided",
            EventType::EnvelopeExpired => "envelope.expired",
            EventType::WebhookTest => "webhook.test",
        }
    }

    /// The type named `text`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// The body every webhook carries: thin (ids and states; receivers fetch the rest through
/// the API) and identified by the event id that is also its `webhook-id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Event {
    /// Stable across retries and replays: receivers dedupe on it.
    pub id: Uuid,
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// When the state change committed.
    pub timestamp: DateTime<Utc>,
    /// Ids and states.
    pub data: serde_json::Value,
}

/// The `webhook-id` of an event: `msg_` and its id.
pub fn message_id(event: Uuid) -> String {
    format!("msg_{}", event.simple())
}

/// Receivers accept timestamps this far from their clock, either way.
pub const TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// Random bytes in a new secret (Standard Webhooks asks for 24 to 64).
pub const SECRET_BYTES: usize = 32;

/// A signing secret as shown to the customer once: `whsec_` + base64 of its bytes.
pub fn secret_text(key: &[u8]) -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// The key bytes of a `whsec_…` secret (the prefix is optional, as in other verifiers).
pub fn secret_key(secret: &str) -> Option<Vec<u8>> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .filter(|key| !key.is_empty())
}

fn mac(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> aws_lc_rs::hmac::Tag {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    let mut context = aws_lc_rs::hmac::Context::with_key(&key);
    context.update(id.as_bytes());
    context.update(b".");
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    context.sign()
}

/// One `v1,<base64>` signature of `body` sent as message `id` at `timestamp` (Unix seconds).
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac(key, id, timestamp, body).as_ref())
    )
}

/// The `webhook-signature` header: one signature per active key, space-separated (so a
/// receiver holding either secret of a rotation verifies).
pub fn signature_header(keys: &[Vec<u8>], id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        .map(|key| signature(key, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why [`verify`] refused a webhook.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The secret is not `whsec_` + base64.
    #[error("the secret is not a whsec_ secret")]
    BadSecret,
    /// `webhook-timestamp` is not a number.
    #[error("webhook-timestamp is not a Unix time")]
    BadTimestamp,
    /// The timestamp is further than [`TOLERANCE`] from now (a replay, or a wrong clock).
    #[error("webhook-timestamp is outside the tolerance")]
    StaleTimestamp,
    /// No `v1` signature in the header matches.
    #[error("no signature matches")]
    NoMatch,
}

/// Checks a webhook as a receiver should: the timestamp within [`TOLERANCE`] of `now`, and at
/// least one `v1` signature in `signatures` (the `webhook-signature` header) equal, in
/// constant time, to the HMAC of `id.timestamp.body` under `secret`. Empty, truncated and
/// malformed signatures never match.
///
/// ```
/// use gsign_core::webhooks::{signature, verify};
/// let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// let key = gsign_core::webhooks::secret_key(secret).unwrap();
/// let body = br#"{"type":"envelope.completed"}"#;
/// let header = signature(&key, "msg_1", 1_800_000_000, body);
/// assert!(verify(secret, "msg_1", "1800000000", &header, body, 1_800_000_010).is_ok());
/// assert!(verify(secret, "msg_1", "1800000000", "v1,", body, 1_800_000_010).is_err());
/// ```
pub fn verify(
    secret: &str,
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    let key = secret_key(secret).ok_or(VerifyError::BadSecret)?;
    let sent: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    let tolerance = i64::try_from(TOLERANCE.as_secs()).unwrap_or(300);
    if (now - sent).abs() > tolerance {
        return Err(VerifyError::StaleTimestamp);
    }
    let verification_key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key);
    let mut message = Vec::with_capacity(id.len() + timestamp.len() + body.len() + 2);
    message.extend_from_slice(id.as_bytes());
    message.push(b'.');
    message.extend_from_slice(sent.to_string().as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    let matched = signatures.split_whitespace().any(|candidate| {
        let Some(("v1", encoded)) = candidate.split_once(',') else {
            return false;
        };
        let Ok(given) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
            return false;
        };
        // aws-lc-rs compares the full 32-byte tag in constant time; a shorter one never matches.
        given.len() == 32 && aws_lc_rs::hmac::verify(&verification_key, &message, &given).is_ok()
    });
    if matched {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

/// The default retry schedule: the waits after attempts 1 to 4; five attempts in all spread
/// over a little more than 25 hours (the seeds' 5 attempts; Standard Webhooks' advice of
/// hours, not minutes).
pub const DEFAULT_SCHEDULE: [Duration; 4] = [
    Duration::from_secs(5 * 60),
    Duration::from_secs(60 * 60),
    Duration::from_secs(6 * 60 * 60),
    Duration::from_secs(18 * 60 * 60),
];

/// The wait after failed attempt `attempt` (1-based) on `schedule`, stretched by up to 10 %
/// by `jitter` (0 to 1) so retries of many deliveries spread out, and never shorter than the
/// receiver's `Retry-After`; `None` when that was the last attempt.
pub fn retry_delay(
    schedule: &[Duration],
    attempt: usize,
    jitter: f64,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    let base = *schedule.get(attempt.checked_sub(1)?)?;
    let stretched = base.mul_f64(1.0 + 0.1 * jitter.clamp(0.0, 1.0));
    Some(retry_after.map_or(stretched, |after| after.max(stretched)))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Standard Webhooks' published example (the specification's README).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const EXPECTED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn the_specification_example_signs_and_verifies() {
        let key = secret_key(SECRET).expect("secret");
        assert_eq!(signature(&key, ID, TIMESTAMP, BODY), EXPECTED);
        assert_eq!(
            verify(SECRET, ID, "1614265330", EXPECTED, BODY, TIMESTAMP + 10),
            Ok(())
        );
    }

    #[test]
    fn empty_truncated_foreign_and_stale_signatures_are_refused() {
        let now = TIMESTAMP + 1;
        let check = |signatures: &str| verify(SECRET, ID, "1614265330", signatures, BODY, now);
        assert_eq!(check("v1,"), Err(VerifyError::NoMatch));
        assert_eq!(check(""), Err(VerifyError::NoMatch));
        assert_eq!(
            check(&EXPECTED[..EXPECTED.len() - 8]),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            check("v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            check(&EXPECTED.replace("v1,", "v2,")),
            Err(VerifyError::NoMatch)
        );
        // Another body, another id.
        assert_eq!(
            verify(SECRET, ID, "1614265330", EXPECTED, b"{}", now),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify(SECRET, "msg_other", "1614265330", EXPECTED, BODY, now),
            Err(VerifyError::NoMatch)
        );
        // Out of tolerance either way.
        assert_eq!(
            verify(SECRET, ID, "1614265330", EXPECTED, BODY, TIMESTAMP + 301),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            verify(SECRET, ID, "1614265330", EXPECTED, BODY, TIMESTAMP - 301),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            verify(SECRET, ID, "soon", EXPECTED, BODY, now),
            Err(VerifyError::BadTimestamp)
        );
    }

    #[test]
    fn one_matching_signature_among_several_is_enough_for_rotation() {
        let old = secret_key(SECRET).expect("old");
        let new = vec![7u8; SECRET_BYTES];
        let header = signature_header(&[new.clone(), old], ID, TIMESTAMP, BODY);
        assert_eq!(header.split(' ').count(), 2);
        assert!(verify(SECRET, ID, "1614265330", &header, BODY, TIMESTAMP).is_ok());
        assert!(verify(
            &secret_text(&new),
            ID,
            "1614265330",
            &header,
            BODY,
            TIMESTAMP
        )
        .is_ok());
    }

    #[test]
    fn the_default_schedule_spreads_five_attempts_over_more_than_a_day() {
        let total: Duration = (1..=4)
            .map(|attempt| retry_delay(&DEFAULT_SCHEDULE, attempt, 0.0, None).expect("wait"))
            .sum();
        assert!(total >= Duration::from_secs(24 * 3600), "{total:?}");
        assert_eq!(retry_delay(&DEFAULT_SCHEDULE, 5, 0.5, None), None);
        let jittered = retry_delay(&DEFAULT_SCHEDULE, 1, 1.0, None).expect("wait");
        assert_eq!(jittered, Duration::from_secs(330));
        let asked = retry_delay(&DEFAULT_SCHEDULE, 1, 0.0, Some(Duration::from_secs(3600)));
        assert_eq!(asked, Some(Duration::from_secs(3600)));
    }

    #[test]
    fn event_types_round_trip_by_name() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert_eq!(
                serde_json::to_value(t).expect("json"),
                serde_json::json!(t.as_str())
            );
        }
        assert_eq!(EventType::parse("envelope.signed"), None);
    }
}
