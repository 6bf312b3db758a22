//! `sqs-sign-envelope`: the signing worker, the only function with the HSM PIN. A job (from
//! the outbox, so every committed signature reaches it) only says which envelope to look at;
//! the envelope's rows say what is due:
//!
//! 1. each submitted signature not yet in the PDF, oldest first: that signer's field values
//!    and signature in a new incremental revision, signed in the HSM with the organization's
//!    seal certificate (B-T: timestamped), stored as `revision-N.pdf` with its SHA-256;
//! 2. then the routing: the next order is asked once the current one is done;
//! 3. once everyone is done, completion (see [`crate::jobs::completion`]).
//!
//! The slow part of a step (the current revision from S3, the HSM, the TSA, CRLs, the new
//! object to S3) runs without the envelope's row lock; the step then records its result in
//! one short transaction under the lock, only if the envelope is still at the revision the
//! work started from (compare-and-set). So two jobs for the same envelope (duplicates,
//! parallel signers) never record the same work twice, signers and the sender never wait on
//! the HSM or a timestamp authority, and a job that finds nothing due changes nothing. A failure is recorded on the envelope (`processing_error`, and evidence
//! when the reason changes) and the message is retried; `schedule-resume-signing` re-enqueues
//! envelopes whose work stalled (not those whose failure is permanent: retrying cannot heal
//! them), so nothing waits silently.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::service::system_event;
use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use gsign_core::envelopes::EnvelopeStatus;
use gsign_core::routing::{self, Next};
use gsign_core::Env;
use gsign_functions_certificates::service::{SealError, SealKey, Seals, SealsConfig};
use gsign_platform::database::{Session, Transaction};
use gsign_platform::hsm::{HsmConfig, HsmHandle};
use gsign_platform::lambda::{
    each_message, FunctionSpec, Handler, InitFuture, InvokeError, InvokeHandler, MessageOutcome,
    SqsHandler, StartupError,
};
use gsign_platform::outbox::{self, SigningJob};
use gsign_platform::pades_signer::{
    sign_revision, Level, RevisionError, RevocationFetcher, TsaClient,
};
use gsign_platform::storage::{ObjectRef, RetentionMode, WorkDir};
use gsign_signing::form::{FieldFill, FieldKind, FieldValue};
use gsign_signing::pades::SignatureInfo;
use sha2::Digest as _;
use uuid::Uuid;

use crate::service::send::{field_specs, signature_field_name};
use crate::service::EnvelopesApi;
use crate::store::Letterhead;
use crate::store::{self, Envelope, PendingSignature};

/// Why a job did not finish.
#[derive(Debug)]
pub enum Failure {
    /// Worth retrying: a dependency (Postgres, S3, the HSM, the TSA) failed.
    Retry(anyhow::Error),
    /// Retrying the same input cannot help (the document refuses the values); recorded on
    /// the envelope for the sender, who can void it.
    Permanent(String),
}

impl Failure {
    fn reason(&self) -> String {
        match self {
            Failure::Retry(err) => format!("{err:#}"),
            Failure::Permanent(reason) => reason.clone(),
        }
    }
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(err: E) -> Self {
        Failure::Retry(gsign_platform::telemetry::located(err))
    }
}

fn revision_failure(err: RevisionError) -> Failure {
    match err {
        RevisionError::Document(reason) => Failure::Permanent(format!("the document: {reason}")),
        other => Failure::Retry(other.into()),
    }
}

/// What one step did.
enum Progress {
    /// Something changed; look again.
    Moved,
    /// Nothing is due now.
    Idle,
}

/// The worker's clients and settings.
pub struct SigningWorker {
    pub(crate) api: EnvelopesApi,
    pub(crate) hsm: Arc<HsmHandle>,
    pub(crate) tsa: Option<TsaClient>,
    /// The organizations' seal keys and CAs, through the certificates area.
    pub(crate) seals: Seals,
    /// Fetches other authorities' CRLs (the TSA's) for the document security store.
    pub(crate) revocation: RevocationFetcher,
    pub(crate) retention: RetentionMode,
    pub(crate) work_dir: PathBuf,
}

