//! Envelope rules (seed 000's envelopes, recipients and signature fields; seed 001's signing
//! flow; seed 003's evidence log): what a draft may contain, what must hold before it is sent
//! (every problem reported at once), and the evidence trail's hash chain.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::FieldError;

/// The shortest access code a sender may set: with five tries per lockout and escalating
/// lockouts, six characters keep guessing hopeless.
pub const MIN_ACCESS_CODE_CHARS: usize = 6;

/// Most recipients an envelope may have.
pub const MAX_RECIPIENTS: usize = 50;
/// Most fields an envelope may have.
pub const MAX_FIELDS: usize = 1000;
/// Days until a sent envelope expires, unless set.
pub const DEFAULT_EXPIRY_DAYS: i64 = 120;
/// The electronic-records disclosure in force: a signer consents to this version before signing.
pub const DISCLOSURE_VERSION: &str = "2026-11";

string_enum!(
    /// An envelope's lifecycle.
    EnvelopeStatus {
        /// Being prepared; the only state in which it can be edited or deleted.
        Draft = "draft",
        /// Out for signature.
        Sent = "sent",
        /// Every signer signed; sealed.
        Completed = "completed",
        /// A recipient declined.
        Declined = "declined",
        /// The sender voided it.
        Voided = "voided",
        /// It passed `expires_at`.
        Expired = "expired",
    }
);

impl EnvelopeStatus {
    /// Whether its recipients' links no longer act on it: voided, expired, declined, or (never
    /// sent) a draft. A completed envelope still opens its final document.
    pub fn is_closed_to_recipients(self) -> bool {
        matches!(
            self,
            EnvelopeStatus::Voided
                | EnvelopeStatus::Expired
                | EnvelopeStatus::Declined
                | EnvelopeStatus::Draft
        )
    }
}

string_enum!(
    /// How recipients take their turns.
    RoutingType {
        /// By routing order; the same order acts in parallel.
        Sequential = "sequential",
        /// Everyone at once.
        Parallel = "parallel",
    }
);

string_enum!(
    /// What a recipient does.
    RecipientRole {
        /// Fills and signs.
        Signer = "signer",
        /// Approves, without a signature field.
        Approver = "approver",
        /// Views only.
        Viewer = "viewer",
        /// Receives the completed document.
        Cc = "cc",
    }
);

string_enum!(
    /// Where a recipient stands in the ceremony.
    RecipientStatus {
        /// Not asked yet (a later routing order, or a draft).
        Pending = "pending",
        /// Asked: their signing link went out.
        Sent = "sent",
        /// Opened the document.
        Viewed = "viewed",
        /// Signed.
        Signed = "signed",
        /// Approved.
        Approved = "approved",
        /// Declined; the envelope is declined too.
        Declined = "declined",
    }
);

string_enum!(
    /// How a recipient proves who they are, beyond the emailed link.
    AuthMethod {
        /// The link alone.
        Email = "email",
        /// The link and an access code the sender shares by another channel.
        AccessCode = "access_code",
    }
);

string_enum!(
    /// A field's kind.
    FieldType {
        /// The signer's signature.
        Signature = "signature",
        /// Initials.
        Initial = "initial",
        /// Free text.
        Text = "text",
        /// A date.
        Date = "date",
        /// A check box.
        Checkbox = "checkbox",
    }
);

fn trimmed(value: &str) -> String {
    value.trim().to_owned()
}

