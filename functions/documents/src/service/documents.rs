//! The document use cases: `POST /v1/documents` (declare + presigned upload), `GET /v1/documents`,
//! `GET|PATCH|DELETE /v1/documents/{id}`, `GET /v1/documents/{id}/download` and
//! `PUT /v1/documents/{id}/legal-hold`.
//!
//! Every route names its [`Action`]; every query is scoped to the caller's organization.

use chrono::{DateTime, Utc};
use gsign_core::documents::{self, keys, DocumentDeclaration, DocumentStatus, NewDocument};
use gsign_platform::http::Caller;
use gsign_platform::pagination::{Page, PageRequest};
use gsign_platform::storage::{ObjectRef, Presigned};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{DocumentsCase, DocumentsError};
use crate::service::retention;
use crate::service::{cache_key, CACHE_TTL};
use crate::store::{self, Document, ListFilter};

use super::DocumentsApi;

/// What clients see of a document.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DocumentView {
    /// Id.
    id: Uuid,
    /// Display name.
    name: String,
    /// The uploader's file name.
    original_name: String,
    /// Declared type.
    #[serde(rename = "type")]
    #[schemars(with = "gsign_core::documents::DocumentType")]
    doc_type: String,
    /// Detected media type once ingested; the declared one before.
    mime_type: String,
    /// Declared size in bytes.
    size: i64,
    /// Where the document is in its life.
    #[schemars(with = "DocumentStatus")]
    status: String,
    /// Why ingest refused the file (a stable code), when `failed`.
    failure_reason: Option<String>,
    /// The refusal, in words.
    failure_detail: Option<String>,
    /// Pages of the PDF to sign, once ingested.
    page_count: Option<i32>,
    /// Each page's size and rotation, once ingested.
    #[schemars(with = "Option<Vec<PageSize>>")]
    pages: Option<serde_json::Value>,
    /// SHA-256 of the original (hex), once ingested.
    sha256: Option<String>,
    /// SHA-256 of the PDF to sign (hex), once ingested.
    pdf_sha256: Option<String>,
    /// Stored with SSE-KMS.
    encrypted: bool,
    /// Signed fields the upload carried (others signed it before GSign).
    signatures: i32,
    /// A certified upload's DocMDP permissions (1, 2 or 3): it cannot be sent for signature.
    certification: Option<i16>,
    /// Free-form JSON object.
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    metadata: serde_json::Value,
    /// Labels.
    tags: Vec<String>,
    /// Object Lock retention end, if set.
    retention_until: Option<DateTime<Utc>>,
    /// Under legal hold.
    legal_hold: bool,
    /// When ingest finished.
    processed_at: Option<DateTime<Utc>>,
    /// Declared at.
    created_at: DateTime<Utc>,
    /// Last change.
    updated_at: DateTime<Utc>,
}

