//! Completion, the signing worker's last step once everyone is done: the platform seal over
//! the final document (timestamped unless the envelope is B-B; then, for B-LT and B-LTA, the
//! validation data and document timestamp of [`crate::jobs::archive`]), the certificate of
//! completion, the `completed` status with both SHA-256s in the evidence, and an email with
//! a download link to every party; then, once that has committed, 7 years of Object Lock
//! retention on the original, the final document and the certificate (see
//! [`SigningWorker::apply_retention`]).

use std::collections::HashMap;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use gsign_core::documents::{cache_key, retention_until};
use gsign_core::envelopes::ChainedEvent;
use gsign_core::webhooks::EventType;
use gsign_platform::database::{Session, Transaction};
use gsign_platform::outbox;
use gsign_signing::completion::{certificate_pdf, CompletionRecord, EventRecord, RecipientRecord};
use gsign_signing::pades::SignatureInfo;
use secrecy::ExposeSecret;
use uuid::Uuid;

use gsign_platform::storage::ObjectRef;

use gsign_functions_certificates::service::SealKey;

use crate::jobs::archive::archive_expiry_of;
use crate::jobs::worker::{
    archival_of, level_name, level_of, Failure, PreparedSeal, SigningWorker,
};
use crate::service::send::SEAL_FIELD;
use crate::service::system_event;
use crate::store::Letterhead;
use crate::store::{self, Envelope, RecipientEvidence, SourceDocument};

impl SigningWorker {
    /// The sealed final document of `envelope` (read without its lock), stored: the seal
    /// signed in the HSM, the validation data and archive timestamp its level asks for (the
    /// organization CA's CRL issued in statements of their own). No row lock is held; one pool
    /// connection is, while the CRL is issued and the validation data gathered (none across
    /// the seal's HSM and TSA calls or S3).
    #[tracing::instrument(skip_all)]
    pub(crate) async fn prepare_seal(
        &self,
        envelope: &Envelope,
        seal: &SealKey,
    ) -> Result<PreparedSeal, Failure> {
        let org = envelope.organization_id;
        let organization = {
            let client = self.api.base.db.connect().await?;
            Letterhead::of(&client, envelope).await?.organization
        };
        let current = self.current_pdf(envelope).await?;
        let level = level_of(envelope);
        let info = SignatureInfo {
            field_name: SEAL_FIELD.to_owned(),
            signer_name: format!("{organization} (GSign seal)"),
            reason: Some(format!(
                "Envelope {} completed; sealed by GSign",
                envelope.id
            )),
            time: SystemTime::now(),
            locks_document: true,
        };
        let sealed = self.sign(&current, &info, &[], seal, level).await?;
        let archival = archival_of(envelope);
        let sealed = {
            let client = self.api.base.db.connect().await?;
            self.archive(&client, org, sealed, archival).await?
        };
        let archive_expires_at = archive_expiry_of(&sealed).await?;
        let (final_pdf, final_sha256) = self.store(envelope, "final.pdf", &sealed).await?;
        Ok(PreparedSeal {
            revision_count: envelope.revision_count,
            final_pdf,
            final_sha256,
            archive_expires_at,
            level,
            archival,
        })
    }