fn text_problem(value: &str, pointer: &str, max: usize, required: bool) -> Option<FieldError> {
    let value = value.trim();
    if required && value.is_empty() {
        return Some(FieldError::new(pointer, "must not be empty"));
    }
    if value.chars().count() > max {
        return Some(FieldError::new(
            pointer,
            format!("must be at most {max} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Some(FieldError::new(
            pointer,
            "must not contain control characters",
        ));
    }
    None
}

/// A recipient as a sender describes it.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({
    "email": "bat@example.mn",
    "name": "Батбаяр Өлзий",
    "role": "signer",
    "routing_order": 1,
}))]
pub struct RecipientInput {
    /// Email address.
    pub email: String,
    /// Display name, in any script.
    pub name: String,
    /// Role (default signer).
    #[serde(default)]
    pub role: Option<RecipientRole>,
    /// Routing order (default 1).
    #[serde(default)]
    pub routing_order: Option<i32>,
    /// Authentication (default email).
    #[serde(default)]
    pub auth_method: Option<AuthMethod>,
    /// The access code, when `auth_method` is `access_code` (stored hashed). Replacing a
    /// recipient who has one, leave it out to keep it.
    #[serde(default)]
    pub access_code: Option<String>,
    /// Signs inside the sender's page (no signing mail; the sender asks for a view URL).
    #[serde(default)]
    pub embedded: Option<bool>,
}

/// A checked recipient.
#[derive(Debug, Clone)]
pub struct NewRecipient {
    /// Lower-cased, trimmed address.
    pub email: String,
    /// Trimmed name.
    pub name: String,
    /// Role.
    pub role: RecipientRole,
    /// Routing order.
    pub routing_order: i32,
    /// Authentication.
    pub auth_method: AuthMethod,
    /// The code to hash, when required.
    pub access_code: Option<String>,
    /// Signs inside the sender's page: mailed no signing link.
    pub embedded: bool,
}

impl NewRecipient {
    /// Checks `input` (pointers under `at`), adding every problem to `errors`.
    pub fn parse(input: RecipientInput, at: &str, errors: &mut Vec<FieldError>) -> Option<Self> {
        Self::parse_with(input, at, errors, false)
    }

    /// Checks a replacement of a recipient who has an access code stored (`code_stored`):
    /// `auth_method` `access_code` without a code then keeps the stored one (a sender moving
    /// a recipient to another routing group does not know, and should not retype, the code);
    /// the answer's `access_code` is `None` for "keep".
    pub fn parse_replacement(
        input: RecipientInput,
        at: &str,
        errors: &mut Vec<FieldError>,
        code_stored: bool,
    ) -> Option<Self> {
        Self::parse_with(input, at, errors, code_stored)
    }

    fn parse_with(
        input: RecipientInput,
        at: &str,
        errors: &mut Vec<FieldError>,
        code_may_be_kept: bool,
    ) -> Option<Self> {
        let before = errors.len();
        let email = input.email.trim().to_lowercase();
        let plausible = email.len() <= 254
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            })
            && !email.chars().any(char::is_whitespace);
        if !plausible {
            errors.push(FieldError::new(
                format!("{at}/email"),
                "must be an email address",
            ));
        }
        errors.extend(text_problem(&input.name, &format!("{at}/name"), 255, true));
        let routing_order = input.routing_order.unwrap_or(1);
        if !(1..=100).contains(&routing_order) {
            errors.push(FieldError::new(
                format!("{at}/routing_order"),
                "must be 1 to 100",
            ));
        }
        let auth_method = input.auth_method.unwrap_or(AuthMethod::Email);
        let access_code = input
            .access_code
            .map(|c| trimmed(&c))
            .filter(|c| !c.is_empty());
        match (auth_method, &access_code) {
            (AuthMethod::AccessCode, None) if code_may_be_kept => {}
            (AuthMethod::AccessCode, None) => errors.push(FieldError::new(
                format!("{at}/access_code"),
                "is required when auth_method is access_code",
            )),
            (AuthMethod::AccessCode, Some(code))
                if !(MIN_ACCESS_CODE_CHARS..=64).contains(&code.chars().count()) =>
            {
                errors.push(FieldError::new(
                    format!("{at}/access_code"),
                    format!("must be {MIN_ACCESS_CODE_CHARS} to 64 characters"),
                ))
            }
            (AuthMethod::Email, Some(_)) => errors.push(FieldError::new(
                format!("{at}/access_code"),
                "is only for auth_method access_code",
            )),
            _ => {}
        }
        (errors.len() == before).then(|| Self {
            email,
            name: trimmed(&input.name),
            role: input.role.unwrap_or(RecipientRole::Signer),
            routing_order,
            auth_method,
            access_code,
            embedded: input.embedded.unwrap_or(false),
        })
    }
}

