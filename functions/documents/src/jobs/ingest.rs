//! `sqs-ingest-document`: S3 ObjectCreated (through SQS) -> hash, sniff, inspect, convert ->
//! `ready` or `failed` with a reason.
//!
//! This function holds no signing permission, and the untrusted PDF is parsed in a child
//! process under resource limits (`gsign_pdf::inspect_isolated`): a crash there is a verdict
//! on the file, never the loss of this process. A file's fault ends the message (`failed`
//! recorded, message deleted); our own trouble (S3, Postgres, Redis) leaves it for SQS to
//! redeliver. A redelivery of a finished document changes nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use gsign_core::documents::{keys, DocumentType, IngestFailure};
use gsign_core::webhooks::EventType;
use gsign_core::Env;
use gsign_pdf::{FileKind, Limits, PdfInfo, Rejection};
use gsign_platform::database::Session;
use gsign_platform::lambda::{
    each_message, FunctionSpec, Handler, InitFuture, InvokeError, MessageOutcome, SqsHandler,
};
use gsign_platform::outbox::{self, AuditEvent};
use gsign_platform::storage::{ObjectRef, WorkDir};

use crate::service::convert::{ConversionError, Converter};
use crate::service::{DocumentsConfig, Services};
use crate::store::{self, Document, Ingested};

/// How long one ingest may hold `lock:document:{id}` (seed 000's processing lock).
const LOCK_TTL: Duration = Duration::from_secs(300);

/// The ingest function.
pub struct Ingest {
    services: Services,
    inspector: PathBuf,
    limits: Limits,
    converter: Converter,
    work_dir: PathBuf,
}

/// The outcome for one file.
enum Verdict {
    Ready(Ingested),
    Failed {
        version_id: Option<String>,
        hash: Option<String>,
        reason: &'static str,
        detail: String,
    },
}

fn failed(head: &ObjectRef, hash: Option<&str>, reason: &'static str, detail: String) -> Verdict {
    Verdict::Failed {
        version_id: head.version_id.clone(),
        hash: hash.map(str::to_owned),
        reason,
        detail,
    }
}

fn rejected(head: &ObjectRef, hash: Option<&str>, rejection: &Rejection) -> Verdict {
    failed(head, hash, rejection.code(), rejection.to_string())
}

/// The bytes `sniff` needs: the head for a PDF signature, the whole file for an OOXML (ZIP)
/// container, whose directory is at its end.
#[tracing::instrument(skip_all)]
async fn sniff_file(path: &Path) -> anyhow::Result<Result<FileKind, Rejection>> {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::with_capacity(1024);
    tokio::fs::File::open(path)
        .await?
        .take(1024)
        .read_to_end(&mut head)
        .await?;
    if head.starts_with(b"PK") {
        let whole = tokio::fs::read(path).await?;
        return Ok(tokio::task::spawn_blocking(move || gsign_pdf::sniff(&whole)).await?);
    }
    Ok(gsign_pdf::sniff(&head))
}

/// The file's type as sniffed, or the verdict on a file that is not the `declared` type.
#[tracing::instrument(skip_all)]
async fn sniffed_kind(
    file: &Path,
    declared: DocumentType,
    original: &ObjectRef,
    hash: Option<&str>,
) -> anyhow::Result<Result<DocumentType, Verdict>> {
    let kind = match sniff_file(file).await? {
        Ok(kind) => kind_of(kind),
        Err(rejection) => return Ok(Err(rejected(original, hash, &rejection))),
    };
    if kind != declared {
        return Ok(Err(failed(
            original,
            hash,
            IngestFailure::TypeMismatch.code(),
            format!("declared {declared}, but the file is a {kind}"),
        )));
    }
    Ok(Ok(kind))
}

fn kind_of(kind: FileKind) -> DocumentType {
    match kind {
        FileKind::Pdf => DocumentType::Pdf,
        FileKind::Docx => DocumentType::Docx,
        FileKind::Xlsx => DocumentType::Xlsx,
    }
}