/// An envelope's sealed final document, stored, waiting for its completion to be recorded.
pub(crate) struct PreparedSeal {
    /// The envelope's revision it seals (the compare-and-set's expectation).
    pub revision_count: i32,
    /// Where it is stored.
    pub final_pdf: ObjectRef,
    /// Its SHA-256.
    pub final_sha256: String,
    /// When its archive timestamp's certificate expires (B-LTA), for the renewal schedule.
    pub archive_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The PAdES level of its seal.
    pub level: Level,
    /// The validation data it carries.
    pub archival: Archival,
}

/// A signature's revision, signed and stored, waiting to be recorded.
struct PreparedSignature {
    /// The envelope as it was read (its revision is the compare-and-set's expectation).
    envelope: Envelope,
    /// The recipient whose signature it holds.
    pending: Uuid,
    /// The revision number it becomes.
    revision: i32,
    /// Where it is stored.
    stored: ObjectRef,
    /// Its SHA-256.
    sha256: String,
    /// The PAdES level it was signed at.
    level: Level,
}

/// The job's envelope, read without its lock, if it is out for signature.
async fn out_for_signature(
    client: &(impl Session + ?Sized),
    job: SigningJob,
) -> Result<Option<Envelope>, Failure> {
    Ok(
        store::get(client, job.organization_id, job.envelope_id, false)
            .await?
            .filter(|envelope| envelope.status == EnvelopeStatus::Sent),
    )
}

/// What the routing of `envelope` (read without its lock) says is due now.
async fn routing_now(
    client: &(impl Session + ?Sized),
    envelope: &Envelope,
) -> Result<Next, Failure> {
    let recipients = store::recipients(client, envelope.id).await?;
    let parties: Vec<_> = recipients.iter().map(store::Recipient::party).collect();
    Ok(routing::next(
        envelope.routing_type,
        envelope.current_routing_order,
        &parties,
    ))
}

/// What `pending`'s fields show in their revision: their signature (drawn or typed) and
/// initials, their ticked boxes, their text and dates; never the seal's field.
fn signer_fills(fields: &[store::Field], pending: &PendingSignature) -> Vec<FieldFill> {
    let specs = field_specs(fields);
    fields
        .iter()
        .zip(&specs)
        .filter(|(field, _)| field.recipient_id == pending.id)
        .filter_map(|(field, spec)| {
            let value = match spec.kind {
                FieldKind::Signature | FieldKind::Initials => {
                    let text = if spec.kind == FieldKind::Initials {
                        initials(&pending.text)
                    } else {
                        pending.text.clone()
                    };
                    match &pending.png {
                        Some(png) if pending.kind == "drawn" => FieldValue::Drawing {
                            png: png.clone(),
                            text,
                        },
                        _ => FieldValue::Text(text),
                    }
                }
                FieldKind::Checkbox => FieldValue::Checked(field.value.as_deref() == Some("true")),
                FieldKind::Text | FieldKind::Date => {
                    FieldValue::Text(field.value.clone().filter(|v| !v.is_empty())?)
                }
                // The seal's field is GSign's own, never a recipient's.
                FieldKind::Seal => return None,
            };
            Some(FieldFill {
                name: spec.name.clone(),
                value,
            })
        })
        .collect()
}

/// How long a job may hold an envelope's signing lease: the worker's timeout (120 s) with
/// room to spare; a crashed holder's lease lapses after it.
const SIGNING_LEASE: Duration = Duration::from_secs(180);

/// Most steps one job takes (a bound, not a limit ever reached: one per signer and order).
const MAX_STEPS: usize = 1_000;