/// A field as a sender places it: points from the top-left of the page as displayed.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldInput {
    /// The recipient who fills it.
    pub recipient_id: Uuid,
    /// Kind.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// A label for people.
    #[serde(default)]
    pub label: Option<String>,
    /// 1-based page.
    #[schemars(range(min = 1))]
    pub page: i32,
    /// Points from the left edge.
    #[schemars(range(min = 0.0, max = MAX_PAGE_POINTS))]
    pub x: f64,
    /// Points from the top edge.
    #[schemars(range(min = 0.0, max = MAX_PAGE_POINTS))]
    pub y: f64,
    /// Width in points.
    #[schemars(range(min = MIN_FIELD_POINTS, max = MAX_PAGE_POINTS))]
    pub width: f64,
    /// Height in points.
    #[schemars(range(min = MIN_FIELD_POINTS, max = MAX_PAGE_POINTS))]
    pub height: f64,
    /// Whether the signer must fill it (default true).
    #[serde(default)]
    pub required: Option<bool>,
}

/// The largest page side PDF readers honour (ISO 32000-1 annex C: 14,400 units, 200 inches).
pub const MAX_PAGE_POINTS: f64 = 14_400.0;

/// The smallest field side: anything thinner cannot be seen, let alone filled (and positions
/// are stored to a hundredth of a point).
pub const MIN_FIELD_POINTS: f64 = 1.0;

/// Checks a field's own values (page bounds are checked at send, against the document).
pub fn field_problems(field: &FieldInput, at: &str, errors: &mut Vec<FieldError>) {
    for (name, value) in [("x", field.x), ("y", field.y)] {
        if !value.is_finite() || !(0.0..=MAX_PAGE_POINTS).contains(&value) {
            errors.push(FieldError::new(
                format!("{at}/{name}"),
                format!("must be 0 to {MAX_PAGE_POINTS} points"),
            ));
        }
    }
    for (name, value) in [("width", field.width), ("height", field.height)] {
        if !value.is_finite() || !(MIN_FIELD_POINTS..=MAX_PAGE_POINTS).contains(&value) {
            errors.push(FieldError::new(
                format!("{at}/{name}"),
                format!("must be {MIN_FIELD_POINTS} to {MAX_PAGE_POINTS} points"),
            ));
        }
    }
    if field.page < 1 {
        errors.push(FieldError::new(format!("{at}/page"), "must be 1 or more"));
    }
    if let Some(label) = &field.label {
        errors.extend(text_problem(label, &format!("{at}/label"), 255, false));
    }
}

/// What send needs to know of the document.
#[derive(Debug, Clone)]
pub struct DocumentFacts {
    /// Its status (ready, to be sent).
    pub status: crate::documents::DocumentStatus,
    /// Each page's displayed width and height in points (rotation applied).
    pub pages: Vec<(f64, f64)>,
    /// Signed fields it carried when uploaded (others signed it first).
    pub signatures: i32,
    /// Its certification's DocMDP permissions, if certified.
    pub certification: Option<i16>,
}

/// What send needs to know of a recipient.
#[derive(Debug, Clone)]
pub struct RecipientFacts {
    /// Id.
    pub id: Uuid,
    /// Role.
    pub role: RecipientRole,
    /// Routing order.
    pub routing_order: i32,
}