impl From<&Document> for DocumentView {
    fn from(d: &Document) -> Self {
        Self {
            id: d.id,
            name: d.name.clone(),
            original_name: d.original_name.clone(),
            doc_type: d.doc_type.clone(),
            mime_type: d.mime_type.clone(),
            size: d.size,
            status: d.status.as_str().to_owned(),
            failure_reason: d.failure_reason.clone(),
            failure_detail: d.failure_detail.clone(),
            page_count: d.page_count,
            pages: d.pages.clone(),
            sha256: d.hash.clone(),
            pdf_sha256: d.pdf_hash.clone(),
            encrypted: d.encrypted,
            signatures: d.signatures,
            certification: d.certification,
            metadata: d.metadata.clone(),
            tags: d.tags.clone(),
            retention_until: d.retention_until,
            legal_hold: d.legal_hold,
            processed_at: d.processed_at,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// `POST /v1/documents` answer: the document and where to PUT the file.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Created {
    #[serde(flatten)]
    document: DocumentView,
    /// The presigned PUT of the file, bound to its declared type and size.
    upload: Presigned,
}

/// `GET /v1/documents/{id}/download` answer: a presigned GET of the file.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Download {
    /// Which file: the upload as it was, or the PDF to sign.
    #[schemars(with = "DownloadVariant")]
    variant: &'static str,
    /// The name the browser saves it as.
    file_name: String,
    /// SHA-256 of that file (hex).
    sha256: Option<String>,
    #[serde(flatten)]
    request: Presigned,
}

/// `PATCH /v1/documents/{id}` body: what is given changes, the rest stays.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentUpdate {
    /// New display name (1 to 255 characters).
    #[serde(default)]
    name: Option<String>,
    /// New labels, replacing the old (at most 20, of 1 to 50 characters).
    #[serde(default)]
    tags: Option<Vec<String>>,
    /// New free-form JSON object, replacing the old (at most 16 KiB serialized).
    #[serde(default)]
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `PUT /v1/documents/{id}/legal-hold` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LegalHold {
    /// Place (`true`) or release (`false`) the hold.
    enabled: bool,
    /// Why, for the audit trail (at most 500 characters).
    #[serde(default)]
    reason: Option<String>,
}

/// One page of a document's PDF: its size in points and its rotation.
#[derive(schemars::JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
pub(crate) struct PageSize {
    /// Width in points, before rotation.
    width: f64,
    /// Height in points, before rotation.
    height: f64,
    /// Clockwise rotation for display: 0, 90, 180 or 270.
    rotation: u16,
}

/// Which file of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DownloadVariant {
    /// The upload as it was.
    #[default]
    Original,
    /// The PDF to sign (the original, or its conversion).
    Pdf,
}

impl std::str::FromStr for DownloadVariant {
    type Err = &'static str;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "original" => Ok(Self::Original),
            "pdf" => Ok(Self::Pdf),
            _ => Err("must be original or pdf"),
        }
    }
}

/// `GET /v1/documents`' query, checked: which page and which documents.
#[derive(Debug, Clone)]
pub struct DocumentQuery {
    /// `limit` and `cursor`.
    pub page: PageRequest,
    /// Only documents with this status.
    pub status: Option<DocumentStatus>,
    /// Only documents carrying this tag.
    pub tag: Option<String>,
    /// Only documents whose name contains this (case-insensitive).
    pub name: Option<String>,
}

impl DocumentsApi {
    /// `POST /v1/documents`: declares a document and gives a presigned URL to upload it to.
    #[tracing::instrument(skip_all)]
    pub async fn create(
        &self,
        caller: &Caller,
        input: DocumentDeclaration,
    ) -> Result<Created, DocumentsError> {
        let s = &self.services;
        let doc = NewDocument::parse(input, s.max_bytes).map_err(DocumentsError::Validation)?;
        let id = Uuid::new_v4();
        let key = keys::original(caller.org, id, doc.doc_type);
        let upload = s
            .store
            .presign_put(&key, doc.doc_type.mime_type(), doc.size, s.upload_ttl)
            .await?;
        let mut conn = s.db.connect().await?;
        let tx = conn.begin().await?;
        let row = store::insert(&tx, caller, id, &key, &doc).await?;
        self.commit_audited(
            tx,
            caller,
            "document.created",
            id,
            serde_json::json!({"type": doc.doc_type, "size": doc.size}),
        )
        .await?;
        Ok(Created {
            document: DocumentView::from(&row),
            upload,
        })
    }