    /// Certifies, retains and completes `envelope` (locked in `tx`, still at the revision
    /// `sealed` was prepared from) with its sealed final document; the emails to publish
    /// after commit.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn complete(
        &self,
        tx: &Transaction<'_>,
        envelope: &Envelope,
        seal: &SealKey,
        sealed: PreparedSeal,
    ) -> Result<Vec<Uuid>, Failure> {
        let letterhead = Letterhead::of(tx, envelope).await?;
        record_sealed(tx, envelope, seal, &sealed).await?;

        let source = source_of(tx, envelope).await?;
        let recipients = store::recipient_evidence(tx, envelope.id).await?;
        let events = store::events(tx, envelope.id).await?;
        let completed_at = Utc::now();
        let record = completion_record(
            envelope,
            &source,
            &letterhead,
            &sealed.final_sha256,
            completed_at,
            &recipients,
            &events,
        );
        let (certificate, certificate_sha256) = self.certify(envelope, record).await?;

        let until = retention_until(completed_at);
        self.retain(tx, envelope, until).await?;
        let done = store::Completed {
            final_pdf: &sealed.final_pdf,
            final_sha256: &sealed.final_sha256,
            certificate: &certificate,
            certificate_sha256: &certificate_sha256,
            completed_at,
            archive_expires_at: sealed.archive_expires_at,
        };
        let completed = store::complete(tx, envelope.id, &done).await?;
        let hashes = Hashes {
            original_sha256: &source.sha256,
            final_sha256: &sealed.final_sha256,
            certificate_sha256: &certificate_sha256,
        };
        let mut emails = Vec::from_iter(record_completed(tx, envelope, &hashes, until).await?);

        let mail = CompletionMail {
            completed: &completed,
            organization: &letterhead.organization,
            name: completed.name.as_deref().unwrap_or(&source.name),
            final_sha256: &sealed.final_sha256,
        };
        let letters = self
            .completion_letters(tx, envelope, &mail, &letterhead.sender, &recipients)
            .await?;
        emails.extend(enqueue(tx, envelope, &letters).await?);
        emails.insert(0, completed_webhook(tx, envelope, &hashes).await?);
        // Last: the seal certificate's row is shared by every envelope of the organization,
        // and its lock is held until commit.
        self.seals.record_use(tx, seal.certificate_id).await?;
        Ok(emails)
    }

    /// The certificate of completion of `record`, rendered off the async threads and stored
    /// beside the envelope's documents; where it is and its SHA-256.
    #[tracing::instrument(skip_all)]
    async fn certify(
        &self,
        envelope: &Envelope,
        record: CompletionRecord,
    ) -> Result<(ObjectRef, String), Failure> {
        let certificate = tokio::task::spawn_blocking(move || certificate_pdf(&record))
            .await
            .map_err(anyhow::Error::from)?
            .map_err(|e| Failure::Permanent(format!("the certificate of completion: {e}")))?;
        self.store(envelope, "certificate-of-completion.pdf", &certificate)
            .await
    }

    /// Marks the envelope's document retained until `until`, and drops its cache entry.
    /// The database says retained at once (the document cannot be deleted from now on); the
    /// objects are locked after the commit, by `apply_retention`.
    #[tracing::instrument(skip_all)]
    async fn retain(
        &self,
        tx: &Transaction<'_>,
        envelope: &Envelope,
        until: DateTime<Utc>,
    ) -> Result<(), Failure> {
        store::retain_document(tx, envelope.document_id, until).await?;
        if let Err(err) = self
            .api
            .base
            .cache
            .delete(&cache_key(envelope.document_id))
            .await
        {
            tracing::warn!(
                error = format!("{err:#}"),
                "document cache entry left to expire"
            );
        }
        Ok(())
    }

    /// The completion emails, each link fresh: every recipient's now opens the final document
    /// and the certificate; the sender's opens the envelope's page.
    #[tracing::instrument(skip_all)]
    async fn completion_letters(
        &self,
        tx: &Transaction<'_>,
        envelope: &Envelope,
        mail: &CompletionMail<'_>,
        sender_name: &str,
        recipients: &[RecipientEvidence],
    ) -> Result<Vec<outbox::Email>, Failure> {
        let app_url = &self.api.settings.app_url;
        let mut letters = Vec::new();
        for recipient in recipients {
            let token = gsign_platform::credentials::new_token();
            let expires_at =
                chrono::Utc::now() + chrono::Duration::days(self.api.settings.completed_link_days);
            store::set_expiring_token(tx, recipient.id, &token.hash, expires_at).await?;
            letters.push(mail.letter(
                recipient.email.clone(),
                recipient.name.clone(),
                format!("{app_url}/sign?token={}", token.secret.expose_secret()),
                Some(recipient.id),
            ));
        }
        if let Some(sender) = store::sender_email(tx, envelope.id).await? {
            letters.push(mail.letter(
                sender,
                sender_name.to_owned(),
                format!("{app_url}/envelopes/{}", envelope.id),
                None,
            ));
        }
        Ok(letters)
    }

    /// Locks a completed envelope's original, final document and certificate of completion
    /// under Object Lock until 7 years after completion, then records it. Runs after
    /// completion committed, so a failed commit leaves no object locked for 7 years with no
    /// envelope pointing at it; idempotent (the same versions, the same date), so the job's
    /// retries and the resume schedule simply run it again until it is recorded.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn apply_retention(&self, envelope: &Envelope) -> Result<(), Failure> {
        let completed_at = envelope.completed_at.ok_or_else(|| {
            Failure::Permanent("a completed envelope without its completion time".into())
        })?;
        let until = retention_until(completed_at);
        let conn = self.api.base.db.connect().await?;
        let source = source_of(&conn, envelope).await?;
        let outputs = [
            (&envelope.final_s3_key, &envelope.final_s3_version_id),
            (
                &envelope.certificate_s3_key,
                &envelope.certificate_s3_version_id,
            ),
        ]
        .into_iter()
        .filter_map(|(key, version_id)| {
            key.clone().map(|key| ObjectRef {
                key,
                version_id: version_id.clone(),
            })
        });
        let store = &self.api.store;
        for object in source.objects.into_iter().chain(outputs) {
            store.retain_until(&object, until, self.retention).await?;
        }
        store::retention_applied(&conn, envelope.id).await?;
        Ok(())
    }
}