/// What send needs to know of a field.
#[derive(Debug, Clone)]
pub struct FieldFacts {
    /// Id.
    pub id: Uuid,
    /// Whose.
    pub recipient_id: Uuid,
    /// Kind.
    pub field_type: FieldType,
    /// Page and box from the displayed top-left.
    pub page: i32,
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

/// Every reason the envelope cannot be sent; empty when it can. The document is ready, there
/// is at least one signer, every signer has a signature field, every field lies inside an
/// existing page, routing orders run 1..n without gaps, and cc recipients and viewers have
/// no fields.
pub fn send_problems(
    document: &DocumentFacts,
    recipients: &[RecipientFacts],
    fields: &[FieldFacts],
) -> Vec<FieldError> {
    let mut problems = Vec::new();
    if document.status != crate::documents::DocumentStatus::Ready {
        problems.push(FieldError::new(
            "/document_id",
            format!("the document is {}, not ready", document.status.as_str()),
        ));
    }
    // What others signed before stays signed: a certified document takes no new field, and a
    // signed one only signature fields (anything else is a change its signatures forbid).
    match document.certification {
        Some(1) => problems.push(FieldError::new(
            "/document_id",
            "the document is certified with no changes allowed (DocMDP P=1): no field can be \
             added; ask its author for an uncertified copy",
        )),
        Some(level) => problems.push(FieldError::new(
            "/document_id",
            format!(
                "the document is certified (DocMDP P={level}): it allows filling its own \
                 fields and signing, not new signature fields; ask its author for an \
                 uncertified copy"
            ),
        )),
        None if document.signatures > 0 => {
            for (i, field) in fields.iter().enumerate() {
                if field.field_type != FieldType::Signature {
                    problems.push(FieldError::new(
                        format!("/fields/{i}/type"),
                        format!(
                            "the document carries {} signature(s) already: only signature \
                             fields can be added without breaking them",
                            document.signatures
                        ),
                    ));
                }
            }
        }
        None => {}
    }
    if !recipients.iter().any(|r| r.role == RecipientRole::Signer) {
        problems.push(FieldError::new(
            "/recipients",
            "at least one signer is needed",
        ));
    }
    if recipients.len() > MAX_RECIPIENTS {
        problems.push(FieldError::new(
            "/recipients",
            format!("at most {MAX_RECIPIENTS} recipients"),
        ));
    }
    let mut orders: Vec<i32> = recipients
        .iter()
        .filter(|r| r.role != RecipientRole::Cc)
        .map(|r| r.routing_order)
        .collect();
    orders.sort_unstable();
    orders.dedup();
    if orders
        .iter()
        .enumerate()
        .any(|(i, &order)| order != i as i32 + 1)
    {
        problems.push(FieldError::new(
            "/recipients",
            format!("routing orders must run 1..n without gaps (have {orders:?})"),
        ));
    }
    for (i, recipient) in recipients.iter().enumerate() {
        let theirs: Vec<&FieldFacts> = fields
            .iter()
            .filter(|f| f.recipient_id == recipient.id)
            .collect();
        match recipient.role {
            RecipientRole::Signer
                if !theirs.iter().any(|f| f.field_type == FieldType::Signature) =>
            {
                problems.push(FieldError::new(
                    format!("/recipients/{i}"),
                    "a signer needs a signature field",
                ))
            }
            RecipientRole::Cc | RecipientRole::Viewer if !theirs.is_empty() => {
                problems.push(FieldError::new(
                    format!("/recipients/{i}"),
                    format!("a {} has no fields", recipient.role.as_str()),
                ))
            }
            RecipientRole::Approver
                if theirs.iter().any(|f| f.field_type == FieldType::Signature) =>
            {
                problems.push(FieldError::new(
                    format!("/recipients/{i}"),
                    "an approver approves without a signature field",
                ))
            }
            _ => {}
        }
    }
    if fields.len() > MAX_FIELDS {
        problems.push(FieldError::new(
            "/fields",
            format!("at most {MAX_FIELDS} fields"),
        ));
    }
    for (i, field) in fields.iter().enumerate() {
        if !recipients.iter().any(|r| r.id == field.recipient_id) {
            problems.push(FieldError::new(
                format!("/fields/{i}"),
                "belongs to no recipient",
            ));
        }
        let page = usize::try_from(field.page.saturating_sub(1))
            .ok()
            .and_then(|p| document.pages.get(p));
        match page {
            None => problems.push(FieldError::new(
                format!("/fields/{i}/page"),
                format!(
                    "page {} does not exist (the document has {})",
                    field.page,
                    document.pages.len()
                ),
            )),
            Some(&(width, height)) => {
                if field.x + field.width > width + 0.01 || field.y + field.height > height + 0.01 {
                    problems.push(FieldError::new(
                        format!("/fields/{i}"),
                        format!(
                            "lies outside page {} ({width} x {height} points)",
                            field.page
                        ),
                    ));
                }
            }
        }
    }
    problems
}

/// The previous hash of an envelope's first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The evidence actions announced to the areas that follow envelopes (doc packs): the
/// envelope's status changes and each recipient's progress. The others (fields, reminders,
/// access codes, mail feedback) stay in the envelope's own trail.
pub const ANNOUNCED_ACTIONS: &[&str] = &[
    "envelope.sent",
    "envelope.completed",
    "envelope.declined",
    "envelope.voided",
    "envelope.expired",
    "recipient.notified",
    "recipient.viewed",
    "recipient.signed",
    "recipient.approved",
    "recipient.declined",
];

/// Whether evidence of `action` is announced to the areas that follow envelopes.
pub fn is_announced(action: &str) -> bool {
    ANNOUNCED_ACTIONS.contains(&action)
}

/// One evidence event, as hashed.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EvidenceEvent {
    /// The envelope.
    pub envelope_id: Uuid,
    /// 1, 2, … per envelope.
    pub sequence: i32,
    /// What happened, e.g. `envelope.sent`, `recipient.signed`.
    pub action: String,
    /// `user`, `api_key`, `recipient` or `system`.
    pub actor_type: String,
    /// The user, key or recipient.
    pub actor_id: Option<Uuid>,
    /// The recipient concerned.
    pub recipient_id: Option<Uuid>,
    /// Source IP.
    pub ip: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
    /// Anything else, as JSON.
    pub details: serde_json::Value,
    /// When, to the microsecond (what Postgres keeps).
    pub occurred_at: DateTime<Utc>,
}

