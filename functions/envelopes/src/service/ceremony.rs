//! The signing ceremony's first routes, authenticated by the signing link (no user session):
//! `GET /v1/signing/{token}` (the envelope, the recipient's fields, a short-lived link to the
//! current PDF; records `viewed`), `POST /v1/signing/{token}/access-code` (attempts limited,
//! then a lockout), `POST /v1/signing/{token}/consent` (electronic-records consent) and
//! `POST /v1/signing/{token}/decline` (ends the envelope for everyone).
//!
//! The token is the credential: only its SHA-256 is stored. Every action holds the envelope's
//! row lock and writes its evidence (with the recipient's IP and user agent) in the same
//! transaction. Only the current routing order may act.

use gsign_platform::database::Transaction;
use std::time::Duration;

use chrono::{DateTime, Utc};
use gsign_core::envelopes::{
    AuthMethod, EnvelopeStatus, EvidenceEvent, RecipientRole, RecipientStatus, RoutingType,
};
use gsign_core::routing::{self, Answer, SignInput, SignatureInput, Slot};
use gsign_core::webhooks::EventType;
use gsign_platform::outbox;
use gsign_platform::storage::{ObjectRef, Presigned};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use uuid::Uuid;

use crate::error::{CeremonyCase, CeremonyError};
use crate::service::EnvelopesApi;
use crate::store::{self, Field};

/// Wrong codes before the link locks.
pub const MAX_CODE_FAILURES: i32 = 5;
/// How long it stays locked: each lockout of the same link lasts longer (15 min, 1 h, then
/// 24 h for every later one); they never reset to the first.
pub const LOCKOUTS: [Duration; 3] = [
    Duration::from_secs(15 * 60),
    Duration::from_secs(60 * 60),
    Duration::from_secs(24 * 60 * 60),
];
/// How long a given code is good for.
pub const CODE_VALIDITY: Duration = Duration::from_secs(60 * 60);
pub use gsign_core::envelopes::DISCLOSURE_VERSION;

/// Someone following a signing link: the link's token (the path's `{token}`, as given) and
/// where they come from, for the evidence.
#[derive(Debug, Clone, Default)]
pub struct Visit {
    /// The link's token.
    pub token: Option<String>,
    /// The visitor's IP address.
    pub ip: Option<String>,
    /// The visitor's `User-Agent`.
    pub user_agent: Option<String>,
}

/// The recipient behind a link, with what the ceremony needs of their envelope.
struct Party {
    recipient: store::CeremonyRecipient,
    envelope: store::Envelope,
    ip: Option<String>,
    user_agent: Option<String>,
}

impl Party {
    fn event(&self, action: &str, details: serde_json::Value) -> EvidenceEvent {
        EvidenceEvent {
            envelope_id: self.envelope.id,
            sequence: 0,
            action: action.to_owned(),
            actor_type: "recipient".to_owned(),
            actor_id: Some(self.recipient.id),
            recipient_id: Some(self.recipient.id),
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            details,
            occurred_at: Utc::now(),
        }
    }

    /// A webhook's data about this recipient, now `status`.
    fn hook_data(&self, status: &str) -> serde_json::Value {
        serde_json::json!({
            "envelope_id": self.envelope.id,
            "recipient_id": self.recipient.id,
            "role": self.recipient.role,
            "status": status,
        })
    }

    /// Whether the envelope is open and it is this recipient's turn.
    fn may_act(&self) -> Result<(), CeremonyError> {
        if self.envelope.status != EnvelopeStatus::Sent {
            return Err(CeremonyCase::Closed(self.envelope.status).into());
        }
        if matches!(
            self.recipient.status,
            RecipientStatus::Signed | RecipientStatus::Approved | RecipientStatus::Declined
        ) {
            return Err(CeremonyCase::AlreadyDone(self.recipient.status.to_string()).into());
        }
        let sequential = self.envelope.routing_type == RoutingType::Sequential;
        if sequential && Some(self.recipient.routing_order) != self.envelope.current_routing_order {
            return Err(CeremonyCase::NotYourTurn {
                yours: self.recipient.routing_order,
                current: self.envelope.current_routing_order,
            }
            .into());
        }
        Ok(())
    }

