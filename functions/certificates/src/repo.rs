//! The `certificates` table.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use gsign_core::certificates::CertificateStatus;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A stored certificate (private keys are in the HSM, never here).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Certificate {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub user_id: Option<Uuid>,
    pub purpose: String,
    pub label: String,
    pub cert_type: String,
    pub status: CertificateStatus,
    pub is_default: bool,
    pub serial_number: Option<String>,
    pub subject_dn: String,
    pub subject_cn: Option<String>,
    pub issuer_cn: Option<String>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_to: Option<DateTime<Utc>>,
    pub key_type: String,
    pub key_size: i32,
    pub signature_scheme: String,
    pub usage_count: i32,
    pub last_used_at: Option<DateTime<Utc>>,
    pub hsm_key_id: String,
    pub public_key: Vec<u8>,
    pub certificate: Option<Vec<u8>>,
    pub chain: Vec<Vec<u8>>,
    pub csr_pem: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revocation_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The columns of [`Certificate`], in `SELECT` order.
pub(crate) const COLUMNS: &str =
    "id, organization_id, user_id, purpose, label, type, status, is_default, \
    serial_number, subject_dn, subject_cn, issuer_cn, valid_from, valid_to, key_type, key_size, \
    signature_scheme, usage_count, last_used_at, hsm_key_id, public_key, certificate, chain, \
    csr_pem, revoked_at, revocation_reason, created_at, updated_at";

impl TryFrom<&tokio_postgres::Row> for Certificate {
    type Error = tokio_postgres::Error;

    fn try_from(row: &tokio_postgres::Row) -> Result<Self, Self::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            organization_id: row.try_get("organization_id")?,
            user_id: row.try_get("user_id")?,
            purpose: row.try_get("purpose")?,
            label: row.try_get("label")?,
            cert_type: row.try_get("type")?,
            status: gsign_platform::db::stored(row, "status")?,
            is_default: row.try_get("is_default")?,
            serial_number: row.try_get("serial_number")?,
            subject_dn: row.try_get("subject_dn")?,
            subject_cn: row.try_get("subject_cn")?,
            issuer_cn: row.try_get("issuer_cn")?,
            valid_from: row.try_get("valid_from")?,
            valid_to: row.try_get("valid_to")?,
            key_type: row.try_get("key_type")?,
            key_size: row.try_get("key_size")?,
            signature_scheme: row.try_get("signature_scheme")?,
            usage_count: row.try_get("usage_count")?,
            last_used_at: row.try_get("last_used_at")?,
            hsm_key_id: row.try_get("hsm_key_id")?,
            public_key: row.try_get("public_key")?,
            certificate: row.try_get("certificate")?,
            chain: row.try_get("chain")?,
            csr_pem: row.try_get("csr_pem")?,
            revoked_at: row.try_get("revoked_at")?,
            revocation_reason: row.try_get("revocation_reason")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// What an issued certificate adds to a row.
#[derive(Debug, Clone)]
pub struct Issued {
    pub der: Vec<u8>,
    pub chain: Vec<Vec<u8>>,
    pub serial_number: String,
    pub subject_cn: Option<String>,
    pub issuer_cn: Option<String>,
    pub valid_from: DateTime<Utc>,
    pub valid_to: DateTime<Utc>,
}

/// A row to insert.
#[derive(Debug, Clone)]
pub struct NewRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub user_id: Option<Uuid>,
    pub purpose: &'static str,
    pub label: String,
    pub cert_type: &'static str,
    pub subject_dn: String,
    pub key_type: &'static str,
    pub key_size: i32,
    pub signature_scheme: &'static str,
    pub hsm_key_id: String,
    pub public_key: Vec<u8>,
    /// `None`: a pending CSR.
    pub issued: Option<Issued>,
    pub csr_pem: Option<String>,
}

/// Inserts `new`.
#[tracing::instrument(skip_all)]
pub async fn insert(
    client: &impl GenericClient,
    new: &NewRow,
) -> Result<Certificate, tokio_postgres::Error> {
    let issued = new.issued.as_ref();
    let row = client
        .query_one(
            &format!(
                "INSERT INTO certificates (id, organization_id, user_id, purpose, label, type, \
                 status, subject_dn, key_type, key_size, signature_scheme, hsm_key_id, \
                 public_key, certificate, chain, serial_number, subject_cn, issuer_cn, \
                 valid_from, valid_to, csr_pem) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
                 COALESCE($15, '{{}}'::bytea[]), $16, $17, $18, $19, $20, $21) \
                 RETURNING {COLUMNS}"
            ),
            &[
                &new.id,
                &new.organization_id,
                &new.user_id,
                &new.purpose,
                &new.label,
                &new.cert_type,
                &if issued.is_some() {
                    "active"
                } else {
                    "pending"
                },
                &new.subject_dn,
                &new.key_type,
                &new.key_size,
                &new.signature_scheme,
                &new.hsm_key_id,
                &new.public_key,
                &issued.map(|i| i.der.clone()),
                &issued.map(|i| i.chain.clone()),
                &issued.map(|i| i.serial_number.clone()),
                &issued.and_then(|i| i.subject_cn.clone()),
                &issued.and_then(|i| i.issuer_cn.clone()),
                &issued.map(|i| i.valid_from),
                &issued.map(|i| i.valid_to),
                &new.csr_pem,
            ],
        )
        .await?;
    Certificate::try_from(&row)
}

