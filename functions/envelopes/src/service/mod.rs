//! The envelopes area's service: the type every route, job and use case of the area is a
//! method of, built once per container, and the only part of the area other areas use (doc
//! packs issue, send and void their documents' envelopes through it, and read what those
//! envelopes announced).

pub mod acting;
pub mod ceremony;
pub mod drafts;
pub mod embedded;
pub mod lifecycle;
pub mod mail;
pub mod packs;
pub mod send;

use chrono::Utc;
use gsign_core::envelopes::{EnvelopeStatus, EvidenceEvent};
use gsign_core::Env;
use gsign_platform::database::Transaction;
use gsign_platform::http::Caller;
use gsign_platform::lambda::StartupError;
use gsign_platform::service::{Base, BaseConfig};
use gsign_platform::storage::{DocumentStore, ObjectRef};
use uuid::Uuid;

pub use crate::error::{EnvelopesCase, EnvelopesError};
use crate::store::{self, Envelope};

/// What the envelope routes read besides the service base.
pub(crate) struct Settings {
    /// `APP_URL`: the web app, for signing links.
    pub app_url: String,
    /// `DOCUMENT_MAX_BYTES`: the largest document to prepare.
    pub max_document_bytes: u64,
    /// `COMPLETED_LINK_TTL_DAYS` (30): how long a link to a completed envelope's documents
    /// works; a fresh one can be asked for by email.
    pub completed_link_days: i64,
}

/// The service behind the routes.
pub struct EnvelopesApi {
    pub(crate) base: Base,
    pub(crate) store: DocumentStore,
    pub(crate) settings: Settings,
}

impl EnvelopesApi {
    /// Reads the configuration and builds the clients (once per container).
    #[tracing::instrument(skip_all)]
    pub async fn from_env(env: &Env) -> Result<Self, StartupError> {
        let mut r = env.reader();
        let base = BaseConfig::read(&mut r);
        let bucket = r.required::<String>("DOCUMENTS_BUCKET");
        let kms_key_id = r.required::<String>("DOCUMENTS_KEY_ID");
        let app_url = r.required::<url::Url>("APP_URL");
        let max_document_bytes = r.or("DOCUMENT_MAX_BYTES", 25u64 * 1024 * 1024);
        let completed_link_days = r.or("COMPLETED_LINK_TTL_DAYS", 30i64);
        let (base, bucket, kms_key_id, app_url) =
            r.finish(|| Some((base?, bucket?, kms_key_id?, app_url?)))?;
        let base = Base::build(base).await?;
        Ok(Self {
            store: DocumentStore::new(gsign_platform::aws::s3(&base.sdk), bucket, kms_key_id),
            base,
            settings: Settings {
                app_url: app_url.as_str().trim_end_matches('/').to_owned(),
                max_document_bytes,
                completed_link_days,
            },
        })
    }

    /// The database, cache, limiter and outbox relay.
    pub fn base(&self) -> &Base {
        &self.base
    }

    /// The documents bucket.
    pub fn store(&self) -> &DocumentStore {
        &self.store
    }

    /// The evidence event of `action` by `caller` on `envelope`.
    pub(crate) fn event(
        caller: &Caller,
        envelope: Uuid,
        action: &str,
        recipient: Option<Uuid>,
        details: serde_json::Value,
    ) -> EvidenceEvent {
        let (actor_type, actor_id) = match (caller.user, caller.api_key) {
            (Some(user), _) => ("user", Some(user)),
            (None, Some(key)) => ("api_key", Some(key)),
            (None, None) => ("system", None),
        };
        EvidenceEvent {
            envelope_id: envelope,
            sequence: 0,
            action: action.to_owned(),
            actor_type: actor_type.to_owned(),
            actor_id,
            recipient_id: recipient,
            ip: caller.ip.clone(),
            user_agent: caller.user_agent.clone(),
            details,
            occurred_at: Utc::now(),
        }
    }

    /// The envelope `id` of the caller's organization, locked, if its status is `wanted`;
    /// otherwise `wrong(status)`.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub(crate) async fn locked(
        tx: &Transaction<'_>,
        caller: &Caller,
        id: Uuid,
        wanted: EnvelopeStatus,
        wrong: fn(EnvelopeStatus) -> EnvelopesCase,
    ) -> Result<Envelope, EnvelopesError> {
        let envelope = store::get(tx, caller.org, id, true)
            .await?
            .ok_or(EnvelopesError::NotFound("envelope"))?;
        if envelope.status != wanted {
            return Err(wrong(envelope.status).into());
        }
        Ok(envelope)
    }

    /// The envelope, locked, if it is a draft of the caller's organization.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub(crate) async fn draft(
        tx: &Transaction<'_>,
        caller: &Caller,
        id: Uuid,
    ) -> Result<Envelope, EnvelopesError> {
        Self::locked(
            tx,
            caller,
            id,
            EnvelopeStatus::Draft,
            EnvelopesCase::NotDraft,
        )
        .await
    }
}

/// One signer of a pack's document, in signing order.
#[derive(Debug, Clone)]
pub struct PackSigner {
    /// The pack's signer role (`buyer`, `talent`, …).
    pub role: String,
    /// Their name.
    pub name: String,
    /// Their email.
    pub email: String,
    /// Where their signature goes: page (1-based) and box from the top-left, in points.
    pub signature_box: (i32, f64, f64, f64, f64),
}

/// The envelope of one pack document.
#[derive(Debug, Clone)]
pub struct PackEnvelope {
    /// The generated PDF, as a ready document.
    pub document_id: Uuid,
    /// The envelope's name (the document's title).
    pub name: String,
    /// The message in the signing request.
    pub message: Option<String>,
    /// Who signs, in order.
    pub signers: Vec<PackSigner>,
}

/// The draft created for a pack document: the envelope and each role's recipient.
#[derive(Debug, Clone)]
pub struct PackDraft {
    /// The envelope.
    pub envelope_id: Uuid,
    /// `(role, recipient id)`, in signing order.
    pub recipients: Vec<(String, Uuid)>,
}

/// A completed envelope's documents as stored: its sealed final PDF and its certificate of
/// completion (each `None` until the envelope completed).
#[derive(Debug, Clone, Default)]
pub struct CompletedDocuments {
    /// The final, sealed PDF.
    pub final_pdf: Option<ObjectRef>,
    /// The certificate of completion.
    pub certificate: Option<ObjectRef>,
}

/// An evidence event the platform itself records.
pub(crate) fn system_event(
    envelope: &Envelope,
    action: &str,
    recipient: Option<Uuid>,
    details: serde_json::Value,
) -> EvidenceEvent {
    EvidenceEvent {
        envelope_id: envelope.id,
        sequence: 0,
        action: action.to_owned(),
        actor_type: "system".to_owned(),
        actor_id: None,
        recipient_id: recipient,
        ip: None,
        user_agent: None,
        details,
        occurred_at: Utc::now(),
    }
}