    /// Whether the recipient may give the access code: the envelope is not closed to them
    /// and, while it is out for signature, it is their turn unless they signed or approved
    /// (the code also opens a completed envelope's final document, after the recipient acted).
    fn may_give_code(&self) -> Result<(), CeremonyError> {
        let status = self.envelope.status;
        if status.is_closed_to_recipients() {
            return Err(CeremonyCase::Closed(status).into());
        }
        if status == EnvelopeStatus::Sent
            && !matches!(
                self.recipient.status,
                RecipientStatus::Signed | RecipientStatus::Approved
            )
        {
            self.may_act()?;
        }
        Ok(())
    }

    /// Whether the access code, when required, was given recently.
    fn authenticated(&self, now: DateTime<Utc>) -> bool {
        self.recipient.auth_method != AuthMethod::AccessCode
            || self
                .recipient
                .access_verified_until
                .is_some_and(|until| until > now)
    }
}

/// `GET /v1/signing/{token}` answer.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "SigningView")]
pub(crate) struct CeremonyView {
    /// The envelope.
    envelope: EnvelopeSummary,
    /// The recipient of the link.
    recipient: RecipientSummary,
    /// The recipient's own fields.
    fields: Vec<Field>,
    /// A short-lived link to the current PDF (once the access code, if any, was given); the
    /// final, sealed one once the envelope is completed.
    document: Option<Presigned>,
    /// A short-lived link to the certificate of completion, once there is one.
    certificate: Option<Presigned>,
}

/// The envelope, as its signing page shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "SigningEnvelope")]
struct EnvelopeSummary {
    /// Id.
    id: Uuid,
    /// Its name.
    name: Option<String>,
    /// The sender's message.
    message: Option<String>,
    /// Sent or completed.
    status: EnvelopeStatus,
    /// When it expires unless completed.
    expires_at: Option<DateTime<Utc>>,
    /// Who sent it, so the recipient knows whom they deal with.
    sender: store::Sender,
    /// Why the signing work stopped, when it did (the page says so instead of waiting).
    processing_error: Option<String>,
    /// The language the sender chose for these pages, if any.
    language: Option<String>,
}

/// The recipient of the link, as their signing page shows them.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "SigningRecipient")]
struct RecipientSummary {
    /// Id.
    id: Uuid,
    /// Display name.
    name: String,
    /// Email address.
    email: String,
    /// What they do.
    role: RecipientRole,
    /// Where they stand.
    status: RecipientStatus,
    /// The access code must be given (again) before the document is shown.
    access_code_required: bool,
    /// While too many wrong codes lock the link: until when (the page says so on opening,
    /// instead of after one more try).
    access_code_locked_until: Option<DateTime<Utc>>,
    /// The electronic-records consent was given.
    consented: bool,
    /// The disclosure version consent is asked for.
    disclosure_version: &'static str,
    /// The envelope is open, it is their turn, and they have not finished.
    may_act: bool,
    /// The signing worker put this recipient's signature in the PDF (the page waits for it
    /// after `sign`).
    applied: bool,
    /// The recipient's place in the routing.
    routing_order: i32,
    /// Names of those acting now, while it is not yet this recipient's turn.
    waiting_for: Vec<String>,
}

/// `POST /v1/signing/{token}/access-code` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AccessCodeInput")]
pub(crate) struct AccessCode {
    /// The access code the sender gave the recipient.
    code: String,
}

/// `POST /v1/signing/{token}/consent` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ConsentInput")]
pub(crate) struct Consent {
    /// The disclosure version agreed to: the current one (`disclosure_version` of the view).
    disclosure_version: String,
    /// Must be `true`.
    accepted: bool,
}

/// `POST /v1/signing/{token}/decline` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DeclineInput")]
pub(crate) struct Decline {
    /// Why, told to the sender: 1 to 1000 characters.
    reason: String,
}

/// The largest drawn signature accepted, decoded.
pub const MAX_SIGNATURE_PNG_BYTES: usize = 512 * 1024;

/// `POST /v1/signing/{token}/sign` answer.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "SignAccepted")]
pub(crate) struct Signed {
    /// `signed` or `approved`.
    status: &'static str,
    /// What happens next.
    detail: &'static str,
}

/// The adopted signature, checked.
enum Adopted {
    Drawn(Vec<u8>),
    Typed(String),
}