impl Ingest {
    #[tracing::instrument(skip_all)]
    async fn from_env(env: &Env) -> Result<Self, gsign_platform::lambda::StartupError> {
        let mut r = env.reader();
        let config = DocumentsConfig::read(&mut r);
        let inspector = r.optional::<PathBuf>("PDF_INSPECTOR");
        let defaults = Limits::default();
        let limits = Limits {
            max_pages: r.or("PDF_MAX_PAGES", defaults.max_pages),
            max_objects: r.or("PDF_MAX_OBJECTS", defaults.max_objects),
            max_depth: r.or("PDF_MAX_DEPTH", defaults.max_depth),
            max_decompressed_bytes: r.or(
                "PDF_MAX_DECOMPRESSED_BYTES",
                defaults.max_decompressed_bytes,
            ),
            timeout: Duration::from_millis(r.or(
                "PDF_INSPECT_TIMEOUT_MS",
                u64::try_from(defaults.timeout.as_millis()).unwrap_or(20_000),
            )),
            max_memory_bytes: r.or("PDF_INSPECT_MEMORY_BYTES", defaults.max_memory_bytes),
        };
        let soffice = r.or("SOFFICE_PATH", PathBuf::from("soffice"));
        let conversion_timeout = Duration::from_millis(r.or("CONVERSION_TIMEOUT_MS", 60_000u64));
        // LibreOffice maps far more address space than it uses: 4 GiB by default.
        let conversion_memory = r.or("CONVERSION_MEMORY_BYTES", 4u64 << 30);
        let conversion_file_bytes = r.or("CONVERSION_MAX_OUTPUT_BYTES", 512u64 << 20);
        let work_dir = r.or("INGEST_WORK_DIR", std::env::temp_dir());
        // The inspector is this very binary unless configured (the local runner and tests
        // name one that answers `gsign_pdf::INSPECT_ARG`).
        let inspector = match inspector {
            Some(path) => Some(path),
            None => match std::env::current_exe() {
                Ok(path) => Some(path),
                Err(err) => {
                    r.problem(format!(
                        "PDF_INSPECTOR is not set and this executable's path is unknown: {err}"
                    ));
                    None
                }
            },
        };
        let (config, inspector) = r.finish(|| Some((config?, inspector?)))?;
        let converter = Converter::new(soffice, conversion_timeout).limited_by(
            inspector.clone(),
            gsign_pdf::ProgramLimits {
                cpu_seconds: conversion_timeout.as_secs().max(1) + 1,
                memory_bytes: conversion_memory,
                file_bytes: conversion_file_bytes,
            },
        );
        Ok(Self {
            services: Services::build(config).await?,
            inspector,
            limits,
            converter,
            work_dir,
        })
    }

    #[tracing::instrument(skip_all)]
    async fn process(&self, message: SqsMessage) -> MessageOutcome {
        let Some(body) = message.body.as_deref() else {
            return MessageOutcome::Rejected("empty message".to_owned());
        };
        let Ok(event) = serde_json::from_str::<serde_json::Value>(body) else {
            return MessageOutcome::Rejected("not JSON".to_owned());
        };
        // S3 sends one test event when the notification is configured.
        if event["Event"] == "s3:TestEvent" {
            return MessageOutcome::Done;
        }
        let Some(records) = event["Records"].as_array() else {
            return MessageOutcome::Rejected("not an S3 event".to_owned());
        };
        for record in records {
            let name = record["eventName"].as_str().unwrap_or("");
            if !name.starts_with("ObjectCreated") {
                continue;
            }
            // Only our bucket may send to this queue (its policy); the key decides the rest.
            let Some(key) = record["s3"]["object"]["key"]
                .as_str()
                .and_then(keys::decode_event_key)
            else {
                tracing::warn!("event without a readable key ignored");
                continue;
            };
            let version_id = record["s3"]["object"]["versionId"]
                .as_str()
                .filter(|v| !v.is_empty() && *v != "null")
                .map(str::to_owned);
            if let Err(err) = self.ingest(&key, version_id).await {
                return MessageOutcome::Retry(err);
            }
        }
        MessageOutcome::Done
    }

    /// Ingests one uploaded object; `Err` only for failures worth a retry.
    #[tracing::instrument(skip_all)]
    async fn ingest(&self, key: &str, version_id: Option<String>) -> anyhow::Result<()> {
        let Some((org, id)) = keys::parse_upload(key) else {
            tracing::warn!(key, "an upload key GSign did not hand out; ignored");
            return Ok(());
        };
        let s = &self.services;
        let doc = {
            let client = s.db.connect().await?;
            store::get(&client, org, id, false).await?
        };
        let Some(doc) = doc.filter(|d| d.is_processing() && d.s3_key == key) else {
            tracing::info!(document = %id, "already ingested, deleted or unknown; nothing to do");
            return Ok(());
        };
        let lock_key = format!("lock:document:{id}");
        let Some(token) = s.cache.try_lock(&lock_key, LOCK_TTL).await? else {
            anyhow::bail!("document {id} is being ingested by another delivery");
        };
        let verdict = self.examine(&doc, version_id).await;
        let recorded = match verdict {
            Ok(verdict) => self.record(&doc, verdict).await,
            Err(err) => Err(err),
        };
        if let Err(err) = s.cache.unlock(&lock_key, &token).await {
            tracing::warn!(error = format!("{err:#}"), "lock left to expire");
        }
        s.forget(id).await;
        recorded
    }

