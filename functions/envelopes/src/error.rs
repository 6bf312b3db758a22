//! The envelopes domain's errors: the shared route error with this area's own cases (and those of
//! the signing ceremony and the embedded view), each mapped to problem details once.

use chrono::{DateTime, Utc};
use gsign_core::envelopes::{EnvelopeStatus, RecipientStatus, DISCLOSURE_VERSION};
use gsign_core::{IntoProblem, Problem};
use gsign_platform::route_error::RouteError;
use http::StatusCode;

/// What can go wrong in an envelope route.
pub type EnvelopesError = RouteError<EnvelopesCase>;

/// What only this area refuses or fails with.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopesCase {
    /// Only a draft can be changed this way (`status` is what it is).
    #[error("envelope is {0}")]
    NotDraft(EnvelopeStatus),
    /// Only a sent envelope can be voided or reminded (`status` is what it is).
    #[error("envelope is {0}")]
    NotSent(EnvelopeStatus),
    /// Everyone who must act now has had every reminder the envelope allows.
    #[error("nothing to remind")]
    NothingToRemind,
    /// Whoever must act now is not mailed (their mail bounced or was marked as spam, or the
    /// address is suppressed): these addresses.
    #[error("not mailed: {0:?}")]
    Unreachable(Vec<String>),
    /// View URLs are for embedded recipients only (the others sign from their mail).
    #[error("recipient is not embedded")]
    NotEmbedded,
    /// The recipient acted already (`status`): their address and link are settled.
    #[error("recipient is {0}")]
    RecipientActed(RecipientStatus),
    /// Embedded recipients sign in the sender's page: they get view URLs, not signing links.
    #[error("recipient is embedded")]
    Embedded,
    /// It is not this recipient's turn yet (sequential routing).
    #[error("not the recipient's turn")]
    NotTheirTurn,
    /// That download does not exist (yet): variant, envelope status.
    #[error("{0} not available while {1}")]
    NotAvailable(String, EnvelopeStatus),
}

gsign_platform::route_error_area!(EnvelopesCase);

impl IntoProblem for EnvelopesCase {
    // Long: one exhaustive match, one arm per error case.
    fn into_problem(self) -> Problem {
        match self {
            EnvelopesCase::NotEmbedded => Problem::new(
                StatusCode::CONFLICT,
                "recipient-not-embedded",
                "Recipient not embedded",
            )
            .with_detail(
                "View URLs are for recipients marked embedded: the others sign from the link \
                 GSign mails them. Mark the recipient embedded before sending.",
            ),
            EnvelopesCase::RecipientActed(status) => Problem::new(
                StatusCode::CONFLICT,
                "recipient-acted",
                "Recipient has acted",
            )
            .with_detail(format!(
                "The recipient is {}: their address and link can no longer change.",
                status.as_str()
            ))
            .with_extension("recipient_status", serde_json::json!(status)),
            EnvelopesCase::Embedded => Problem::new(
                StatusCode::CONFLICT,
                "recipient-embedded",
                "Recipient signs embedded",
            )
            .with_detail(
                "This recipient signs inside your page: ask for a view URL \
                 (POST …/recipients/{recipient_id}/view) instead of a signing link.",
            ),
            EnvelopesCase::NotTheirTurn => Problem::new(
                StatusCode::CONFLICT,
                "recipient-not-their-turn",
                "Not this recipient's turn",
            )
            .with_detail(
                "The recipients before this one in the routing order have not all acted; \
                 their link would not open the document yet.",
            ),
            EnvelopesCase::NotDraft(status) => Problem::new(
                StatusCode::CONFLICT,
                "envelope-not-draft",
                "Envelope is not a draft",
            )
            .with_detail(format!(
                "The envelope is {}; only drafts can be edited or deleted.",
                status.as_str()
            ))
            .with_extension("envelope_status", serde_json::json!(status)),
            EnvelopesCase::NotSent(status) => Problem::new(
                StatusCode::CONFLICT,
                "envelope-not-sent",
                "Envelope is not out for signature",
            )
            .with_detail(format!("The envelope is {}.", status.as_str()))
            .with_extension("envelope_status", serde_json::json!(status)),
            EnvelopesCase::NothingToRemind => Problem::new(
                StatusCode::CONFLICT,
                "nothing-to-remind",
                "Nothing to remind",
            )
            .with_detail("Everyone who must act now has acted or has had every reminder this envelope allows."),
            EnvelopesCase::Unreachable(addresses) => Problem::new(
                StatusCode::CONFLICT,
                "recipient-unreachable",
                "Recipient not mailed",
            )
            .with_detail(format!(
                "GSign does not mail {}: the mail bounced or was marked as spam, or the address \
                 is on the organization's suppression list. Correct the address \
                 (POST …/recipients/{{recipient_id}}/correct) or hand over a signing link \
                 (POST …/recipients/{{recipient_id}}/signing-link).",
                addresses.join(", ")
            ))
            .with_extension("addresses", serde_json::json!(addresses)),
            EnvelopesCase::NotAvailable(variant, status) => Problem::new(
                StatusCode::CONFLICT,
                "download-not-available",
                "Not available yet",
            )
            .with_detail(format!(
                "The {variant} document does not exist while the envelope is {}.",
                status.as_str()
            ))
            .with_extension("envelope_status", serde_json::json!(status)),
        }
    }
}