/// Decodes and checks a drawn signature (a PNG the signing engine can place).
fn adopted(input: Option<&SignatureInput>) -> Result<Option<Adopted>, CeremonyError> {
    use base64::Engine as _;
    let invalid = |detail: String| CeremonyError::invalid("/signature/image_png", detail);
    Ok(match input {
        None => None,
        Some(SignatureInput::Typed { text }) => Some(Adopted::Typed(text.trim().to_owned())),
        Some(SignatureInput::Drawn { image_png }) => {
            let encoded = image_png
                .strip_prefix("data:image/png;base64,")
                .unwrap_or(image_png);
            let png = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|e| invalid(format!("is not base64: {e}")))?;
            if png.len() > MAX_SIGNATURE_PNG_BYTES {
                return Err(invalid(format!(
                    "is {} bytes; at most {MAX_SIGNATURE_PNG_BYTES}",
                    png.len()
                )));
            }
            gsign_signing::appearance::Drawing::from_png(&png)
                .map_err(|e| invalid(e.to_string()))?;
            Some(Adopted::Drawn(png))
        }
    })
}

impl EnvelopesApi {
    /// The recipient of `token`, their envelope locked, and the recipient read again under
    /// that lock: every ceremony step of an envelope sees what the one before it committed
    /// (parallel wrong codes each count; a second `sign` finds the recipient done).
    #[tracing::instrument(skip_all)]
    async fn party(tx: &Transaction<'_>, visit: &Visit) -> Result<Party, CeremonyError> {
        let token = visit.token.as_deref().ok_or(CeremonyCase::UnknownLink)?;
        if token.len() < 32 || token.len() > 128 {
            return Err(CeremonyCase::UnknownLink.into());
        }
        let hash = gsign_platform::credentials::sha256_hex(token);
        let found = store::recipient_by_token(tx, &hash)
            .await?
            .ok_or(CeremonyCase::UnknownLink)?;
        let envelope = store::get(tx, found.organization_id, found.envelope_id, true)
            .await?
            .ok_or(CeremonyCase::UnknownLink)?;
        let recipient = store::recipient_by_token(tx, &hash)
            .await?
            .filter(|r| r.envelope_id == envelope.id)
            .ok_or(CeremonyCase::UnknownLink)?;
        if recipient
            .link_expires_at
            .is_some_and(|expires| expires <= Utc::now())
        {
            return Err(CeremonyCase::LinkExpired.into());
        }
        let (ip, user_agent) = (visit.ip.clone(), visit.user_agent.clone());
        Ok(Party {
            recipient,
            envelope,
            ip,
            user_agent,
        })
    }

    #[tracing::instrument(skip_all)]
    pub(crate) async fn view(&self, visit: &Visit) -> Result<CeremonyView, CeremonyError> {
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let party = Self::party(&tx, visit).await?;
        let status = party.envelope.status;
        if status.is_closed_to_recipients() {
            return Err(CeremonyCase::Closed(status).into());
        }
        let now = Utc::now();
        let may_act = party.may_act().is_ok();
        let mut jobs = Vec::new();
        // Viewed means the document was shown: with an access code, only once it was given.
        let first_view = party.recipient.viewed_at.is_none() && may_act && party.authenticated(now);
        if first_view {
            Self::record_view(&tx, &party, &mut jobs).await?;
        }
        let fields: Vec<Field> = store::fields(&tx, party.envelope.id)
            .await?
            .into_iter()
            .filter(|f| f.recipient_id == party.recipient.id)
            .collect();
        let sender = store::sender(&tx, &party.envelope).await?;
        let everyone = store::recipients(&tx, party.envelope.id).await?;
        let e = &party.envelope;
        let pdf = (&e.current_s3_key, &e.current_s3_version_id);
        let document = self.pdf_link(&party, pdf, "final", now).await?;
        let cert = (&e.certificate_s3_key, &e.certificate_s3_version_id);
        let certificate = self.pdf_link(&party, cert, "certificate", now).await?;
        tx.commit().await?;
        drop(conn);
        self.base.relay.publish(&self.base.db, &jobs).await;
        Ok(CeremonyView {
            envelope: envelope_summary(&party.envelope, sender),
            recipient: recipient_summary(&party, &everyone, first_view, now),
            fields,
            document,
            certificate,
        })
    }

    /// The recipient's first view: its evidence and webhook and, for a viewer (viewing is all
    /// a viewer does), a job for the signing worker, as the routing may move on.
    #[tracing::instrument(skip_all)]
    async fn record_view(
        tx: &Transaction<'_>,
        party: &Party,
        jobs: &mut Vec<Uuid>,
    ) -> Result<(), CeremonyError> {
        let org = party.envelope.organization_id;
        store::mark_viewed(tx, party.recipient.id).await?;
        store::record(
            tx,
            org,
            party.event("recipient.viewed", serde_json::json!({})),
        )
        .await?
        .announce_with(jobs);
        jobs.push(
            outbox::webhook(
                tx,
                org,
                EventType::RecipientViewed,
                party.hook_data("viewed"),
            )
            .await
            .map_err(CeremonyError::Internal)?
            .0,
        );
        if party.recipient.role == RecipientRole::Viewer {
            let job = outbox::SigningJob {
                organization_id: org,
                envelope_id: party.envelope.id,
            };
            jobs.push(
                outbox::signing(tx, &job)
                    .await
                    .map_err(CeremonyError::Internal)?,
            );
        }
        Ok(())
    }