    /// Looks at the bytes and decides; `Err` only for our own failures.
    #[tracing::instrument(skip_all)]
    async fn examine(&self, doc: &Document, version_id: Option<String>) -> anyhow::Result<Verdict> {
        let s = &self.services;
        let Some(head) = s.store.head(&doc.s3_key, version_id.as_deref()).await? else {
            anyhow::bail!(
                "{} (version {version_id:?}) is not in the bucket yet",
                doc.s3_key
            );
        };
        let original = ObjectRef {
            key: doc.s3_key.clone(),
            version_id: head.version_id.clone().or(version_id),
        };
        let declared = u64::try_from(doc.size).unwrap_or(0);
        if let Some(verdict) = size_verdict(&original, head.size, declared, s.max_bytes) {
            return Ok(verdict);
        }
        let declared_type: DocumentType = doc
            .doc_type
            .parse()
            .map_err(|e: String| anyhow::anyhow!(e))?;
        let work = WorkDir::new(&self.work_dir, &format!("ingest-{}", doc.id))
            .with_context(|| format!("create a work directory in {}", self.work_dir.display()))?;
        let file = work.path(&format!("original.{}", declared_type.as_str()));
        let fetched = s.store.fetch_to_file(&original, &file, s.max_bytes).await?;
        let hash = Some(fetched.sha256.as_str());
        if fetched.size != head.size {
            anyhow::bail!("read {} bytes of a {}-byte object", fetched.size, head.size);
        }
        let kind = match sniffed_kind(&file, declared_type, &original, hash).await? {
            Ok(kind) => kind,
            Err(verdict) => return Ok(verdict),
        };
        let (pdf, pdf_hash, info) = if kind.needs_conversion() {
            match self
                .convert(doc, &original, hash, &file, work.dir())
                .await?
            {
                Ok(converted) => converted,
                Err(verdict) => return Ok(verdict),
            }
        } else {
            match self.inspect(&file).await? {
                Ok(info) => (original.clone(), fetched.sha256.clone(), info),
                Err(rejection) => return Ok(rejected(&original, hash, &rejection)),
            }
        };
        Ok(Verdict::Ready(Ingested {
            original,
            hash: fetched.sha256.clone(),
            mime_type: kind.mime_type().to_owned(),
            pdf,
            pdf_hash,
            page_count: i32::try_from(info.page_count).unwrap_or(i32::MAX),
            pages: serde_json::to_value(&info.pages)?,
            encrypted: head.kms_encrypted,
            signatures: i32::try_from(info.signatures).unwrap_or(i32::MAX),
            certification: info.certification.and_then(|p| i16::try_from(p).ok()),
        }))
    }

    /// Converts an office `file` to PDF in `dir`, inspects the PDF and stores it as the
    /// document's; `Ok(Err)` is the verdict on a file that does not convert.
    #[tracing::instrument(skip_all)]
    async fn convert(
        &self,
        doc: &Document,
        original: &ObjectRef,
        hash: Option<&str>,
        file: &Path,
        dir: &Path,
    ) -> anyhow::Result<Result<(ObjectRef, String, PdfInfo), Verdict>> {
        let s = &self.services;
        let converted = match self.converter.to_pdf(file, dir).await {
            Ok(path) => path,
            Err(err @ ConversionError::Unavailable(_)) => {
                tracing::error!(error = %err, "office conversion is not installed");
                return Ok(Err(failed(
                    original,
                    hash,
                    IngestFailure::ConverterUnavailable.code(),
                    err.to_string(),
                )));
            }
            Err(err) => {
                return Ok(Err(failed(
                    original,
                    hash,
                    IngestFailure::ConversionFailed.code(),
                    err.to_string(),
                )))
            }
        };
        let info = match self.inspect(&converted).await? {
            Ok(info) => info,
            Err(rejection) => {
                return Ok(Err(failed(
                    original,
                    hash,
                    IngestFailure::ConversionFailed.code(),
                    format!("the converted PDF was refused: {rejection}"),
                )))
            }
        };
        let pdf_hash = gsign_platform::storage::sha256_file(&converted).await?;
        let stored = s
            .store
            .put_file(
                &keys::converted(doc.organization_id, doc.id),
                &converted,
                "application/pdf",
            )
            .await?;
        Ok(Ok((stored, pdf_hash, info)))
    }