impl SigningWorker {
    #[tracing::instrument(skip_all)]
    async fn from_env(env: &Env) -> Result<Self, StartupError> {
        let mut r = env.reader();
        let hsm = HsmConfig::read(&mut r);
        // One URL, or several separated by commas: asked in order, the next when one fails.
        let tsa_urls: Vec<url::Url> = r
            .optional::<String>("TSA_URL")
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .filter_map(|u| match u.parse::<url::Url>() {
                        Ok(url) => Some(url),
                        Err(err) => {
                            r.problem(format!("TSA_URL: {u:?}: {err}"));
                            None
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let tsa_timeout = Duration::from_millis(r.or("TSA_TIMEOUT_MS", 10_000u64));
        let retention = r.or("RETENTION_MODE", "COMPLIANCE".to_owned());
        let work_dir = r.or("SIGNING_WORK_DIR", std::env::temp_dir());
        let retention = match retention.parse::<RetentionMode>() {
            Ok(mode) => Some(mode),
            Err(err) => {
                r.problem(format!("RETENTION_MODE: {err}"));
                None
            }
        };
        let seals = SealsConfig::read(&mut r);
        let (hsm, retention, seals) = r.finish(|| Some((hsm?, retention?, seals?)))?;
        let tsa = (!tsa_urls.is_empty())
            .then(|| TsaClient::with_fallbacks(tsa_urls, tsa_timeout))
            .transpose()
            .map_err(anyhow::Error::from)?;
        let api = EnvelopesApi::from_env(env).await?;
        let hsm = Arc::new(HsmHandle::new(hsm));
        let seals = Seals::new(seals, Arc::clone(&hsm), &api.base.sdk);
        Ok(Self {
            api,
            hsm,
            tsa,
            seals,
            revocation: RevocationFetcher::new(tsa_timeout).map_err(anyhow::Error::from)?,
            retention,
            work_dir,
        })
    }

    #[tracing::instrument(skip_all)]
    async fn process(&self, message: SqsMessage) -> MessageOutcome {
        let job = message
            .body
            .as_deref()
            .and_then(|body| serde_json::from_str::<outbox::Message>(body).ok())
            .and_then(|m| serde_json::from_value::<SigningJob>(m.payload).ok());
        let Some(job) = job else {
            return MessageOutcome::Rejected("not a signing job".to_owned());
        };
        match self.run(job).await {
            Ok(()) => MessageOutcome::Done,
            Err(failure) => {
                let reason = failure.reason();
                let permanent = matches!(failure, Failure::Permanent(_));
                if let Err(err) = self.record_failure(job, &reason, permanent).await {
                    tracing::error!(error = format!("{err:#}"), "could not record the failure");
                }
                match failure {
                    Failure::Retry(err) => MessageOutcome::Retry(err),
                    Failure::Permanent(reason) => MessageOutcome::Rejected(reason),
                }
            }
        }
    }

    /// Does everything due on the job's envelope, one job per envelope at a time: a job that
    /// finds the signing lease taken leaves the work to its holder, which looks again after
    /// giving the lease back (so work that arrived meanwhile is never left waiting), and jobs
    /// of parallel signers do not all prepare the same signature.
    #[tracing::instrument(skip_all)]
    pub async fn run(&self, job: SigningJob) -> Result<(), Failure> {
        loop {
            let taken = {
                let client = self.api.base.db.connect().await?;
                store::take_signing_lease(
                    &client,
                    job.organization_id,
                    job.envelope_id,
                    SIGNING_LEASE.as_secs_f64(),
                )
                .await?
            };
            if !taken {
                return Ok(());
            }
            let worked = self.steps(job).await;
            {
                let client = self.api.base.db.connect().await?;
                store::release_signing_lease(&client, job.envelope_id).await?;
            }
            worked?;
            if !self.due(job).await? {
                return Ok(());
            }
        }
    }

    /// Steps until nothing is due.
    async fn steps(&self, job: SigningJob) -> Result<(), Failure> {
        for _ in 0..MAX_STEPS {
            if let Progress::Idle = self.step(job).await? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Whether a step would do something now: the envelope is out for signature and a
    /// signature waits, or the routing can move or complete.
    #[tracing::instrument(skip_all)]
    async fn due(&self, job: SigningJob) -> Result<bool, Failure> {
        let client = self.api.base.db.connect().await?;
        let Some(envelope) = out_for_signature(&client, job).await? else {
            return Ok(false);
        };
        if store::next_to_apply(&client, envelope.id).await?.is_some() {
            return Ok(true);
        }
        Ok(!matches!(
            routing_now(&client, &envelope).await?,
            Next::Wait
        ))
    }

    /// One step: apply one signature, or move the routing, or complete.
    ///
    /// A signature's revision is prepared (S3, HSM, TSA) without the envelope's row lock and
    /// committed under it only if the envelope is still where it was (compare-and-set on its
    /// revision), so signers and the sender never wait on the HSM or a timestamp authority.
    /// The routing and completion run under the lock. A step holds one pool connection at a
    /// time: the seal key is read before the envelope's transaction and the outbox is
    /// published after its connection went back, so concurrent jobs in one container never
    /// wait on each other for a second connection.
    #[tracing::instrument(skip_all)]
    async fn step(&self, job: SigningJob) -> Result<Progress, Failure> {
        let base = &self.api.base;
        let seal = self.seal_key(job.organization_id).await?;
        if let Some(prepared) = self.prepare_signature(job, &seal).await? {
            return self.commit_signature(job, prepared, &seal).await;
        }
        let sealed = self.prepare_seal_if_due(job, &seal).await?;
        let mut conn = base.db.connect().await?;
        let tx = conn.begin().await?;
        let Some(envelope) = store::get(&tx, job.organization_id, job.envelope_id, true).await?
        else {
            return Ok(Progress::Idle);
        };
        if envelope.status != EnvelopeStatus::Sent {
            // Voided, declined, expired or completed: nothing more to sign; a completion
            // whose objects are not locked yet gets its retention (no row lock held for it).
            if envelope.status == EnvelopeStatus::Completed
                && store::retention_pending(&tx, envelope.id).await?
            {
                drop(tx);
                drop(conn);
                self.apply_retention(&envelope).await?;
            }
            return Ok(Progress::Idle);
        }
        if store::next_to_apply(&tx, envelope.id).await?.is_some() {
            // Submitted since this step looked: prepare it first.
            return Ok(Progress::Moved);
        }
        let recipients = store::recipients(&tx, envelope.id).await?;
        let parties: Vec<_> = recipients.iter().map(store::Recipient::party).collect();
        let routing_type = envelope.routing_type;
        let emails = match routing::next(routing_type, envelope.current_routing_order, &parties) {
            Next::Wait => return Ok(Progress::Idle),
            Next::Advance {
                order,
                recipients: next,
            } => {
                self.advance(&tx, &envelope, &recipients, order, &next)
                    .await?
            }
            Next::Complete => {
                // Sealed without the lock from this very revision, or prepared next step.
                let Some(sealed) =
                    sealed.filter(|sealed| sealed.revision_count == envelope.revision_count)
                else {
                    return Ok(Progress::Moved);
                };
                // The next step applies the retention, once the completion is committed.
                self.complete(&tx, &envelope, &seal, sealed).await?
            }
        };
        tx.commit().await?;
        drop(conn);
        base.relay.publish(&base.db, &emails).await;
        Ok(Progress::Moved)
    }

    /// Moves the envelope's routing on to `order` in `tx`, asking `next` (its recipients),
    /// each with the evidence; the outbox rows to publish after commit.
    #[tracing::instrument(skip_all)]
    async fn advance(
        &self,
        tx: &Transaction<'_>,
        envelope: &Envelope,
        recipients: &[store::Recipient],
        order: i32,
        next: &[Uuid],
    ) -> Result<Vec<Uuid>, Failure> {
        store::advance(tx, envelope.id, order).await?;
        let letterhead = Letterhead::of(tx, envelope).await?;
        let mut emails = Vec::new();
        for recipient in recipients.iter().filter(|r| next.contains(&r.id)) {
            emails.extend(
                self.api
                    .ask(tx, envelope, recipient, &letterhead, None)
                    .await?,
            );
            store::record(
                tx,
                envelope.organization_id,
                system_event(
                    envelope,
                    "recipient.notified",
                    Some(recipient.id),
                    serde_json::json!({"email": recipient.email, "routing_order": order}),
                ),
            )
            .await?
            .announce_with(&mut emails);
        }
        Ok(emails)
    }

    /// The organization's seal key, from the certificates area.
    #[tracing::instrument(skip_all, fields(org = %org))]
    pub(crate) async fn seal_key(&self, org: Uuid) -> Result<SealKey, Failure> {
        self.seals
            .seal_key(&self.api.base.db, org)
            .await
            .map_err(|err| match err {
                SealError::OrganizationGone => Failure::Permanent(err.to_string()),
                SealError::Failed(err) => Failure::Retry(err),
            })
    }

    /// Signs `revision` with the seal key, HSM session reopened after an HSM failure.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn sign(
        &self,
        pdf: &[u8],
        info: &SignatureInfo,
        fills: &[FieldFill],
        seal: &SealKey,
        level: Level,
    ) -> Result<Vec<u8>, Failure> {
        let hsm = self.hsm.session().await?;
        let signed = sign_revision(
            pdf,
            info,
            fills,
            &seal.signing_key(&hsm),
            level,
            self.tsa.as_ref(),
        )
        .await;
        if matches!(signed, Err(RevisionError::Hsm(_))) {
            self.hsm.discard().await;
        }
        signed.map_err(revision_failure)
    }

    /// Reads the envelope's current revision.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn current_pdf(&self, envelope: &Envelope) -> Result<Vec<u8>, Failure> {
        let key = envelope
            .current_s3_key
            .clone()
            .ok_or_else(|| Failure::Permanent("the envelope has no document revision".into()))?;
        let scratch = self.scratch()?;
        let path = scratch.path("current.pdf");
        self.api
            .store
            .fetch_to_file(
                &ObjectRef {
                    key,
                    version_id: envelope.current_s3_version_id.clone(),
                },
                &path,
                // Signatures and the seal grow the file a little past the upload limit.
                self.api.settings.max_document_bytes * 2,
            )
            .await?;
        Ok(tokio::fs::read(&path).await?)
    }

    /// Stores `bytes` as `name` under the envelope's prefix; the stored version and SHA-256.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn store(
        &self,
        envelope: &Envelope,
        name: &str,
        bytes: &[u8],
    ) -> Result<(ObjectRef, String), Failure> {
        let scratch = self.scratch()?;
        let path = scratch.path(name);
        tokio::fs::write(&path, bytes).await?;
        let key = format!(
            "envelopes/{}/{}/{name}",
            envelope.organization_id, envelope.id
        );
        let stored = self
            .api
            .store
            .put_file(&key, &path, "application/pdf")
            .await?;
        Ok((stored, hex::encode(sha2::Sha256::digest(bytes))))
    }

    fn scratch(&self) -> Result<WorkDir, Failure> {
        Ok(WorkDir::new(&self.work_dir, "sign")?)
    }

    /// The next submitted signature of the job's envelope in a new revision, signed and
    /// stored, with no row lock held and no pool connection kept across the remote calls;
    /// `None` when the envelope is not out for signature or nothing is waiting.
    #[tracing::instrument(skip_all)]
    async fn prepare_signature(
        &self,
        job: SigningJob,
        seal: &SealKey,
    ) -> Result<Option<PreparedSignature>, Failure> {
        let (envelope, pending, fields) = {
            let client = self.api.base.db.connect().await?;
            let Some(envelope) = out_for_signature(&client, job).await? else {
                return Ok(None);
            };
            let Some(pending) = store::next_to_apply(&client, envelope.id).await? else {
                return Ok(None);
            };
            let fields = store::fields(&client, envelope.id).await?;
            (envelope, pending, fields)
        };
        let fills = signer_fills(&fields, &pending);
        let current = self.current_pdf(&envelope).await?;
        let info = SignatureInfo {
            field_name: signature_field_name(pending.id),
            signer_name: pending.name.clone(),
            reason: Some(format!(
                "Signed by {} <{}> through GSign",
                pending.name, pending.email
            )),
            time: SystemTime::from(pending.signed_at),
            locks_document: false,
        };
        let level = level_of(&envelope);
        let signed = self.sign(&current, &info, &fills, seal, level).await?;
        let revision = envelope.revision_count + 1;
        let (stored, sha256) = self
            .store(&envelope, &format!("revision-{revision}.pdf"), &signed)
            .await?;
        Ok(Some(PreparedSignature {
            envelope,
            pending: pending.id,
            revision,
            stored,
            sha256,
            level,
        }))
    }

    /// The sealed final document, prepared without the envelope's row lock, when the
    /// envelope (read without it) is out for signature with every signature applied and
    /// everyone done; `None` otherwise.
    #[tracing::instrument(skip_all)]
    async fn prepare_seal_if_due(
        &self,
        job: SigningJob,
        seal: &SealKey,
    ) -> Result<Option<PreparedSeal>, Failure> {
        let envelope = {
            let client = self.api.base.db.connect().await?;
            let Some(envelope) = out_for_signature(&client, job).await? else {
                return Ok(None);
            };
            if store::next_to_apply(&client, envelope.id).await?.is_some()
                || !matches!(routing_now(&client, &envelope).await?, Next::Complete)
            {
                return Ok(None);
            }
            envelope
        };
        Ok(Some(self.prepare_seal(&envelope, seal).await?))
    }

    /// Records `prepared` as the envelope's new revision if the envelope is still as it was
    /// prepared from (out for signature, at the same revision, the same signature next);
    /// otherwise another job moved it first and this one looks again (its stored object
    /// version is left unreferenced).
    #[tracing::instrument(skip_all)]
    async fn commit_signature(
        &self,
        job: SigningJob,
        prepared: PreparedSignature,
        seal: &SealKey,
    ) -> Result<Progress, Failure> {
        let mut conn = self.api.base.db.connect().await?;
        let tx = conn.begin().await?;
        let Some(envelope) = store::get(&tx, job.organization_id, job.envelope_id, true).await?
        else {
            return Ok(Progress::Idle);
        };
        let next = store::next_to_apply(&tx, envelope.id).await?;
        let unchanged = envelope.status == EnvelopeStatus::Sent
            && envelope.revision_count == prepared.envelope.revision_count
            && next.is_some_and(|next| next.id == prepared.pending);
        if !unchanged {
            tracing::info!(
                revision = prepared.revision,
                "the envelope moved while its revision was prepared; looking again"
            );
            return Ok(Progress::Moved);
        }
        let org = envelope.organization_id;
        let PreparedSignature {
            pending,
            revision,
            stored,
            sha256,
            level,
            ..
        } = prepared;
        store::applied(&tx, envelope.id, pending, revision, &stored, &sha256).await?;
        gsign_platform::billing::record_usage(
            &tx,
            org,
            gsign_core::billing::UsageType::Signature,
            pending,
        )
        .await?;
        self.seals.record_use(&tx, seal.certificate_id).await?;
        let details = serde_json::json!({
            "revision": revision,
            "sha256": sha256,
            "previous_sha256": envelope.current_sha256,
            "certificate_serial": seal.serial,
            "level": level_name(level, Archival::None),
        });
        let applied = system_event(&envelope, "signature.applied", Some(pending), details);
        store::record(&tx, org, applied).await?;
        tx.commit().await?;
        Ok(Progress::Moved)
    }

    /// Records a failure on the envelope: its newest reason, and evidence when it changed.
    /// Records why the step failed; a permanent failure is not re-enqueued by the resume
    /// schedule.
    #[tracing::instrument(skip_all)]
    async fn record_failure(
        &self,
        job: SigningJob,
        reason: &str,
        permanent: bool,
    ) -> anyhow::Result<()> {
        tracing::warn!(envelope = %job.envelope_id, reason, "signing step failed");
        let mut conn = self.api.base.db.connect().await?;
        let tx = conn.begin().await?;
        let Some(envelope) = store::get(&tx, job.organization_id, job.envelope_id, true).await?
        else {
            return Ok(());
        };
        let previous = store::processing_failed(&tx, envelope.id, reason, permanent).await?;
        if previous.as_deref() != Some(reason) {
            store::record(
                &tx,
                envelope.organization_id,
                system_event(
                    &envelope,
                    "signing.failed",
                    None,
                    serde_json::json!({"reason": reason}),
                ),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// The level of each signature in the envelope: B-T unless the envelope asks for B-B.
pub(crate) fn level_of(envelope: &Envelope) -> Level {
    if envelope.signature_level == "b_b" {
        Level::BB
    } else {
        Level::BT
    }
}

/// What completion adds after the seal for the envelope's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Archival {
    /// Nothing (B-B, B-T).
    None,
    /// The document security store (B-LT).
    ValidationData,
    /// The document security store and a document timestamp over it (B-LTA).
    ValidationDataAndTimestamp,
}

pub(crate) fn archival_of(envelope: &Envelope) -> Archival {
    match envelope.signature_level.as_str() {
        "b_lta" => Archival::ValidationDataAndTimestamp,
        "b_lt" => Archival::ValidationData,
        _ => Archival::None,
    }
}

/// The level the envelope's final document reaches, for the evidence.
pub(crate) fn level_name(level: Level, archival: Archival) -> &'static str {
    match (level, archival) {
        (Level::BB, _) => "B-B",
        (Level::BT, Archival::None) => "B-T",
        (Level::BT, Archival::ValidationData) => "B-LT",
        (Level::BT, Archival::ValidationDataAndTimestamp) => "B-LTA",
    }
}

/// The initials of a name: the first letter of each word, up to four.
pub fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|word| word.chars().next())
        .flat_map(char::to_uppercase)
        .take(4)
        .collect()
}

#[async_trait]
impl SqsHandler for SigningWorker {
    async fn handle(&self, event: SqsEvent) -> Result<SqsBatchResponse, InvokeError> {
        Ok(each_message(event, |message| self.process(message)).await)
    }
}

/// `sqs-sign-envelope`.
pub const SIGN_ENVELOPE: FunctionSpec = FunctionSpec {
    name: "sqs-sign-envelope",
    init: |env| -> InitFuture {
        Box::pin(async move { Ok(Handler::Sqs(Arc::new(SigningWorker::from_env(&env).await?))) })
    },
};

/// `schedule-resume-signing`: envelopes whose signing work has waited longer than
/// `SIGNING_STALL_SECONDS` (a lost or dead-lettered job, a failure still unresolved) get a
/// new job, so no envelope waits silently.
pub const RESUME_SIGNING: FunctionSpec = FunctionSpec {
    name: "schedule-resume-signing",
    init: |env| -> InitFuture {
        Box::pin(async move {
            let stall = env.reader().or("SIGNING_STALL_SECONDS", 300u64);
            Ok(Handler::Invoke(Arc::new(Resumer {
                api: EnvelopesApi::from_env(&env).await?,
                stall: Duration::from_secs(stall),
            })))
        })
    },
};

struct Resumer {
    api: EnvelopesApi,
    stall: Duration,
}

#[async_trait]
impl InvokeHandler for Resumer {
    async fn handle(&self, _event: serde_json::Value) -> Result<serde_json::Value, InvokeError> {
        let base = &self.api.base;
        let mut conn = base.db.connect().await?;
        let tx = conn.begin().await?;
        let stalled = store::stalled(&tx, self.stall.as_secs_f64(), 100).await?;
        let mut jobs = Vec::with_capacity(stalled.len());
        for (organization_id, envelope_id) in &stalled {
            jobs.push(
                outbox::signing(
                    &tx,
                    &SigningJob {
                        organization_id: *organization_id,
                        envelope_id: *envelope_id,
                    },
                )
                .await?,
            );
        }
        tx.commit().await?;
        drop(conn);
        base.relay.publish(&base.db, &jobs).await;
        if !stalled.is_empty() {
            tracing::warn!(count = stalled.len(), "stalled envelopes re-enqueued");
        }
        Ok(serde_json::json!({"resumed": stalled.len()}))
    }
}

#[cfg(test)]
mod tests {
    use super::initials;

    #[test]
    fn initials_take_each_word_in_any_script() {
        assert_eq!(initials("Ana Lima"), "AL");
        assert_eq!(initials("  батбаяр   өлзий "), "БӨ");
        assert_eq!(initials(""), "");
    }
}
