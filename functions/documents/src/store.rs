//! The `documents` table: one place for its SQL, on the database port (either backend; tags
//! passed as a JSON list). Every query names the organization, so another tenant's id is
//! simply not found.

use chrono::{DateTime, Utc};
use gsign_core::documents::{DocumentStatus, NewDocument};
use gsign_platform::database::{json_list, read_json_in_slices, DbError, Row, Session};
use gsign_platform::http::Caller;
use gsign_platform::params;
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

/// Columns in [`Document::from_row`]'s order. The page list only when it is small (at most
/// [`INLINE_VALUE_BYTES`]: a 2000-page document's does not fit a Data API row); a larger one
/// is read apart ([`documents`]).
pub const COLUMNS: &str = "id, organization_id, name, original_name, type, mime_type, size, \
    page_count, CASE WHEN octet_length(pages::text) <= 8192 THEN pages END AS pages, \
    pages IS NOT NULL AS has_pages, s3_key, s3_version_id, pdf_s3_key, pdf_s3_version_id, status, \
    failure_reason, failure_detail, hash, pdf_hash, encrypted, metadata, tags, retention_until, \
    legal_hold, processed_at, created_at, updated_at, signatures, certification";

impl Document {
    fn from_row(row: &Row) -> Result<Self, DbError> {
        Ok(Self {
            id: row.get("id")?,
            organization_id: row.get("organization_id")?,
            name: row.get("name")?,
            original_name: row.get("original_name")?,
            doc_type: row.get("type")?,
            mime_type: row.get("mime_type")?,
            size: row.get("size")?,
            page_count: row.get("page_count")?,
            pages: row.get("pages")?,
            s3_key: row.get("s3_key")?,
            s3_version_id: row.get("s3_version_id")?,
            pdf_s3_key: row.get("pdf_s3_key")?,
            pdf_s3_version_id: row.get("pdf_s3_version_id")?,
            status: row.stored("status")?,
            failure_reason: row.get("failure_reason")?,
            failure_detail: row.get("failure_detail")?,
            hash: row.get("hash")?,
            pdf_hash: row.get("pdf_hash")?,
            encrypted: row.get("encrypted")?,
            metadata: row.get("metadata")?,
            tags: row.get("tags")?,
            retention_until: row.get("retention_until")?,
            legal_hold: row.get("legal_hold")?,
            processed_at: row.get("processed_at")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
            signatures: row.get("signatures")?,
            certification: row.get("certification")?,
        })
    }

    /// The document of `row`, its page list read apart when it was too large to come inline.
    async fn read(db: &(impl Session + ?Sized), row: &Row) -> Result<Self, DbError> {
        let mut document = Self::from_row(row)?;
        if document.pages.is_none() && row.get::<bool>("has_pages")? {
            document.pages = Some(
                read_json_in_slices(
                    db,
                    "pages",
                    "documents WHERE id = :id",
                    params!(id = document.id),
                )
                .await?,
            );
        }
        Ok(document)
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
    db: &(impl Session + ?Sized),
    caller: &Caller,
    id: Uuid,
    key: &str,
    doc: &NewDocument,
) -> Result<Document, DbError> {
    let size = i64::try_from(doc.size).unwrap_or(i64::MAX);
    let metadata = serde_json::Value::Object(doc.metadata.clone());
    let row = db
        .fetch_one(
            &format!(
                "INSERT INTO documents (id, organization_id, user_id, api_key_id, name, original_name,
                                        type, mime_type, size, s3_key, metadata, tags)
                 VALUES (:id, :org, :user_id, :api_key_id, :name, :original_name, :doc_type,
                         :mime_type, :size, :key, :metadata,
                         ARRAY(SELECT jsonb_array_elements_text(:tags::jsonb)))
                 RETURNING {COLUMNS}"
            ),
            params!(
                id,
                org = caller.org,
                user_id = caller.user,
                api_key_id = caller.api_key,
                name = doc.name,
                original_name = doc.original_name,
                doc_type = doc.doc_type.as_str(),
                mime_type = doc.doc_type.mime_type(),
                size,
                key,
                metadata,
                tags = json_list(&doc.tags),
            ),
        )
        .await?;
    Document::read(db, &row).await
}