/// The evidence that `envelope` is sealed: the final and the previous SHA-256, the seal
/// certificate and the level reached.
#[tracing::instrument(skip_all)]
async fn record_sealed(
    tx: &Transaction<'_>,
    envelope: &Envelope,
    seal: &SealKey,
    sealed: &PreparedSeal,
) -> Result<(), Failure> {
    store::record(
        tx,
        envelope.organization_id,
        system_event(
            envelope,
            "envelope.sealed",
            None,
            serde_json::json!({
                "sha256": sealed.final_sha256,
                "previous_sha256": envelope.current_sha256,
                "certificate_serial": seal.serial,
                "level": level_name(sealed.level, sealed.archival),
            }),
        ),
    )
    .await?;
    Ok(())
}

/// The envelope's document, which completion and its retention need.
#[tracing::instrument(skip_all)]
async fn source_of(
    client: &(impl Session + ?Sized),
    envelope: &Envelope,
) -> Result<SourceDocument, Failure> {
    store::source_document(client, envelope.document_id)
        .await?
        .ok_or_else(|| Failure::Permanent("the envelope's document is gone".into()))
}

/// Enqueues `letters` in the outbox; their rows, in order.
#[tracing::instrument(skip_all)]
async fn enqueue(
    tx: &Transaction<'_>,
    envelope: &Envelope,
    letters: &[outbox::Email],
) -> Result<Vec<Uuid>, Failure> {
    let mut rows = Vec::with_capacity(letters.len());
    for letter in letters {
        rows.push(outbox::email(tx, envelope.organization_id, letter).await?);
    }
    Ok(rows)
}

/// The SHA-256s a completion reports.
struct Hashes<'a> {
    original_sha256: &'a str,
    final_sha256: &'a str,
    certificate_sha256: &'a str,
}

/// The `envelope.completed` evidence; its announcement's outbox row, if any.
#[tracing::instrument(skip_all)]
async fn record_completed(
    tx: &Transaction<'_>,
    envelope: &Envelope,
    hashes: &Hashes<'_>,
    until: DateTime<Utc>,
) -> Result<Option<Uuid>, Failure> {
    let details = serde_json::json!({
        "original_sha256": hashes.original_sha256,
        "final_sha256": hashes.final_sha256,
        "certificate_sha256": hashes.certificate_sha256,
        "retained_until": until,
    });
    let recorded = store::record(
        tx,
        envelope.organization_id,
        system_event(envelope, "envelope.completed", None, details),
    )
    .await?;
    Ok(recorded.announcement)
}