/// What can go wrong on a signing link.
pub type CeremonyError = RouteError<CeremonyCase>;

/// What only a signing link refuses.
#[derive(Debug, thiserror::Error)]
pub enum CeremonyCase {
    /// Unknown or malformed token (reused links of deleted recipients too).
    #[error("unknown signing link")]
    UnknownLink,
    /// The envelope is over (`completed`, `declined`, `voided`, `expired`).
    #[error("envelope is {0}")]
    Closed(EnvelopeStatus),
    /// Not this recipient's turn yet (sequential routing).
    #[error("not your turn")]
    NotYourTurn {
        /// The recipient's order.
        yours: i32,
        /// The order acting now.
        current: Option<i32>,
    },
    /// This recipient already signed or declined.
    #[error("already {0}")]
    AlreadyDone(String),
    /// The access code is required first.
    #[error("access code required")]
    AccessCodeRequired,
    /// Electronic-records consent comes before signing.
    #[error("consent required")]
    ConsentRequired,
    /// Viewers and cc recipients have nothing to sign (`role`).
    #[error("a {0} does not sign")]
    NothingToSign(String),
    /// Wrong access code.
    #[error("wrong access code")]
    WrongAccessCode {
        /// Attempts left before the lockout.
        attempts_left: i32,
    },
    /// Too many wrong codes.
    #[error("locked until {0}")]
    Locked(DateTime<Utc>),
    /// A link to a completed envelope past its lifetime: a fresh one can be mailed.
    #[error("signing link expired")]
    LinkExpired,
}

gsign_platform::route_error_area!(CeremonyCase);