    /// The document, from the cache when it has it.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn document(&self, caller: &Caller, id: Uuid) -> Result<Document, DocumentsError> {
        let s = &self.services;
        if let Some(doc) = s.cache.get_json::<Document>(&cache_key(id)).await {
            // The cache is shared by every tenant: the organization check still applies.
            return if doc.organization_id == caller.org {
                Ok(doc)
            } else {
                Err(DocumentsError::NotFound("document"))
            };
        }
        let client = s.db.connect().await?;
        let doc = store::get(&client, caller.org, id, false)
            .await?
            .ok_or(DocumentsError::NotFound("document"))?;
        // Only finished documents are cached: a processing one changes within seconds.
        if !doc.is_processing() {
            if let Err(err) = s.cache.set_json(&cache_key(id), &doc, CACHE_TTL).await {
                tracing::warn!(error = format!("{err:#}"), "could not cache document");
            }
        }
        Ok(doc)
    }

    /// `GET /v1/documents`: the organization's documents, newest first, a page at a time.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn list(
        &self,
        caller: &Caller,
        query: DocumentQuery,
    ) -> Result<Page<DocumentView>, DocumentsError> {
        let page = query.page;
        let filter = ListFilter {
            status: query.status,
            tag: query.tag,
            name: query.name,
            after: page.after,
        };
        let client = self.services.db.connect().await?;
        let mut rows = store::list(&client, caller.org, &filter, page.fetch()).await?;
        let next_cursor = page.finish(&mut rows, |d| (d.created_at, d.id));
        Ok(Page {
            data: rows.iter().map(DocumentView::from).collect(),
            next_cursor,
        })
    }

    /// `PATCH /v1/documents/{id}`: name, tags and metadata.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn update(
        &self,
        caller: &Caller,
        id: Uuid,
        input: DocumentUpdate,
    ) -> Result<DocumentView, DocumentsError> {
        let (name, tags) = checked_update(&input)?;
        let metadata = input.metadata.map(serde_json::Value::Object);
        let s = &self.services;
        let mut conn = s.db.connect().await?;
        let tx = conn.begin().await?;
        let doc = store::update(
            &tx,
            caller.org,
            id,
            name.as_deref(),
            tags.as_deref(),
            metadata.as_ref(),
        )
        .await?
        .ok_or(DocumentsError::NotFound("document"))?;
        let changed: Vec<&str> = [
            name.as_ref().map(|_| "name"),
            tags.as_ref().map(|_| "tags"),
            metadata.as_ref().map(|_| "metadata"),
        ]
        .into_iter()
        .flatten()
        .collect();
        self.commit_audited(
            tx,
            caller,
            "document.updated",
            id,
            serde_json::json!({"changed": changed}),
        )
        .await?;
        Ok(DocumentView::from(&doc))
    }

    /// `GET /v1/documents/{id}/download`: a short-lived URL to the original or its PDF.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn download(
        &self,
        caller: &Caller,
        id: Uuid,
        variant: DownloadVariant,
    ) -> Result<Download, DocumentsError> {
        let doc = self.document(caller, id).await?;
        let not_ready = || {
            DocumentsError::from(DocumentsCase::NotReady {
                status: doc.status,
                reason: doc.failure_reason.clone(),
            })
        };
        if doc.status != DocumentStatus::Ready {
            return Err(not_ready());
        }
        let file = stored_file(&doc, variant == DownloadVariant::Pdf).ok_or_else(not_ready)?;
        let disposition = documents::content_disposition(&doc.name, file.extension);
        let request = self
            .services
            .store
            .presign_get(
                &file.object,
                file.mime,
                &disposition,
                self.services.download_ttl,
            )
            .await?;
        Ok(Download {
            variant: file.variant,
            file_name: saved_name(&disposition),
            sha256: file.sha256,
            request,
        })
    }

    /// `DELETE /v1/documents/{id}`: deletes and erases a document nothing holds.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn delete(&self, caller: &Caller, id: Uuid) -> Result<(), DocumentsError> {
        let s = &self.services;
        let mut conn = s.db.connect().await?;
        let tx = conn.begin().await?;
        let doc = store::get(&tx, caller.org, id, true)
            .await?
            .ok_or(DocumentsError::NotFound("document"))?;
        let envelopes = store::envelope_count(&tx, id).await?;
        if let Some(blocker) =
            documents::deletion_blocker(doc.legal_hold, doc.retention_until, envelopes, Utc::now())
        {
            return Err(DocumentsCase::Undeletable(blocker).into());
        }
        store::soft_delete(&tx, caller.org, id).await?;
        self.commit_audited(tx, caller, "document.deleted", id, serde_json::json!({}))
            .await?;
        // Under no retention and no hold (checked above), deleted means erased: every version
        // of the bytes goes, not just behind a delete marker. What fails here is erased by
        // `schedule-erase-deleted-documents`.
        if let Err(err) = super::erasure::erase(&conn, &s.store, &doc).await {
            tracing::warn!(
                document = %doc.id,
                error = format!("{err:#}"),
                "deleted document's bytes left to the erase schedule"
            );
        }
        Ok(())
    }

    /// `PUT /v1/documents/{id}/legal-hold`: places or releases a legal hold (S3 and the row).
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn legal_hold(
        &self,
        caller: &Caller,
        id: Uuid,
        input: LegalHold,
    ) -> Result<DocumentView, DocumentsError> {
        let reason = input
            .reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
        if reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
            return Err(DocumentsError::invalid(
                "/reason",
                "must be at most 500 characters",
            ));
        }
        let s = &self.services;
        let mut conn = s.db.connect().await?;
        let tx = conn.begin().await?;
        let doc = store::get(&tx, caller.org, id, true)
            .await?
            .ok_or(DocumentsError::NotFound("document"))?;
        if doc.is_processing() {
            // Nothing ingested yet to hold: the object version is not known.
            return Err(DocumentsCase::NotReady {
                status: doc.status,
                reason: None,
            }
            .into());
        }
        // S3 first, inside the row lock: the flag in Postgres never claims a hold S3 lacks.
        retention::set_legal_hold(&s.store, &doc, input.enabled).await?;
        let doc = store::set_legal_hold(&tx, caller.org, id, input.enabled)
            .await?
            .ok_or(DocumentsError::NotFound("document"))?;
        let action = if input.enabled {
            "document.legal_hold_placed"
        } else {
            "document.legal_hold_released"
        };
        self.commit_audited(
            tx,
            caller,
            action,
            id,
            serde_json::json!({"reason": reason}),
        )
        .await?;
        Ok(DocumentView::from(&doc))
    }
}

