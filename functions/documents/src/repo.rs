//! The `documents` table: one place for its SQL. Every query names the organization, so
//! another tenant's id is simply not found.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use gsign_core::documents::{DocumentStatus, NewDocument};
use gsign_platform::db::{self, PgError};
use gsign_platform::http::Caller;
use gsign_platform::storage::ObjectRef;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A document row (what the cache holds too).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Document {
    /// Id.
    pub id: Uuid,
    /// Owner organization.
    pub organization_id: Uuid,
    /// Display name.
    pub name: String,
    /// The uploader's file name.
    pub original_name: String,
    /// Declared type: pdf, docx, xlsx.
    pub doc_type: String,
    /// Detected media type once ingested; the declared one before.
    pub mime_type: String,
    /// Declared size.
    pub size: i64,
    /// Pages of the PDF to sign.
    pub page_count: Option<i32>,
    /// Each page's width, height (points) and rotation.
    pub pages: Option<serde_json::Value>,
    /// Upload key.
    pub s3_key: String,
    /// Ingested version of the upload.
    pub s3_version_id: Option<String>,
    /// The PDF to sign (the original, or its conversion).
    pub pdf_s3_key: Option<String>,
    /// Its version.
    pub pdf_s3_version_id: Option<String>,
    /// processing, ready, failed.
    pub status: DocumentStatus,
    /// Stable failure code.
    pub failure_reason: Option<String>,
    /// Failure explanation.
    pub failure_detail: Option<String>,
    /// SHA-256 of the original.
    pub hash: Option<String>,
    /// SHA-256 of the PDF to sign.
    pub pdf_hash: Option<String>,
    /// Stored with SSE-KMS.
    pub encrypted: bool,
    /// Free-form object.
    pub metadata: serde_json::Value,
    /// Labels.
    pub tags: Vec<String>,
    /// Object Lock retention end, if set.
    pub retention_until: Option<DateTime<Utc>>,
    /// Under legal hold.
    pub legal_hold: bool,
    /// When ingest finished.
    pub processed_at: Option<DateTime<Utc>>,
    /// Declared at.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Signed signature fields the upload carried already (others signed it before).
    pub signatures: i32,
    /// A certified upload's DocMDP permissions (1: no changes, 2: form filling and signing,
    /// 3: also annotations); such a document cannot be sent for signature.
    pub certification: Option<i16>,
}

/// Columns in [`Document::from_row`]'s order.
pub const COLUMNS: &str = "id, organization_id, name, original_name, type, mime_type, size, \
    page_count, pages, s3_key, s3_version_id, pdf_s3_key, pdf_s3_version_id, status, \
    failure_reason, failure_detail, hash, pdf_hash, encrypted, metadata, tags, retention_until, \
    legal_hold, processed_at, created_at, updated_at, signatures, certification";

impl Document {
    fn from_row(row: &tokio_postgres::Row) -> Result<Self, PgError> {
        Ok(Self {
            id: row.get(0),
            organization_id: row.get(1),
            name: row.get(2),
            original_name: row.get(3),
            doc_type: row.get(4),
            mime_type: row.get(5),
            size: row.get(6),
            page_count: row.get(7),
            pages: row.get(8),
            s3_key: row.get(9),
            s3_version_id: row.get(10),
            pdf_s3_key: row.get(11),
            pdf_s3_version_id: row.get(12),
            status: db::stored(row, "status")?,
            failure_reason: row.get(14),
            failure_detail: row.get(15),
            hash: row.get::<_, Option<String>>(16),
            pdf_hash: row.get::<_, Option<String>>(17),
            encrypted: row.get(18),
            metadata: row.get(19),
            tags: row.get(20),
            retention_until: row.get(21),
            legal_hold: row.get(22),
            processed_at: row.get(23),
            created_at: row.get(24),
            updated_at: row.get(25),
            signatures: row.get(26),
            certification: row.get(27),
        })
    }

    /// Every stored object version of the document (the upload, and a conversion).
    pub fn objects(&self) -> Vec<ObjectRef> {
        let mut objects = vec![ObjectRef {
            key: self.s3_key.clone(),
            version_id: self.s3_version_id.clone(),
        }];
        if let Some(key) = self.pdf_s3_key.as_ref().filter(|k| **k != self.s3_key) {
            objects.push(ObjectRef {
                key: key.clone(),
                version_id: self.pdf_s3_version_id.clone(),
            });
        }
        objects
    }