impl IntoProblem for CeremonyCase {
    // Long: one exhaustive match, one arm per ceremony case.
    fn into_problem(self) -> Problem {
        match self {
            CeremonyCase::UnknownLink => Problem::new(
                StatusCode::NOT_FOUND,
                "signing-link-invalid",
                "Signing link not valid",
            )
            .with_detail("This signing link is unknown. Use the newest link you were sent."),
            CeremonyCase::Closed(status) => Problem::new(
                StatusCode::GONE,
                "envelope-closed",
                "Envelope closed",
            )
            .with_detail(format!(
                "The envelope is {}; it can no longer be acted on.",
                status.as_str()
            ))
            .with_extension("envelope_status", serde_json::json!(status)),
            CeremonyCase::NotYourTurn { yours, current } => Problem::new(
                StatusCode::CONFLICT,
                "not-your-turn",
                "Not your turn yet",
            )
            .with_detail(format!(
                "Recipients act in order; yours is {yours}, and order {} is acting now. You will get an email when it is your turn.",
                current.map_or_else(|| "-".to_owned(), |c| c.to_string())
            ))
            .with_extension("routing_order", serde_json::json!(yours))
            .with_extension("current_routing_order", serde_json::json!(current)),
            CeremonyCase::AlreadyDone(status) => Problem::new(
                StatusCode::CONFLICT,
                "recipient-done",
                "Already done",
            )
            .with_detail(format!("You have {status} this envelope."))
            .with_extension("recipient_status", serde_json::json!(status)),
            CeremonyCase::AccessCodeRequired => Problem::new(
                StatusCode::FORBIDDEN,
                "access-code-required",
                "Access code required",
            )
            .with_detail("Enter the access code the sender gave you."),
            CeremonyCase::ConsentRequired => Problem::new(
                StatusCode::FORBIDDEN,
                "consent-required",
                "Consent required",
            )
            .with_detail(format!(
                "Agree to do business electronically first (POST .../consent with disclosure version {DISCLOSURE_VERSION})."
            ))
            .with_extension("disclosure_version", serde_json::json!(DISCLOSURE_VERSION)),
            CeremonyCase::NothingToSign(role) => Problem::new(
                StatusCode::CONFLICT,
                "nothing-to-sign",
                "Nothing to sign",
            )
            .with_detail(format!("As a {role} you only view this envelope; opening it is all it needs of you."))
            .with_extension("role", serde_json::json!(role)),
            CeremonyCase::WrongAccessCode { attempts_left } => Problem::new(
                StatusCode::FORBIDDEN,
                "access-code-wrong",
                "Wrong access code",
            )
            .with_extension("attempts_left", serde_json::json!(attempts_left)),
            CeremonyCase::LinkExpired => Problem::new(
                StatusCode::GONE,
                "signing-link-expired",
                "Link expired",
            )
            .with_detail(
                "Links to a completed envelope's documents work for a limited time. Ask for a \
                 fresh one: POST to this link's /new-link, and it is mailed to your address.",
            ),
            CeremonyCase::Locked(until) => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "access-code-locked",
                "Too many wrong codes",
            )
            .with_detail(format!("Try again after {until}."))
            .with_extension("locked_until", serde_json::json!(until)),
        }
    }
}

/// What can go wrong opening an embedded signing URL.
pub type EmbeddedError = RouteError<EmbeddedCase>;

/// What only an embedded signing view refuses or fails with.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedCase {
    /// Unknown or already used.
    #[error("unknown or used view URL")]
    Unknown,
    /// Past its five minutes.
    #[error("view URL expired")]
    Expired,
    /// The web app's page (`{APP_URL}/index.html`) could not be read.
    #[error("web app unavailable: {0:#}")]
    WebAppUnavailable(anyhow::Error),
}

gsign_platform::route_error_area!(EmbeddedCase);

impl IntoProblem for EmbeddedCase {
    fn into_problem(self) -> Problem {
        match self {
            EmbeddedCase::Unknown => Problem::new(
                StatusCode::NOT_FOUND,
                "embedded-link-invalid",
                "Signing view not valid",
            )
            .with_detail(
                "This view URL or handed-out signing link is unknown or was opened already; ask \
                 the sender for a new one.",
            ),
            EmbeddedCase::Expired => Problem::new(
                StatusCode::GONE,
                "embedded-link-expired",
                "Signing view expired",
            )
            .with_detail(
                "View URLs work for five minutes, handed-out signing links until the envelope \
                 expires (at most seven days); ask the sender for a new one.",
            ),
            EmbeddedCase::WebAppUnavailable(err) => {
                tracing::error!(
                    error = format!("{err:#}"),
                    "the web app's page cannot be read"
                );
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "web-app-unavailable",
                    "Signing page unavailable",
                )
                .with_detail("The signing page cannot be served right now; try again shortly.")
                .with_extension("retry_after", serde_json::json!(30))
            }
        }
    }
}