/// The document of `row`, if any (see [`Document::read`]).
async fn document(
    db: &(impl Session + ?Sized),
    row: Option<Row>,
) -> Result<Option<Document>, DbError> {
    match row {
        Some(row) => Ok(Some(Document::read(db, &row).await?)),
        None => Ok(None),
    }
}

/// The documents of `rows` (see [`Document::read`]).
async fn documents(db: &(impl Session + ?Sized), rows: &[Row]) -> Result<Vec<Document>, DbError> {
    let mut documents = Vec::with_capacity(rows.len());
    for row in rows {
        documents.push(Document::read(db, row).await?);
    }
    Ok(documents)
}

/// A live (not deleted) document of `org`; `lock` takes a row lock for the transaction.
#[tracing::instrument(skip_all, fields(org = %org, id = %id))]
pub async fn get(
    db: &(impl Session + ?Sized),
    org: Uuid,
    id: Uuid,
    lock: bool,
) -> Result<Option<Document>, DbError> {
    let row = db
        .fetch_optional(
            &format!(
                "SELECT {COLUMNS} FROM documents
                  WHERE id = :id AND organization_id = :org AND deleted_at IS NULL{}",
                if lock { " FOR UPDATE" } else { "" }
            ),
            params!(id, org),
        )
        .await?;
    document(db, row).await
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
    db: &(impl Session + ?Sized),
    org: Uuid,
    filter: &ListFilter,
    limit: i64,
) -> Result<Vec<Document>, DbError> {
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
    let rows = db
        .fetch_all(
            &format!(
                "SELECT {COLUMNS} FROM documents
                  WHERE organization_id = :org AND deleted_at IS NULL
                    AND (:status::text IS NULL OR status = :status::text)
                    AND (:tag::text IS NULL OR tags @> ARRAY[:tag::text])
                    AND (:name::text IS NULL OR name ILIKE :name::text)
                    AND (:after_time::timestamptz IS NULL
                         OR (created_at, id) < (:after_time::timestamptz, :after_id::uuid))
                  ORDER BY created_at DESC, id DESC
                  LIMIT :limit"
            ),
            params!(
                org,
                status = filter.status.map(DocumentStatus::as_str),
                tag = filter.tag,
                name,
                after_time,
                after_id,
                limit,
            ),
        )
        .await?;
    documents(db, &rows).await
}

/// Changes name, tags and metadata (each only when given).
#[tracing::instrument(skip_all, fields(org = %org, id = %id))]
pub async fn update(
    db: &(impl Session + ?Sized),
    org: Uuid,
    id: Uuid,
    name: Option<&str>,
    tags: Option<&[String]>,
    metadata: Option<&serde_json::Value>,
) -> Result<Option<Document>, DbError> {
    let row = db
        .fetch_optional(
            &format!(
                "UPDATE documents
                    SET name = COALESCE(:name::text, name),
                        tags = CASE WHEN :tags::jsonb IS NULL THEN tags
                               ELSE ARRAY(SELECT jsonb_array_elements_text(:tags::jsonb)) END,
                        metadata = COALESCE(:metadata::jsonb, metadata)
                  WHERE id = :id AND organization_id = :org AND deleted_at IS NULL
                  RETURNING {COLUMNS}"
            ),
            params!(id, org, name, tags = tags.map(json_list), metadata),
        )
        .await?;
    document(db, row).await
}

/// How many envelopes refer to the document.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn envelope_count(db: &(impl Session + ?Sized), id: Uuid) -> Result<i64, DbError> {
    db.fetch_one(
        "SELECT count(*) AS envelopes FROM envelopes WHERE document_id = :id",
        params!(id),
    )
    .await?
    .get("envelopes")
}

