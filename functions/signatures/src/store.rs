//! What verification reads from other areas' tables, read-only: the organization's CA
//! certificates and current CRLs, and a stored document's PDF.

use gsign_core::documents::DocumentStatus;
use gsign_platform::database::{DbError, Session};
use gsign_platform::params;
use gsign_platform::storage::ObjectRef;
use uuid::Uuid;

/// The DER certificates of the organization's own CAs.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn ca_certificates(
    db: &(impl Session + ?Sized),
    org: Uuid,
) -> Result<Vec<Vec<u8>>, DbError> {
    db.fetch_all(
        "SELECT certificate FROM certificates WHERE organization_id = :org \
         AND purpose = 'ca' AND certificate IS NOT NULL",
        params!(org),
    )
    .await?
    .iter()
    .map(|row| row.get("certificate"))
    .collect()
}

/// The DER CRLs the organization's CAs last published.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn revocation_lists(
    db: &(impl Session + ?Sized),
    org: Uuid,
) -> Result<Vec<Vec<u8>>, DbError> {
    db.fetch_all(
        "SELECT der FROM revocation_lists WHERE organization_id = :org AND der IS NOT NULL",
        params!(org),
    )
    .await?
    .iter()
    .map(|row| row.get("der"))
    .collect()
}

/// A stored document's status and, once it has one, its PDF.
pub struct StoredPdf {
    /// Only a `ready` document is verified.
    pub status: DocumentStatus,
    /// The PDF's object, when there is one.
    pub object: Option<ObjectRef>,
}

/// The organization's (not deleted) document `id`, if there is one.
#[tracing::instrument(skip_all, fields(org = %org, id = %id))]
pub async fn stored_pdf(
    db: &(impl Session + ?Sized),
    org: Uuid,
    id: Uuid,
) -> Result<Option<StoredPdf>, DbError> {
    let Some(row) = db
        .fetch_optional(
            "SELECT status, pdf_s3_key, pdf_s3_version_id FROM documents \
             WHERE organization_id = :org AND id = :id AND deleted_at IS NULL",
            params!(org, id),
        )
        .await?
    else {
        return Ok(None);
    };
    let key: Option<String> = row.get("pdf_s3_key")?;
    let object = match key {
        Some(key) => Some(ObjectRef {
            key,
            version_id: row.get("pdf_s3_version_id")?,
        }),
        None => None,
    };
    Ok(Some(StoredPdf {
        status: row.stored("status")?,
        object,
    }))
}
