//! The envelopes domain's errors: the shared route error with this area's own cases, mapped to problem details once.

use gsign_core::envelopes::{EnvelopeStatus, RecipientStatus};
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