impl EvidenceEvent {
    /// The time as stored: microseconds.
    pub fn at(time: DateTime<Utc>) -> DateTime<Utc> {
        time.trunc_subsecs(6)
    }

    /// SHA-256 (hex) of this event chained to `previous_hash`: over a canonical JSON array
    /// of every field (object keys sorted), so any change to a stored row changes its hash.
    pub fn hash(&self, previous_hash: &str) -> String {
        let canonical = serde_json::json!([
            previous_hash,
            self.envelope_id,
            self.sequence,
            self.action,
            self.actor_type,
            self.actor_id,
            self.recipient_id,
            self.ip,
            self.user_agent,
            self.details,
            Self::at(self.occurred_at)
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string(),
        ]);
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }
}

/// A stored event with its chain links.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChainedEvent {
    /// The event.
    #[serde(flatten)]
    pub event: EvidenceEvent,
    /// The previous row's hash (or [`GENESIS_HASH`]).
    pub previous_hash: String,
    /// This row's hash.
    pub hash: String,
}

/// Whether an envelope's events (in sequence order) form an unbroken chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ChainVerdict {
    /// Every link holds.
    pub valid: bool,
    /// The first sequence number whose link or hash does not hold.
    pub broken_at: Option<i32>,
}

/// Verifies the chain of `events` (sorted by sequence).
pub fn verify_chain(events: &[ChainedEvent]) -> ChainVerdict {
    let mut previous = GENESIS_HASH.to_owned();
    for (i, row) in events.iter().enumerate() {
        let in_order = row.event.sequence == i as i32 + 1;
        if !in_order || row.previous_hash != previous || row.event.hash(&previous) != row.hash {
            return ChainVerdict {
                valid: false,
                broken_at: Some(row.event.sequence),
            };
        }
        previous = row.hash.clone();
    }
    ChainVerdict {
        valid: true,
        broken_at: None,
    }
}