    #[tracing::instrument(skip_all)]
    async fn inspect(&self, pdf: &Path) -> anyhow::Result<Result<PdfInfo, Rejection>> {
        gsign_pdf::inspect_isolated(&self.inspector, pdf, &self.limits)
            .await
            .with_context(|| format!("run the PDF inspector {}", self.inspector.display()))
    }

    /// Writes the verdict and its audit event in one transaction.
    #[tracing::instrument(skip_all)]
    async fn record(&self, doc: &Document, verdict: Verdict) -> anyhow::Result<()> {
        let s = &self.services;
        let mut conn = s.db.connect().await?;
        let tx = conn.begin().await?;
        let (changed, action, details) = mark(&tx, doc, &verdict).await?;
        if !changed {
            return Ok(());
        }
        let event = outbox::audit(
            &tx,
            &AuditEvent {
                action: action.to_owned(),
                organization_id: doc.organization_id,
                actor_user_id: None,
                actor_api_key_id: None,
                resource_type: "document".to_owned(),
                resource_id: doc.id.to_string(),
                ip: None,
                user_agent: None,
                details,
            },
        )
        .await?;
        let (event_type, data) = webhook_of(doc, &verdict);
        let (hook, _) = outbox::webhook(&tx, doc.organization_id, event_type, data).await?;
        tx.commit().await?;
        s.relay.publish(&s.db, &[event, hook]).await;
        Ok(())
    }
}

/// The verdict on an object of `size` bytes when that size is wrong: empty, over
/// `max_bytes`, or not the `declared` one.
fn size_verdict(original: &ObjectRef, size: u64, declared: u64, max_bytes: u64) -> Option<Verdict> {
    if size == 0 {
        return Some(rejected(original, None, &Rejection::Empty));
    }
    if size > max_bytes {
        return Some(failed(
            original,
            None,
            IngestFailure::TooLarge.code(),
            format!("{size} bytes; the limit is {max_bytes}"),
        ));
    }
    if size != declared {
        return Some(failed(
            original,
            None,
            IngestFailure::SizeMismatch.code(),
            format!("declared {declared} bytes, received {size}"),
        ));
    }
    None
}

/// Marks the document ready or failed; whether it changed, and the audit action and details.
#[tracing::instrument(skip_all)]
async fn mark(
    tx: &(impl Session + ?Sized),
    doc: &Document,
    verdict: &Verdict,
) -> anyhow::Result<(bool, &'static str, serde_json::Value)> {
    Ok(match verdict {
        Verdict::Ready(result) => (
            store::mark_ready(tx, doc.id, result).await?,
            "document.ready",
            serde_json::json!({
                "sha256": result.hash,
                "pdf_sha256": result.pdf_hash,
                "page_count": result.page_count,
            }),
        ),
        Verdict::Failed {
            version_id,
            hash,
            reason,
            detail,
        } => {
            tracing::info!(document = %doc.id, reason, detail, "document refused");
            (
                store::mark_failed(
                    tx,
                    doc.id,
                    version_id.as_deref(),
                    hash.as_deref(),
                    reason,
                    detail,
                )
                .await?,
                "document.failed",
                serde_json::json!({"reason": reason, "detail": detail}),
            )
        }
    })
}

/// The webhook event announcing the verdict.
fn webhook_of(doc: &Document, verdict: &Verdict) -> (EventType, serde_json::Value) {
    match verdict {
        Verdict::Ready(result) => (
            EventType::DocumentReady,
            serde_json::json!({"document_id": doc.id, "status": "ready", "page_count": result.page_count}),
        ),
        Verdict::Failed { reason, .. } => (
            EventType::DocumentFailed,
            serde_json::json!({"document_id": doc.id, "status": "failed", "failure_reason": reason}),
        ),
    }
}

#[async_trait]
impl SqsHandler for Ingest {
    async fn handle(&self, event: SqsEvent) -> Result<SqsBatchResponse, InvokeError> {
        Ok(each_message(event, |message| self.process(message)).await)
    }
}

/// `sqs-ingest-document`.
pub const FUNCTION: FunctionSpec = FunctionSpec {
    name: "sqs-ingest-document",
    init: |env| -> InitFuture {
        Box::pin(async move {
            let ingest: Arc<dyn SqsHandler> = Arc::new(Ingest::from_env(&env).await?);
            Ok(Handler::Sqs(ingest))
        })
    },
};