    /// Whether ingest has finished with it.
    pub fn is_processing(&self) -> bool {
        self.status == DocumentStatus::Processing
    }
}

/// Inserts a declared document.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn insert(
    client: &impl GenericClient,
    caller: &Caller,
    id: Uuid,
    key: &str,
    doc: &NewDocument,
) -> Result<Document, tokio_postgres::Error> {
    let size = i64::try_from(doc.size).unwrap_or(i64::MAX);
    let metadata = serde_json::Value::Object(doc.metadata.clone());
    let row = client
        .query_one(
            &format!(
                "INSERT INTO documents (id, organization_id, user_id, api_key_id, name, original_name,
                                        type, mime_type, size, s3_key, metadata, tags)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {COLUMNS}"
            ),
            &[
                &id,
                &caller.org,
                &caller.user,
                &caller.api_key,
                &doc.name,
                &doc.original_name,
                &doc.doc_type.as_str(),
                &doc.doc_type.mime_type(),
                &size,
                &key,
                &metadata,
                &doc.tags,
            ],
        )
        .await?;
    Document::from_row(&row)
}

/// A live (not deleted) document of `org`; `lock` takes a row lock for the transaction.
#[tracing::instrument(skip_all, fields(org = %org, id = %id))]
pub async fn get(
    client: &impl GenericClient,
    org: Uuid,
    id: Uuid,
    lock: bool,
) -> Result<Option<Document>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM documents
                  WHERE id = $1 AND organization_id = $2 AND deleted_at IS NULL{}",
                if lock { " FOR UPDATE" } else { "" }
            ),
            &[&id, &org],
        )
        .await?;
    row.as_ref().map(Document::from_row).transpose()
}

/// Filters of the list route.
#[derive(Debug, Default)]
pub struct ListFilter {
    /// Only this status.
    pub status: Option<DocumentStatus>,
    /// Only documents carrying this tag.
    pub tag: Option<String>,
    /// Name contains this (case-insensitive).
    pub name: Option<String>,
    /// Strictly after this (created_at, id) in newest-first order.
    pub after: Option<(DateTime<Utc>, Uuid)>,
}

/// One page of `org`'s live documents, newest first.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn list(
    client: &impl GenericClient,
    org: Uuid,
    filter: &ListFilter,
    limit: i64,
) -> Result<Vec<Document>, tokio_postgres::Error> {
    // LIKE metacharacters in the user's text match literally.
    let name = filter.name.as_ref().map(|n| {
        format!(
            "%{}%",
            n.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let (after_time, after_id) = filter.after.unzip();
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM documents
                  WHERE organization_id = $1 AND deleted_at IS NULL
                    AND ($2::text IS NULL OR status = $2)
                    AND ($3::text IS NULL OR tags @> ARRAY[$3::text])
                    AND ($4::text IS NULL OR name ILIKE $4)
                    AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6))
                  ORDER BY created_at DESC, id DESC
                  LIMIT $7"
            ),
            &[
                &org,
                &filter.status.map(DocumentStatus::as_str),
                &filter.tag,
                &name,
                &after_time,
                &after_id,
                &limit,
            ],
        )
        .await?;
    rows.iter().map(Document::from_row).collect()
}

/// Changes name, tags and metadata (each only when given).
#[tracing::instrument(skip_all, fields(org = %org, id = %id))]
pub async fn update(
    client: &impl GenericClient,
    org: Uuid,
    id: Uuid,
    name: Option<&str>,
    tags: Option<&[String]>,
    metadata: Option<&serde_json::Value>,
) -> Result<Option<Document>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            &format!(
                "UPDATE documents
                    SET name = COALESCE($3, name), tags = COALESCE($4, tags),
                        metadata = COALESCE($5, metadata)
                  WHERE id = $1 AND organization_id = $2 AND deleted_at IS NULL
                  RETURNING {COLUMNS}"
            ),
            &[&id, &org, &name, &tags, &metadata],
        )
        .await?;
    row.as_ref().map(Document::from_row).transpose()
}

/// How many envelopes refer to the document.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn envelope_count(
    client: &impl GenericClient,
    id: Uuid,
) -> Result<i64, tokio_postgres::Error> {
    Ok(client
        .query_one(
            "SELECT count(*) FROM envelopes WHERE document_id = $1",
            &[&id],
        )
        .await?
        .get(0))
}