/// An origin an organization may list in `settings.embed_origins`: `https://host[:port]`,
/// or `http://` on a loopback host (local development); no path, query or wildcard.
pub fn is_embed_origin(origin: &str) -> bool {
    let Ok(url) = url::Url::parse(origin) else {
        return false;
    };
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    scheme_ok
        && url.host_str().is_some_and(|h| !h.contains('*'))
        && url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none()
        && origin.trim_end_matches('/') == url.origin().ascii_serialization()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_links_stop_acting_on_voided_expired_declined_and_unsent_envelopes() {
        let closed: Vec<_> = EnvelopeStatus::ALL
            .iter()
            .filter(|s| s.is_closed_to_recipients())
            .map(|s| s.as_str())
            .collect();
        assert_eq!(closed, ["draft", "declined", "voided", "expired"]);
    }

    #[test]
    fn only_plain_https_origins_or_loopback_http_may_frame_the_page() {
        assert!(is_embed_origin("https://app.customer.mn"));
        assert!(is_embed_origin("https://app.customer.mn:8443"));
        assert!(is_embed_origin("http://127.0.0.1:5173"));
        assert!(!is_embed_origin("http://customer.mn"));
        assert!(!is_embed_origin("https://*.customer.mn"));
        assert!(!is_embed_origin("https://customer.mn/path"));
        assert!(!is_embed_origin("https://user@customer.mn"));
        assert!(!is_embed_origin("javascript:alert(1)"));
        assert!(!is_embed_origin("'self'; script-src *"));
    }

    fn recipient(role: RecipientRole, order: i32) -> RecipientFacts {
        RecipientFacts {
            id: Uuid::new_v4(),
            role,
            routing_order: order,
        }
    }

    fn field(of: &RecipientFacts, field_type: FieldType, page: i32, x: f64) -> FieldFacts {
        FieldFacts {
            id: Uuid::new_v4(),
            recipient_id: of.id,
            field_type,
            page,
            x,
            y: 500.0,
            width: 150.0,
            height: 40.0,
        }
    }

    fn a4_ready() -> DocumentFacts {
        DocumentFacts {
            status: crate::documents::DocumentStatus::Ready,
            pages: vec![(595.0, 842.0), (842.0, 595.0)],
            signatures: 0,
            certification: None,
        }
    }

    #[test]
    fn a_document_others_signed_takes_signature_fields_only_and_a_certified_one_none() {
        let a = recipient(RecipientRole::Signer, 1);
        let fields = [
            field(&a, FieldType::Signature, 1, 40.0),
            field(&a, FieldType::Date, 1, 300.0),
        ];
        let signed = DocumentFacts {
            signatures: 2,
            ..a4_ready()
        };
        let problems = send_problems(&signed, std::slice::from_ref(&a), &fields);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].pointer, "/fields/1/type");
        assert!(problems[0].detail.contains("2 signature(s) already"));
        assert_eq!(
            send_problems(&signed, std::slice::from_ref(&a), &fields[..1]),
            vec![]
        );
        for level in [1, 2] {
            let certified = DocumentFacts {
                signatures: 1,
                certification: Some(level),
                ..a4_ready()
            };
            let problems = send_problems(&certified, std::slice::from_ref(&a), &fields[..1]);
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert_eq!(problems[0].pointer, "/document_id");
            assert!(problems[0].detail.contains(&format!("DocMDP P={level}")));
        }
    }

    #[test]
    fn a_complete_envelope_has_no_send_problems() {
        let (a, b, cc) = (
            recipient(RecipientRole::Signer, 1),
            recipient(RecipientRole::Signer, 2),
            recipient(RecipientRole::Cc, 1),
        );
        let fields = [
            field(&a, FieldType::Signature, 1, 40.0),
            field(&b, FieldType::Signature, 2, 600.0),
        ];
        assert_eq!(send_problems(&a4_ready(), &[a, b, cc], &fields), vec![]);
    }

    #[test]
    fn send_lists_every_problem_at_once() {
        let (a, cc) = (
            recipient(RecipientRole::Signer, 1),
            recipient(RecipientRole::Viewer, 3),
        );
        let fields = [
            field(&a, FieldType::Text, 1, 40.0),
            field(&a, FieldType::Text, 3, 40.0),
            field(&a, FieldType::Text, 1, 500.0),
            field(&cc, FieldType::Text, 1, 40.0),
        ];
        let document = DocumentFacts {
            status: crate::documents::DocumentStatus::Processing,
            ..a4_ready()
        };
        let problems = send_problems(&document, &[a, cc], &fields);
        let pointers: Vec<&str> = problems.iter().map(|p| p.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/document_id",
                "/recipients",
                "/recipients/0",
                "/recipients/1",
                "/fields/1/page",
                "/fields/2"
            ],
            "{problems:?}"
        );
    }

    #[test]
    fn recipients_are_checked_field_by_field() {
        let mut errors = Vec::new();
        let input: RecipientInput = serde_json::from_value(serde_json::json!({
            "email": "not-an-address", "name": " ", "routing_order": 0, "auth_method": "access_code"
        }))
        .expect("shape");
        assert!(NewRecipient::parse(input, "/recipients/0", &mut errors).is_none());
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/recipients/0/email",
                "/recipients/0/name",
                "/recipients/0/routing_order",
                "/recipients/0/access_code"
            ]
        );
        let good: RecipientInput = serde_json::from_value(serde_json::json!({
            "email": " Bat@Example.MN ", "name": "Батбаяр Өлзий"
        }))
        .expect("shape");
        let parsed = NewRecipient::parse(good, "", &mut errors).expect("valid");
        assert_eq!(parsed.email, "bat@example.mn");
        assert_eq!(parsed.role, RecipientRole::Signer);
    }

    #[test]
    fn a_replacement_may_leave_a_stored_access_code_out_but_not_invent_one() {
        let moved = || -> RecipientInput {
            serde_json::from_value(serde_json::json!({
                "email": "bat@example.mn", "name": "Bat", "routing_order": 2,
                "auth_method": "access_code"
            }))
            .expect("shape")
        };
        let mut errors = Vec::new();
        let kept = NewRecipient::parse_replacement(moved(), "", &mut errors, true).expect("kept");
        assert_eq!(
            (kept.auth_method, kept.access_code),
            (AuthMethod::AccessCode, None)
        );
        assert!(NewRecipient::parse_replacement(moved(), "", &mut errors, false).is_none());
        assert_eq!(errors[0].pointer, "/access_code");
    }

    fn chain(n: i32) -> Vec<ChainedEvent> {
        let envelope = Uuid::new_v4();
        let mut previous = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|sequence| {
                let event = EvidenceEvent {
                    envelope_id: envelope,
                    sequence,
                    action: format!("step.{sequence}"),
                    actor_type: "system".into(),
                    actor_id: None,
                    recipient_id: None,
                    ip: Some("203.0.113.7".into()),
                    user_agent: None,
                    details: serde_json::json!({"b": 2, "a": "Өлзий"}),
                    occurred_at: Utc::now(),
                };
                let hash = event.hash(&previous);
                let row = ChainedEvent {
                    event,
                    previous_hash: previous.clone(),
                    hash: hash.clone(),
                };
                previous = hash;
                row
            })
            .collect()
    }

    #[test]
    fn an_untouched_chain_verifies_and_any_edit_breaks_it_where_it_was_made() {
        let events = chain(4);
        assert_eq!(
            verify_chain(&events),
            ChainVerdict {
                valid: true,
                broken_at: None
            }
        );
        let mut edited = events.clone();
        edited[2].event.ip = Some("198.51.100.1".into());
        assert_eq!(verify_chain(&edited).broken_at, Some(3));
        let mut removed = events.clone();
        removed.remove(1);
        assert!(!verify_chain(&removed).valid);
        let mut rehashed = events;
        rehashed[1].event.action = "forged".into();
        rehashed[1].hash = rehashed[1].event.hash(&rehashed[1].previous_hash);
        assert_eq!(
            verify_chain(&rehashed).broken_at,
            Some(3),
            "the next link breaks"
        );
    }
}