/// The update's new name and tags, its metadata checked too; every field's error at once.
fn checked_update(
    input: &DocumentUpdate,
) -> Result<(Option<String>, Option<Vec<String>>), DocumentsError> {
    let mut errors = Vec::new();
    let name = match input.name.as_deref().map(documents::rename) {
        Some(Err(e)) => {
            errors.push(e);
            None
        }
        Some(Ok(name)) => Some(name),
        None => None,
    };
    let tags = match input.tags.as_deref().map(documents::tags) {
        Some(Err(e)) => {
            errors.extend(e);
            None
        }
        Some(Ok(tags)) => Some(tags),
        None => None,
    };
    if let Some(metadata) = &input.metadata {
        documents::check_metadata(metadata, "/metadata", &mut errors);
    }
    if !errors.is_empty() {
        return Err(DocumentsError::Validation(errors));
    }
    Ok((name, tags))
}

/// One of a document's files as it is downloaded.
struct StoredFile<'a> {
    variant: &'static str,
    object: ObjectRef,
    extension: &'a str,
    mime: &'a str,
    sha256: Option<String>,
}

/// The ready document's PDF to sign (`pdf`) or its original; `None` when it has no PDF.
fn stored_file(doc: &Document, pdf: bool) -> Option<StoredFile<'_>> {
    if pdf {
        let key = doc.pdf_s3_key.clone()?;
        return Some(StoredFile {
            variant: "pdf",
            object: ObjectRef {
                key,
                version_id: doc.pdf_s3_version_id.clone(),
            },
            extension: "pdf",
            mime: "application/pdf",
            sha256: doc.pdf_hash.clone(),
        });
    }
    Some(StoredFile {
        variant: "original",
        object: ObjectRef {
            key: doc.s3_key.clone(),
            version_id: doc.s3_version_id.clone(),
        },
        extension: doc.doc_type.as_str(),
        mime: doc.mime_type.as_str(),
        sha256: doc.hash.clone(),
    })
}

/// The file name a `Content-Disposition` saves as.
fn saved_name(disposition: &str) -> String {
    disposition
        .split("filename=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("document")
        .to_owned()
}