    /// A short-lived link to one of the envelope's PDFs (its key, if stored, and version),
    /// once the access code, if any, was given. While signing, the page shows the PDF
    /// (inline); once completed, the links are for saving the files (attachment), which every
    /// browser downloads without script.
    #[tracing::instrument(skip_all)]
    async fn pdf_link(
        &self,
        party: &Party,
        (key, version_id): (&Option<String>, &Option<String>),
        variant: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Presigned>, CeremonyError> {
        let (Some(key), true) = (key, party.authenticated(now)) else {
            return Ok(None);
        };
        let disposition = if party.envelope.status == EnvelopeStatus::Completed {
            let id = party.envelope.id;
            format!("attachment; filename=\"envelope-{id}-{variant}.pdf\"")
        } else {
            "inline".to_owned()
        };
        let object = ObjectRef {
            key: key.clone(),
            version_id: version_id.clone(),
        };
        let ttl = Duration::from_secs(300);
        Ok(Some(
            self.store
                .presign_get(&object, "application/pdf", &disposition, ttl)
                .await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    pub(crate) async fn access_code(
        &self,
        visit: &Visit,
        input: AccessCode,
    ) -> Result<(), CeremonyError> {
        // The code is checked before the envelope is locked (argon2id takes tens of
        // milliseconds, and parallel guesses would queue on the lock); the verdict is applied
        // under the lock, where the lockout is read again and failures are counted atomically.
        let checked = self.check_code(visit, input.code.trim()).await?;
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let party = Self::party(&tx, visit).await?;
        party.may_give_code()?;
        let now = Utc::now();
        if let Some(until) = party.recipient.locked_until.filter(|until| *until > now) {
            return Err(CeremonyCase::Locked(until).into());
        }
        let Some(hash) = party.recipient.access_code_hash.as_deref() else {
            return Err(CeremonyError::invalid(
                "/code",
                "this link needs no access code",
            ));
        };
        if checked
            .as_ref()
            .is_some_and(|(checked_hash, correct)| *correct && checked_hash == hash)
        {
            Self::accept_code(&tx, &party, now).await?;
            tx.commit().await?;
            return Ok(());
        }
        let refused = Self::refuse_code(&tx, &party).await?;
        // The refusal is recorded: commit before answering with it.
        tx.commit().await?;
        Err(match refused.locked_until {
            Some(until) => CeremonyError::Area(CeremonyCase::Locked(until)),
            None => CeremonyError::Area(CeremonyCase::WrongAccessCode {
                attempts_left: MAX_CODE_FAILURES - refused.failures,
            }),
        })
    }

    /// A right code: the link is verified for [`CODE_VALIDITY`], with the evidence.
    #[tracing::instrument(skip_all)]
    async fn accept_code(
        tx: &Transaction<'_>,
        party: &Party,
        now: DateTime<Utc>,
    ) -> Result<(), CeremonyError> {
        store::code_accepted(
            tx,
            party.recipient.id,
            now + chrono::Duration::from_std(CODE_VALIDITY).unwrap_or_default(),
        )
        .await?;
        store::record(
            tx,
            party.envelope.organization_id,
            party.event(
                "recipient.authenticated",
                serde_json::json!({"method": "access_code"}),
            ),
        )
        .await?;
        Ok(())
    }

    /// A wrong code: counted, with the evidence of the failure and of the lockout it caused,
    /// if it did.
    #[tracing::instrument(skip_all)]
    async fn refuse_code(
        tx: &Transaction<'_>,
        party: &Party,
    ) -> Result<store::CodeRefused, CeremonyError> {
        let org = party.envelope.organization_id;
        let refused =
            store::code_refused(tx, party.recipient.id, MAX_CODE_FAILURES, &LOCKOUTS).await?;
        store::record(
            tx,
            org,
            party.event(
                "recipient.access_code_failed",
                serde_json::json!({"failures": refused.failures}),
            ),
        )
        .await?;
        if let Some(until) = refused.locked_until {
            store::record(
                tx,
                org,
                party.event("recipient.locked", serde_json::json!({"until": until})),
            )
            .await?;
        }
        Ok(refused)
    }

    /// The access-code hash of the link's recipient and whether `code` matches it, read and
    /// verified without any lock; `None` when the link is unknown or needs no code.
    #[tracing::instrument(skip_all)]
    async fn check_code(
        &self,
        visit: &Visit,
        code: &str,
    ) -> Result<Option<(String, bool)>, CeremonyError> {
        let Some(token) = visit
            .token
            .as_deref()
            .filter(|t| (32..=128).contains(&t.len()))
        else {
            return Ok(None);
        };
        let hash = gsign_platform::credentials::sha256_hex(token);
        let stored = {
            let client = self.base.db.connect().await?;
            store::recipient_by_token(&client, &hash)
                .await?
                .and_then(|r| r.access_code_hash)
        };
        let Some(stored) = stored else {
            return Ok(None);
        };
        let given = secrecy::SecretString::from(code.to_owned());
        let verify_against = stored.clone();
        let correct = tokio::task::spawn_blocking(move || {
            gsign_platform::credentials::verify_password(&given, &verify_against)
        })
        .await
        .map_err(|e| CeremonyError::Internal(e.into()))?;
        Ok(Some((stored, correct)))
    }

    #[tracing::instrument(skip_all)]
    pub(crate) async fn consent(&self, visit: &Visit, input: Consent) -> Result<(), CeremonyError> {
        if !input.accepted || input.disclosure_version != DISCLOSURE_VERSION {
            return Err(CeremonyError::invalid(
                "/disclosure_version",
                format!("accept the current disclosure ({DISCLOSURE_VERSION})"),
            ));
        }
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let party = Self::party(&tx, visit).await?;
        party.may_act()?;
        if !party.authenticated(Utc::now()) {
            return Err(CeremonyCase::AccessCodeRequired.into());
        }
        store::consented(&tx, party.recipient.id, DISCLOSURE_VERSION).await?;
        store::record(
            &tx,
            party.envelope.organization_id,
            party.event(
                "recipient.consented",
                serde_json::json!({"disclosure_version": DISCLOSURE_VERSION}),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A signer's signature and field values, or an approver's approval: recorded with the
    /// evidence, and a job for the signing worker, which puts the signature in the PDF and
    /// moves the routing on.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn sign(
        &self,
        visit: &Visit,
        input: SignInput,
    ) -> Result<Signed, CeremonyError> {
        let signature = adopted(input.signature.as_ref())?;
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let party = Self::party(&tx, visit).await?;
        party.may_act()?;
        if !party.authenticated(Utc::now()) {
            return Err(CeremonyCase::AccessCodeRequired.into());
        }
        if party.recipient.consented_at.is_none() {
            return Err(CeremonyCase::ConsentRequired.into());
        }
        let role = party.recipient.role;
        let mut publish = Vec::new();
        let outcome = match role {
            RecipientRole::Signer => {
                Self::submit_signature(&tx, &party, &input, signature.as_ref(), &mut publish)
                    .await?
            }
            RecipientRole::Approver => Self::approve(&tx, &party, &mut publish).await?,
            RecipientRole::Viewer | RecipientRole::Cc => {
                return Err(CeremonyError::Area(CeremonyCase::NothingToSign(
                    role.to_string(),
                )))
            }
        };
        let job_and_hook = Self::signing_job_and_hook(&tx, &party, outcome.status).await?;
        tx.commit().await?;
        // The connection goes back first: publishing takes one of its own.
        drop(conn);
        publish.extend(job_and_hook);
        self.base.relay.publish(&self.base.db, &publish).await;
        Ok(outcome)
    }

    /// A signer's field values and adopted signature, submitted, with the evidence.
    #[tracing::instrument(skip_all)]
    async fn submit_signature(
        tx: &Transaction<'_>,
        party: &Party,
        input: &SignInput,
        signature: Option<&Adopted>,
        publish: &mut Vec<Uuid>,
    ) -> Result<Signed, CeremonyError> {
        let slots = own_slots(tx, party).await?;
        let answers =
            routing::answers(&slots, input, Utc::now()).map_err(CeremonyError::Validation)?;
        let (kind, png, text) = signature_parts(signature, &party.recipient.name);
        for (field, answer) in &answers {
            let value = match answer {
                Answer::Text(text) => text.clone(),
                Answer::Checked(checked) => checked.to_string(),
                Answer::Signature => text.clone(),
            };
            store::fill_field(tx, *field, &value).await?;
        }
        let submitted = store::Submitted {
            recipient: party.recipient.id,
            kind,
            png,
            text: &text,
            ip: party.ip.as_deref(),
            user_agent: party.user_agent.as_deref(),
        };
        store::submit_signature(tx, &submitted).await?;
        let image_sha256 = png.map(|png| hex::encode(sha2::Sha256::digest(png)));
        store::record(
            tx,
            party.envelope.organization_id,
            party.event(
                "recipient.signed",
                serde_json::json!({
                    "signature": kind,
                    "signature_sha256": image_sha256,
                    "fields": answers.len(),
                    "disclosure_version": DISCLOSURE_VERSION,
                }),
            ),
        )
        .await?
        .announce_with(publish);
        Ok(Signed {
            status: "signed",
            detail: "Your signature is being applied to the document; you will get the completed document by email.",
        })
    }

    /// An approver's approval, with the evidence.
    #[tracing::instrument(skip_all)]
    async fn approve(
        tx: &Transaction<'_>,
        party: &Party,
        publish: &mut Vec<Uuid>,
    ) -> Result<Signed, CeremonyError> {
        let (ip, user_agent) = (party.ip.as_deref(), party.user_agent.as_deref());
        store::approve(tx, party.recipient.id, ip, user_agent).await?;
        store::record(
            tx,
            party.envelope.organization_id,
            party.event("recipient.approved", serde_json::json!({})),
        )
        .await?
        .announce_with(publish);
        Ok(Signed {
            status: "approved",
            detail: "Your approval is recorded; you will get the completed document by email.",
        })
    }

    /// The signing worker's job for the envelope and the webhook saying the recipient is now
    /// `status`: their outbox rows.
    #[tracing::instrument(skip_all)]
    async fn signing_job_and_hook(
        tx: &Transaction<'_>,
        party: &Party,
        status: &str,
    ) -> Result<[Uuid; 2], CeremonyError> {
        let org = party.envelope.organization_id;
        let job = outbox::signing(
            tx,
            &outbox::SigningJob {
                organization_id: org,
                envelope_id: party.envelope.id,
            },
        )
        .await
        .map_err(CeremonyError::Internal)?;
        let (hook, _) =
            outbox::webhook(tx, org, EventType::RecipientSigned, party.hook_data(status))
                .await
                .map_err(CeremonyError::Internal)?;
        Ok([job, hook])
    }

    #[tracing::instrument(skip_all)]
    pub(crate) async fn decline(&self, visit: &Visit, input: Decline) -> Result<(), CeremonyError> {
        let reason = input.reason.trim().to_owned();
        if reason.is_empty() || reason.chars().count() > 1000 {
            return Err(CeremonyError::invalid(
                "/reason",
                "must be 1 to 1000 characters",
            ));
        }
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let party = Self::party(&tx, visit).await?;
        party.may_act()?;
        if !party.authenticated(Utc::now()) {
            return Err(CeremonyCase::AccessCodeRequired.into());
        }
        if party.recipient.role == RecipientRole::Cc {
            return Err(CeremonyCase::AlreadyDone("nothing to decline on".into()).into());
        }
        let mut emails = Self::record_decline(&tx, &party, &reason).await?;
        emails.extend(Self::decline_webhooks(&tx, &party).await?);
        if let Some(to) = store::sender_email(&tx, party.envelope.id).await? {
            let letter = self.declined_letter(&party, to, &reason);
            emails.push(
                outbox::email(&tx, party.envelope.organization_id, &letter)
                    .await
                    .map_err(CeremonyError::Internal)?,
            );
        }
        tx.commit().await?;
        self.base.relay.publish(&self.base.db, &emails).await;
        Ok(())
    }

    /// The recipient declined, and so the envelope: both in the evidence (the envelope's as
    /// the system's); the announcements' outbox rows.
    #[tracing::instrument(skip_all)]
    async fn record_decline(
        tx: &Transaction<'_>,
        party: &Party,
        reason: &str,
    ) -> Result<Vec<Uuid>, CeremonyError> {
        let org = party.envelope.organization_id;
        store::declined(tx, party.recipient.id, party.envelope.id, reason).await?;
        let mut emails = Vec::new();
        store::record(
            tx,
            org,
            party.event("recipient.declined", serde_json::json!({"reason": reason})),
        )
        .await?
        .announce_with(&mut emails);
        let mut closed = party.event(
            "envelope.declined",
            serde_json::json!({"by": party.recipient.email}),
        );
        closed.actor_type = "system".to_owned();
        closed.actor_id = None;
        store::record(tx, org, closed)
            .await?
            .announce_with(&mut emails);
        Ok(emails)
    }

    /// The recipient's and the envelope's `declined` webhooks: their outbox rows.
    #[tracing::instrument(skip_all)]
    async fn decline_webhooks(
        tx: &Transaction<'_>,
        party: &Party,
    ) -> Result<Vec<Uuid>, CeremonyError> {
        let mut rows = Vec::new();
        for (event_type, data) in [
            (EventType::RecipientDeclined, party.hook_data("declined")),
            (
                EventType::EnvelopeDeclined,
                serde_json::json!({"envelope_id": party.envelope.id, "status": "declined"}),
            ),
        ] {
            rows.push(
                outbox::webhook(tx, party.envelope.organization_id, event_type, data)
                    .await
                    .map_err(CeremonyError::Internal)?
                    .0,
            );
        }
        Ok(rows)
    }

    /// The email telling the sender (`to`) the recipient declined, and why.
    fn declined_letter(&self, party: &Party, to: String, reason: &str) -> outbox::Email {
        outbox::Email {
            template: "envelope_declined".to_owned(),
            to,
            data: serde_json::json!({
                "recipient_name": party.recipient.name,
                "recipient_email": party.recipient.email,
                "envelope_name": party.envelope.name.clone().unwrap_or_else(|| "your envelope".to_owned()),
                "reason": reason,
                "link": format!("{}/envelopes/{}", self.settings.app_url, party.envelope.id),
            }),
            envelope_id: Some(party.envelope.id),
            ..Default::default()
        }
    }
}

/// A fresh link is mailed on request at most this often.
pub const NEW_LINK_EVERY: Duration = Duration::from_secs(10 * 60);

/// `POST /v1/signing/{token}/new-link` answer (the same whether or not a link was mailed).
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "NewLinkRequested")]
pub(crate) struct NewLink {
    /// What happens next.
    detail: &'static str,
}

impl EnvelopesApi {
    /// Mails a fresh link to a completed envelope's documents to the recipient's own address
    /// (whoever holds the old link only triggers a mail to its rightful owner), at most once
    /// per [`NEW_LINK_EVERY`].
    #[tracing::instrument(skip_all)]
    pub(crate) async fn new_link(&self, visit: &Visit) -> Result<NewLink, CeremonyError> {
        let answer = NewLink {
            detail: "If this envelope is completed, a fresh link is on its way to the recipient's email address.",
        };
        let token = visit
            .token
            .as_deref()
            .filter(|t| (32..=128).contains(&t.len()))
            .ok_or(CeremonyCase::UnknownLink)?;
        let hash = gsign_platform::credentials::sha256_hex(token);
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let (envelope, recipient) = Self::link_holder(&tx, &hash).await?;
        let recently = recipient.link_renewed_at.is_some_and(|at| {
            at + chrono::Duration::from_std(NEW_LINK_EVERY).unwrap_or_default() > Utc::now()
        });
        if envelope.status != EnvelopeStatus::Completed || recently {
            return Ok(answer);
        }
        let fresh = gsign_platform::credentials::new_token();
        let expires_at = Utc::now() + chrono::Duration::days(self.settings.completed_link_days);
        store::set_expiring_token(&tx, recipient.id, &fresh.hash, expires_at).await?;
        store::link_renewed(&tx, recipient.id).await?;
        let (ip, user_agent) = (visit.ip.clone(), visit.user_agent.clone());
        let party = Party {
            recipient,
            envelope,
            ip,
            user_agent,
        };
        let org = party.envelope.organization_id;
        store::record(
            &tx,
            org,
            party.event(
                "recipient.link_renewed",
                serde_json::json!({"expires_at": expires_at}),
            ),
        )
        .await?;
        let letter = self.fresh_link_letter(&party, fresh.secret.expose_secret());
        let email = outbox::email(&tx, org, &letter)
            .await
            .map_err(CeremonyError::Internal)?;
        tx.commit().await?;
        drop(conn);
        self.base.relay.publish(&self.base.db, &[email]).await;
        Ok(answer)
    }

    /// The envelope (locked) and the recipient of the signing token hashing to `hash`, the
    /// recipient read again under the lock.
    #[tracing::instrument(skip_all)]
    async fn link_holder(
        tx: &Transaction<'_>,
        hash: &str,
    ) -> Result<(store::Envelope, store::CeremonyRecipient), CeremonyError> {
        let found = store::recipient_by_token(tx, hash)
            .await?
            .ok_or(CeremonyCase::UnknownLink)?;
        let envelope = store::get(tx, found.organization_id, found.envelope_id, true)
            .await?
            .ok_or(CeremonyCase::UnknownLink)?;
        let recipient = store::recipient_by_token(tx, hash)
            .await?
            .ok_or(CeremonyCase::UnknownLink)?;
        Ok((envelope, recipient))
    }

    /// The email with the party's fresh link (`token`) to the completed envelope's documents.
    fn fresh_link_letter(&self, party: &Party, token: &str) -> outbox::Email {
        outbox::Email {
            template: "envelope_completed".to_owned(),
            to: party.recipient.email.clone(),
            data: serde_json::json!({
                "recipient_name": party.recipient.name,
                "organization_name": "",
                "envelope_name": party.envelope.name.clone().unwrap_or_else(|| "your envelope".to_owned()),
                "link": format!("{}/sign?token={token}", self.settings.app_url),
                "final_sha256": party.envelope.final_sha256,
            }),
            language: party.envelope.language.clone(),
            envelope_id: Some(party.envelope.id),
            recipient_id: Some(party.recipient.id),
            bulk: false,
        }
    }
}

/// The envelope as the signing page shows it.
fn envelope_summary(envelope: &store::Envelope, sender: store::Sender) -> EnvelopeSummary {
    EnvelopeSummary {
        id: envelope.id,
        name: envelope.name.clone(),
        message: envelope.message.clone(),
        status: envelope.status,
        expires_at: envelope.expires_at,
        sender,
        processing_error: envelope.processing_error.clone(),
        language: envelope.language.clone(),
    }
}

/// The link's recipient as their signing page shows them (`first_view`: now viewed), with
/// whether their signature is applied and, while it is not their turn, whom they wait for.
fn recipient_summary(
    party: &Party,
    everyone: &[store::Recipient],
    first_view: bool,
    now: DateTime<Utc>,
) -> RecipientSummary {
    let recipient = &party.recipient;
    let applied = everyone
        .iter()
        .any(|r| r.id == recipient.id && r.applied_at.is_some());
    RecipientSummary {
        id: recipient.id,
        name: recipient.name.clone(),
        email: recipient.email.clone(),
        role: recipient.role,
        status: if first_view {
            RecipientStatus::Viewed
        } else {
            recipient.status
        },
        access_code_required: !party.authenticated(now),
        access_code_locked_until: recipient
            .locked_until
            .filter(|until| *until > now && !party.authenticated(now)),
        consented: recipient.consented_at.is_some(),
        disclosure_version: DISCLOSURE_VERSION,
        may_act: party.may_act().is_ok(),
        applied,
        routing_order: recipient.routing_order,
        waiting_for: waiting_for(party, everyone),
    }
}

/// The names of those acting now, while it is not yet the party's turn.
fn waiting_for(party: &Party, everyone: &[store::Recipient]) -> Vec<String> {
    match party.may_act() {
        Err(CeremonyError::Area(CeremonyCase::NotYourTurn { current, .. })) => everyone
            .iter()
            .filter(|r| Some(r.routing_order) == current && r.role != RecipientRole::Cc)
            .filter(|r| {
                !matches!(
                    r.status,
                    RecipientStatus::Signed | RecipientStatus::Approved | RecipientStatus::Declined
                )
            })
            .map(|r| r.name.clone())
            .collect(),
        _ => Vec::new(),
    }
}

/// The party's own fields, as the slots their answers fill.
#[tracing::instrument(skip_all)]
async fn own_slots(tx: &Transaction<'_>, party: &Party) -> Result<Vec<Slot>, CeremonyError> {
    Ok(store::fields(tx, party.envelope.id)
        .await?
        .into_iter()
        .filter(|f| f.recipient_id == party.recipient.id)
        .map(|f| Slot {
            id: f.id,
            field_type: f.field_type,
            required: f.required,
        })
        .collect())
}

/// How the signature was adopted, its image if drawn, and its text: the typed one, else the
/// signer's `name`.
fn signature_parts<'a>(
    signature: Option<&'a Adopted>,
    name: &str,
) -> (&'static str, Option<&'a [u8]>, String) {
    match signature {
        Some(Adopted::Drawn(png)) => ("drawn", Some(png.as_slice()), name.to_owned()),
        Some(Adopted::Typed(text)) => ("typed", None, text.clone()),
        None => ("typed", None, name.to_owned()),
    }
}