/// Deleted documents whose bytes are still to erase (deleted before `before`, so the
/// deleting request's own erasure is not raced), oldest first, at most `limit`.
#[tracing::instrument(skip_all)]
pub async fn erasure_due(
    client: &impl GenericClient,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Document>, tokio_postgres::Error> {
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM documents
                  WHERE deleted_at IS NOT NULL AND bytes_erased_at IS NULL AND deleted_at < $1
                  ORDER BY deleted_at LIMIT $2"
            ),
            &[&before, &limit],
        )
        .await?;
    rows.iter().map(Document::from_row).collect()
}

/// Records that a deleted document's bytes are gone.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn bytes_erased(
    client: &impl GenericClient,
    id: Uuid,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE documents SET bytes_erased_at = now() WHERE id = $1 AND deleted_at IS NOT NULL",
            &[&id],
        )
        .await?;
    Ok(())
}

/// Marks the document deleted.
#[tracing::instrument(skip_all, fields(org = %org, id = %id))]
pub async fn soft_delete(
    client: &impl GenericClient,
    org: Uuid,
    id: Uuid,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE documents SET deleted_at = now() WHERE id = $1 AND organization_id = $2",
            &[&id, &org],
        )
        .await?;
    Ok(())
}

/// Records the legal hold flag.
#[tracing::instrument(skip_all, fields(org = %org, id = %id))]
pub async fn set_legal_hold(
    client: &impl GenericClient,
    org: Uuid,
    id: Uuid,
    on: bool,
) -> Result<Option<Document>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            &format!(
                "UPDATE documents SET legal_hold = $3
                  WHERE id = $1 AND organization_id = $2 AND deleted_at IS NULL
                  RETURNING {COLUMNS}"
            ),
            &[&id, &org, &on],
        )
        .await?;
    row.as_ref().map(Document::from_row).transpose()
}

/// Records the retention end (never shortening one already recorded).
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn set_retention(
    client: &impl GenericClient,
    id: Uuid,
    until: DateTime<Utc>,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE documents SET retention_until = GREATEST(retention_until, $2) WHERE id = $1",
            &[&id, &until],
        )
        .await?;
    Ok(())
}

/// What a successful ingest found.
#[derive(Debug, Clone)]
pub struct Ingested {
    /// The ingested upload version.
    pub original: ObjectRef,
    /// SHA-256 of the upload.
    pub hash: String,
    /// The detected media type.
    pub mime_type: String,
    /// The PDF to sign.
    pub pdf: ObjectRef,
    /// Its SHA-256.
    pub pdf_hash: String,
    /// Its page count.
    pub page_count: i32,
    /// Its pages.
    pub pages: serde_json::Value,
    /// Whether S3 holds it encrypted with KMS.
    pub encrypted: bool,
    /// Signed fields it carries already.
    pub signatures: i32,
    /// A certification's DocMDP permissions.
    pub certification: Option<i16>,
}

/// `processing` -> `ready`; `false` if the document was no longer processing (a duplicate
/// delivery finished first) or is gone.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn mark_ready(
    client: &impl GenericClient,
    id: Uuid,
    result: &Ingested,
) -> Result<bool, tokio_postgres::Error> {
    let changed = client
        .execute(
            "UPDATE documents
                SET status = 'ready', s3_version_id = $2, hash = $3, mime_type = $4,
                    pdf_s3_key = $5, pdf_s3_version_id = $6, pdf_hash = $7, page_count = $8,
                    pages = $9, encrypted = $10, signatures = $11, certification = $12,
                    processed_at = now()
              WHERE id = $1 AND status = 'processing' AND deleted_at IS NULL",
            &[
                &id,
                &result.original.version_id,
                &result.hash,
                &result.mime_type,
                &result.pdf.key,
                &result.pdf.version_id,
                &result.pdf_hash,
                &result.page_count,
                &result.pages,
                &result.encrypted,
                &result.signatures,
                &result.certification,
            ],
        )
        .await?;
    Ok(changed == 1)
}

/// `processing` -> `failed` with a reason; `false` if it was no longer processing.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn mark_failed(
    client: &impl GenericClient,
    id: Uuid,
    version_id: Option<&str>,
    hash: Option<&str>,
    reason: &str,
    detail: &str,
) -> Result<bool, tokio_postgres::Error> {
    let changed = client
        .execute(
            "UPDATE documents
                SET status = 'failed', s3_version_id = $2, hash = $3, failure_reason = $4,
                    failure_detail = $5, processed_at = now()
              WHERE id = $1 AND status = 'processing' AND deleted_at IS NULL",
            &[&id, &version_id, &hash, &reason, &detail],
        )
        .await?;
    Ok(changed == 1)
}