/// The `envelope.completed` webhook's outbox row: its own row and message, so the webhook
/// never waits on the emails.
#[tracing::instrument(skip_all)]
async fn completed_webhook(
    tx: &Transaction<'_>,
    envelope: &Envelope,
    hashes: &Hashes<'_>,
) -> Result<Uuid, Failure> {
    let (hook, _) = outbox::webhook(
        tx,
        envelope.organization_id,
        EventType::EnvelopeCompleted,
        serde_json::json!({
            "envelope_id": envelope.id,
            "status": "completed",
            "document_id": envelope.document_id,
            "final_sha256": hashes.final_sha256,
            "certificate_sha256": hashes.certificate_sha256,
        }),
    )
    .await?;
    Ok(hook)
}

/// What the certificate of completion lists: the envelope, its hashes, every recipient and
/// every event (a recipient named by their email, a user by the sender's name).
fn completion_record(
    envelope: &Envelope,
    source: &SourceDocument,
    letterhead: &Letterhead,
    final_sha256: &str,
    completed_at: DateTime<Utc>,
    recipients: &[RecipientEvidence],
    events: &[ChainedEvent],
) -> CompletionRecord {
    let names: HashMap<Uuid, &str> = recipients
        .iter()
        .map(|r| (r.id, r.email.as_str()))
        .collect();
    CompletionRecord {
        envelope_id: envelope.id.to_string(),
        envelope_name: envelope.name.clone().unwrap_or_else(|| source.name.clone()),
        document_name: source.name.clone(),
        original_sha256: source.sha256.clone(),
        final_sha256: final_sha256.to_owned(),
        sender: letterhead.sender.clone(),
        organization: letterhead.organization.clone(),
        completed_at,
        recipients: recipients.iter().map(recipient_record).collect(),
        events: events
            .iter()
            .map(|e| EventRecord {
                sequence: e.event.sequence,
                at: e.event.occurred_at,
                action: e.event.action.clone(),
                actor: match e.event.actor_type.as_str() {
                    "recipient" => e
                        .event
                        .actor_id
                        .and_then(|id| names.get(&id).map(|s| (*s).to_owned()))
                        .unwrap_or_else(|| "recipient".to_owned()),
                    "user" => letterhead.sender.clone(),
                    other => other.to_owned(),
                },
                ip: e.event.ip.clone(),
                hash: e.hash.clone(),
            })
            .collect(),
    }
}

/// A recipient as the certificate of completion lists them.
fn recipient_record(r: &RecipientEvidence) -> RecipientRecord {
    RecipientRecord {
        name: r.name.clone(),
        email: r.email.clone(),
        role: r.role.clone(),
        auth_method: r.auth_method.clone(),
        ip: r.ip.clone(),
        user_agent: r.user_agent.clone(),
        sent_at: r.sent_at,
        viewed_at: r.viewed_at,
        signed_at: r.signed_at,
        signature_png: r.signature_png.clone(),
    }
}

/// What every completion email says.
struct CompletionMail<'a> {
    completed: &'a Envelope,
    organization: &'a str,
    name: &'a str,
    final_sha256: &'a str,
}

impl CompletionMail<'_> {
    /// The completion email to `to`, with their link.
    fn letter(
        &self,
        to: String,
        recipient_name: String,
        link: String,
        recipient_id: Option<Uuid>,
    ) -> outbox::Email {
        outbox::Email {
            template: "envelope_completed".to_owned(),
            to,
            language: self.completed.language.clone(),
            envelope_id: Some(self.completed.id),
            recipient_id,
            bulk: false,
            data: serde_json::json!({
                "recipient_name": recipient_name,
                "organization_name": self.organization,
                "envelope_name": self.name,
                "link": link,
                "final_sha256": self.final_sha256,
            }),
        }
    }
}