/// Deleted documents whose bytes are still to erase (deleted before `before`, so the
/// deleting request's own erasure is not raced), oldest first, at most `limit`.
#[tracing::instrument(skip_all)]
pub async fn erasure_due(
    db: &(impl Session + ?Sized),
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Document>, DbError> {
    let rows = db
        .fetch_all(
            &format!(
                "SELECT {COLUMNS} FROM documents
                  WHERE deleted_at IS NOT NULL AND bytes_erased_at IS NULL
                    AND deleted_at < :before
                  ORDER BY deleted_at LIMIT :limit"
            ),
            params!(before, limit),
        )
        .await?;
    documents(db, &rows).await
}

/// Records that a deleted document's bytes are gone.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn bytes_erased(db: &(impl Session + ?Sized), id: Uuid) -> Result<(), DbError> {
    db.run(
        "UPDATE documents SET bytes_erased_at = now() WHERE id = :id AND deleted_at IS NOT NULL",
        params!(id),
    )
    .await?;
    Ok(())
}

/// Marks the document deleted.
#[tracing::instrument(skip_all, fields(org = %org, id = %id))]
pub async fn soft_delete(db: &(impl Session + ?Sized), org: Uuid, id: Uuid) -> Result<(), DbError> {
    db.run(
        "UPDATE documents SET deleted_at = now() WHERE id = :id AND organization_id = :org",
        params!(id, org),
    )
    .await?;
    Ok(())
}

/// Records the legal hold flag.
#[tracing::instrument(skip_all, fields(org = %org, id = %id))]
pub async fn set_legal_hold(
    db: &(impl Session + ?Sized),
    org: Uuid,
    id: Uuid,
    on: bool,
) -> Result<Option<Document>, DbError> {
    let row = db
        .fetch_optional(
            &format!(
                "UPDATE documents SET legal_hold = :on
                  WHERE id = :id AND organization_id = :org AND deleted_at IS NULL
                  RETURNING {COLUMNS}"
            ),
            params!(id, org, on),
        )
        .await?;
    document(db, row).await
}

/// Records the retention end (never shortening one already recorded).
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn set_retention(
    db: &(impl Session + ?Sized),
    id: Uuid,
    until: DateTime<Utc>,
) -> Result<(), DbError> {
    db.run(
        "UPDATE documents SET retention_until = GREATEST(retention_until, :until) WHERE id = :id",
        params!(id, until),
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
    db: &(impl Session + ?Sized),
    id: Uuid,
    result: &Ingested,
) -> Result<bool, DbError> {
    let changed = db
        .run(
            "UPDATE documents
                SET status = 'ready', s3_version_id = :version_id, hash = :hash,
                    mime_type = :mime_type, pdf_s3_key = :pdf_key,
                    pdf_s3_version_id = :pdf_version_id, pdf_hash = :pdf_hash,
                    page_count = :page_count, pages = :pages, encrypted = :encrypted,
                    signatures = :signatures, certification = :certification,
                    processed_at = now()
              WHERE id = :id AND status = 'processing' AND deleted_at IS NULL",
            params!(
                id,
                version_id = result.original.version_id,
                hash = result.hash,
                mime_type = result.mime_type,
                pdf_key = result.pdf.key,
                pdf_version_id = result.pdf.version_id,
                pdf_hash = result.pdf_hash,
                page_count = result.page_count,
                pages = result.pages,
                encrypted = result.encrypted,
                signatures = result.signatures,
                certification = result.certification,
            ),
        )
        .await?;
    Ok(changed == 1)
}

/// `processing` -> `failed` with a reason; `false` if it was no longer processing.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn mark_failed(
    db: &(impl Session + ?Sized),
    id: Uuid,
    version_id: Option<&str>,
    hash: Option<&str>,
    reason: &str,
    detail: &str,
) -> Result<bool, DbError> {
    let changed = db
        .run(
            "UPDATE documents
                SET status = 'failed', s3_version_id = :version_id, hash = :hash,
                    failure_reason = :reason, failure_detail = :detail, processed_at = now()
              WHERE id = :id AND status = 'processing' AND deleted_at IS NULL",
            params!(id, version_id, hash, reason, detail),
        )
        .await?;
    Ok(changed == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_list_comes_inline_only_as_large_as_the_port_allows() {
        assert!(COLUMNS.contains(&format!(
            "octet_length(pages::text) <= {}",
            gsign_platform::database::INLINE_VALUE_BYTES
        )));
    }
}