/// The certificate `id` of organization `org`; `lock` takes the row lock for a change.
#[tracing::instrument(skip_all, fields(org = %org, id = %id))]
pub async fn get(
    client: &impl GenericClient,
    org: Uuid,
    id: Uuid,
    lock: bool,
) -> Result<Option<Certificate>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM certificates WHERE organization_id = $1 AND id = $2{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    client
        .query_opt(&sql, &[&org, &id])
        .await?
        .as_ref()
        .map(Certificate::try_from)
        .transpose()
}

/// The organization's active authority certificate of `purpose` (`ca` or `seal`).
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn authority(
    client: &impl GenericClient,
    org: Uuid,
    purpose: &str,
) -> Result<Option<Certificate>, tokio_postgres::Error> {
    client
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM certificates \
                 WHERE organization_id = $1 AND purpose = $2 AND status = 'active'"
            ),
            &[&org, &purpose],
        )
        .await?
        .as_ref()
        .map(Certificate::try_from)
        .transpose()
}

/// Filters of the list route.
#[derive(Debug, Default)]
pub struct ListFilter {
    pub purpose: Option<String>,
    pub status: Option<String>,
    pub user_id: Option<Uuid>,
    pub after: Option<(DateTime<Utc>, Uuid)>,
}

/// One page of the organization's certificates, newest first.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn list(
    client: &impl GenericClient,
    org: Uuid,
    filter: &ListFilter,
    limit: i64,
) -> Result<Vec<Certificate>, tokio_postgres::Error> {
    let (after_t, after_id) = filter.after.unzip();
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM certificates WHERE organization_id = $1 \
                 AND ($2::text IS NULL OR purpose = $2) AND ($3::text IS NULL OR status = $3) \
                 AND ($4::uuid IS NULL OR user_id = $4) \
                 AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6)) \
                 ORDER BY created_at DESC, id DESC LIMIT $7"
            ),
            &[
                &org,
                &filter.purpose,
                &filter.status,
                &filter.user_id,
                &after_t,
                &after_id,
                &limit,
            ],
        )
        .await?;
    rows.iter().map(Certificate::try_from).collect()
}

/// Makes `id` the default of `user` (and no other).
#[tracing::instrument(skip_all, fields(user = %user, id = %id))]
pub async fn set_default(
    client: &impl GenericClient,
    user: Uuid,
    id: Uuid,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE certificates SET is_default = false WHERE user_id = $1 AND is_default AND id <> $2",
            &[&user, &id],
        )
        .await?;
    client
        .execute(
            "UPDATE certificates SET is_default = true WHERE id = $1",
            &[&id],
        )
        .await?;
    Ok(())
}

/// Whether `user` has an active default certificate.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn has_default(
    client: &impl GenericClient,
    user: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            "SELECT 1 FROM certificates WHERE user_id = $1 AND is_default",
            &[&user],
        )
        .await?
        .is_some())
}

/// Records the imported certificate of a pending CSR.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn activate(
    client: &impl GenericClient,
    id: Uuid,
    cert_type: &str,
    issued: &Issued,
) -> Result<Certificate, tokio_postgres::Error> {
    let row = client
        .query_one(
            &format!(
                "UPDATE certificates SET status = 'active', type = $2, certificate = $3, \
                 chain = $4, serial_number = $5, subject_cn = $6, issuer_cn = $7, \
                 valid_from = $8, valid_to = $9 WHERE id = $1 RETURNING {COLUMNS}"
            ),
            &[
                &id,
                &cert_type,
                &issued.der,
                &issued.chain,
                &issued.serial_number,
                &issued.subject_cn,
                &issued.issuer_cn,
                &issued.valid_from,
                &issued.valid_to,
            ],
        )
        .await?;
    Certificate::try_from(&row)
}

/// Revokes `id`: never used again, no longer anyone's default.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn revoke(
    client: &impl GenericClient,
    id: Uuid,
    reason: &str,
) -> Result<Certificate, tokio_postgres::Error> {
    let row = client
        .query_one(
            &format!(
                "UPDATE certificates SET status = 'revoked', revoked_at = now(), \
                 revocation_reason = $2, is_default = false WHERE id = $1 RETURNING {COLUMNS}"
            ),
            &[&id, &reason],
        )
        .await?;
    Certificate::try_from(&row)
}

/// Counts one signature made with `id` (the signing worker calls this).
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn record_use(
    client: &impl GenericClient,
    id: Uuid,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE certificates SET usage_count = usage_count + 1, last_used_at = now() \
             WHERE id = $1",
            &[&id],
        )
        .await?;
    Ok(())
}

/// The organization's name, with its row locked: serialises the first-use creation of the
/// organization's CA and seal.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn lock_organization(
    client: &impl GenericClient,
    org: Uuid,
) -> Result<Option<String>, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            "SELECT name FROM organizations WHERE id = $1 FOR UPDATE",
            &[&org],
        )
        .await?
        .map(|row| row.get(0)))
}
