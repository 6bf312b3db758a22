//! The `certificates` table (and the organization row lock that serialises first-use CA
//! creation), on the database port: either backend, named parameters, the `bytea[]` chain
//! passed as a JSON list of base64 strings.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use gsign_core::certificates::{CertificatePurpose, CertificateStatus, CertificateType, KeyFamily};
use gsign_platform::database::{DbError, Row, Session, Value};
use gsign_platform::params;
use gsign_signing::algorithm::Scheme;
use uuid::Uuid;

type DbResult<T> = Result<T, DbError>;

/// A chain as the JSON list a statement turns back into `bytea[]` ([`CHAIN_OF_JSON`]).
fn chain_json(chain: &[Vec<u8>]) -> Value {
    Value::Json(serde_json::Value::Array(
        chain
            .iter()
            .map(|der| {
                serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(der))
            })
            .collect(),
    ))
}

/// `:chain` (a JSON list of base64 strings) as `bytea[]`.
const CHAIN_OF_JSON: &str =
    "ARRAY(SELECT decode(jsonb_array_elements_text(:chain::jsonb), 'base64'))::bytea[]";

/// A stored certificate (private keys are in the HSM, never here).
#[derive(Debug, Clone)]
pub struct Certificate {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub user_id: Option<Uuid>,
    pub purpose: CertificatePurpose,
    pub label: String,
    pub cert_type: CertificateType,
    pub status: CertificateStatus,
    pub is_default: bool,
    pub serial_number: Option<String>,
    pub subject_dn: String,
    pub subject_cn: Option<String>,
    pub issuer_cn: Option<String>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_to: Option<DateTime<Utc>>,
    pub key_type: KeyFamily,
    pub key_size: i32,
    pub signature_scheme: Scheme,
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

impl TryFrom<&Row> for Certificate {
    type Error = DbError;

    fn try_from(row: &Row) -> DbResult<Self> {
        Ok(Self {
            id: row.get("id")?,
            organization_id: row.get("organization_id")?,
            user_id: row.get("user_id")?,
            purpose: row.stored("purpose")?,
            label: row.get("label")?,
            cert_type: row.stored("type")?,
            status: row.stored("status")?,
            is_default: row.get("is_default")?,
            serial_number: row.get("serial_number")?,
            subject_dn: row.get("subject_dn")?,
            subject_cn: row.get("subject_cn")?,
            issuer_cn: row.get("issuer_cn")?,
            valid_from: row.get("valid_from")?,
            valid_to: row.get("valid_to")?,
            key_type: row.stored("key_type")?,
            key_size: row.get("key_size")?,
            signature_scheme: row.stored("signature_scheme")?,
            usage_count: row.get("usage_count")?,
            last_used_at: row.get("last_used_at")?,
            hsm_key_id: row.get("hsm_key_id")?,
            public_key: row.get("public_key")?,
            certificate: row.get("certificate")?,
            chain: row.get("chain")?,
            csr_pem: row.get("csr_pem")?,
            revoked_at: row.get("revoked_at")?,
            revocation_reason: row.get("revocation_reason")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
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
    pub purpose: CertificatePurpose,
    pub label: String,
    pub cert_type: CertificateType,
    pub subject_dn: String,
    pub key_type: KeyFamily,
    pub key_size: i32,
    pub signature_scheme: Scheme,
    pub hsm_key_id: String,
    pub public_key: Vec<u8>,
    /// `None`: a pending CSR.
    pub issued: Option<Issued>,
    pub csr_pem: Option<String>,
}

/// Inserts `new`.
#[tracing::instrument(skip_all)]
pub async fn insert(db: &(impl Session + ?Sized), new: &NewRow) -> DbResult<Certificate> {
    let issued = new.issued.as_ref();
    let row = db
        .fetch_one(
            &format!(
                "INSERT INTO certificates (id, organization_id, user_id, purpose, label, type, \
                 status, subject_dn, key_type, key_size, signature_scheme, hsm_key_id, \
                 public_key, certificate, chain, serial_number, subject_cn, issuer_cn, \
                 valid_from, valid_to, csr_pem) \
                 VALUES (:id, :org, :user_id, :purpose, :label, :cert_type, :status, \
                 :subject_dn, :key_type, :key_size, :signature_scheme, :hsm_key_id, \
                 :public_key, :certificate, {CHAIN_OF_JSON}, :serial_number, :subject_cn, \
                 :issuer_cn, :valid_from, :valid_to, :csr_pem) \
                 RETURNING {COLUMNS}"
            ),
            params!(
                id = new.id,
                org = new.organization_id,
                user_id = new.user_id,
                purpose = new.purpose.as_str(),
                label = new.label,
                cert_type = new.cert_type.as_str(),
                status = if issued.is_some() {
                    "active"
                } else {
                    "pending"
                },
                subject_dn = new.subject_dn,
                key_type = new.key_type.as_str(),
                key_size = new.key_size,
                signature_scheme = new.signature_scheme.as_str(),
                hsm_key_id = new.hsm_key_id,
                public_key = new.public_key,
                certificate = issued.map(|i| i.der.clone()),
                chain = chain_json(issued.map_or(&[][..], |i| i.chain.as_slice())),
                serial_number = issued.map(|i| i.serial_number.clone()),
                subject_cn = issued.and_then(|i| i.subject_cn.clone()),
                issuer_cn = issued.and_then(|i| i.issuer_cn.clone()),
                valid_from = issued.map(|i| i.valid_from),
                valid_to = issued.map(|i| i.valid_to),
                csr_pem = new.csr_pem,
            ),
        )
        .await?;
    Certificate::try_from(&row)
}

/// The certificate `id` of organization `org`; `lock` takes the row lock for a change.
#[tracing::instrument(skip_all, fields(org = %org, id = %id))]
pub async fn get(
    db: &(impl Session + ?Sized),
    org: Uuid,
    id: Uuid,
    lock: bool,
) -> DbResult<Option<Certificate>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM certificates WHERE organization_id = :org AND id = :id{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    db.fetch_optional(&sql, params!(org, id))
        .await?
        .as_ref()
        .map(Certificate::try_from)
        .transpose()
}

/// The organization's active authority certificate of `purpose` (`ca` or `seal`).
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn authority(
    db: &(impl Session + ?Sized),
    org: Uuid,
    purpose: CertificatePurpose,
) -> DbResult<Option<Certificate>> {
    db.fetch_optional(
        &format!(
            "SELECT {COLUMNS} FROM certificates \
             WHERE organization_id = :org AND purpose = :purpose AND status = 'active'"
        ),
        params!(org, purpose = purpose.as_str()),
    )
    .await?
    .as_ref()
    .map(Certificate::try_from)
    .transpose()
}

/// Filters of the list route.
#[derive(Debug, Default)]
pub struct ListFilter {
    pub purpose: Option<CertificatePurpose>,
    pub status: Option<CertificateStatus>,
    pub user_id: Option<Uuid>,
    pub after: Option<(DateTime<Utc>, Uuid)>,
}

/// One page of the organization's certificates, newest first.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn list(
    db: &(impl Session + ?Sized),
    org: Uuid,
    filter: &ListFilter,
    limit: i64,
) -> DbResult<Vec<Certificate>> {
    let (after_t, after_id) = filter.after.unzip();
    let rows = db
        .fetch_all(
            &format!(
                "SELECT {COLUMNS} FROM certificates WHERE organization_id = :org \
                 AND (:purpose::text IS NULL OR purpose = :purpose::text) \
                 AND (:status::text IS NULL OR status = :status::text) \
                 AND (:user_id::uuid IS NULL OR user_id = :user_id::uuid) \
                 AND (:after_t::timestamptz IS NULL \
                      OR (created_at, id) < (:after_t::timestamptz, :after_id::uuid)) \
                 ORDER BY created_at DESC, id DESC LIMIT :limit"
            ),
            params!(
                org,
                purpose = filter.purpose.map(CertificatePurpose::as_str),
                status = filter.status.map(|s| s.to_string()),
                user_id = filter.user_id,
                after_t,
                after_id,
                limit,
            ),
        )
        .await?;
    rows.iter().map(Certificate::try_from).collect()
}

/// Makes `id` the default of `user` (and no other).
#[tracing::instrument(skip_all, fields(user = %user, id = %id))]
pub async fn set_default(db: &(impl Session + ?Sized), user: Uuid, id: Uuid) -> DbResult<()> {
    db.run(
        "UPDATE certificates SET is_default = false \
         WHERE user_id = :user AND is_default AND id <> :id",
        params!(user, id),
    )
    .await?;
    db.run(
        "UPDATE certificates SET is_default = true WHERE id = :id",
        params!(id),
    )
    .await?;
    Ok(())
}

/// Whether `user` has an active default certificate.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn has_default(db: &(impl Session + ?Sized), user: Uuid) -> DbResult<bool> {
    Ok(db
        .fetch_optional(
            "SELECT id FROM certificates WHERE user_id = :user AND is_default",
            params!(user),
        )
        .await?
        .is_some())
}

/// Records the imported certificate of a pending CSR.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn activate(
    db: &(impl Session + ?Sized),
    id: Uuid,
    cert_type: CertificateType,
    issued: &Issued,
) -> DbResult<Certificate> {
    let row = db
        .fetch_one(
            &format!(
                "UPDATE certificates SET status = 'active', type = :cert_type, \
                 certificate = :certificate, chain = {CHAIN_OF_JSON}, \
                 serial_number = :serial_number, subject_cn = :subject_cn, \
                 issuer_cn = :issuer_cn, valid_from = :valid_from, valid_to = :valid_to \
                 WHERE id = :id RETURNING {COLUMNS}"
            ),
            params!(
                id,
                cert_type = cert_type.as_str(),
                certificate = issued.der,
                chain = chain_json(&issued.chain),
                serial_number = issued.serial_number,
                subject_cn = issued.subject_cn,
                issuer_cn = issued.issuer_cn,
                valid_from = issued.valid_from,
                valid_to = issued.valid_to,
            ),
        )
        .await?;
    Certificate::try_from(&row)
}

/// Revokes `id`: never used again, no longer anyone's default.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn revoke(db: &(impl Session + ?Sized), id: Uuid, reason: &str) -> DbResult<Certificate> {
    let row = db
        .fetch_one(
            &format!(
                "UPDATE certificates SET status = 'revoked', revoked_at = now(), \
                 revocation_reason = :reason, is_default = false \
                 WHERE id = :id RETURNING {COLUMNS}"
            ),
            params!(id, reason),
        )
        .await?;
    Certificate::try_from(&row)
}

/// Counts one signature made with `id` (the signing worker calls this).
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn record_use(db: &(impl Session + ?Sized), id: Uuid) -> DbResult<()> {
    db.run(
        "UPDATE certificates SET usage_count = usage_count + 1, last_used_at = now() \
         WHERE id = :id",
        params!(id),
    )
    .await?;
    Ok(())
}

/// The organization's name, with its row locked: serialises the first-use creation of the
/// organization's CA and seal.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn lock_organization(
    db: &(impl Session + ?Sized),
    org: Uuid,
) -> DbResult<Option<String>> {
    db.fetch_optional(
        "SELECT name FROM organizations WHERE id = :org FOR UPDATE",
        params!(org),
    )
    .await?
    .map(|row| row.get("name"))
    .transpose()
}

/// CAs whose CRL is due: none issued yet, older than `refresh`, not published, or
/// issued before a revocation under the CA.
#[tracing::instrument(skip_all)]
pub async fn crls_due(
    db: &(impl Session + ?Sized),
    refresh: chrono::Duration,
    batch: i64,
) -> DbResult<Vec<Certificate>> {
    let rows = db
        .fetch_all(
            &format!(
                "SELECT {} FROM certificates WHERE id IN ( \
                     SELECT ca.id FROM certificates ca \
                     LEFT JOIN revocation_lists l ON l.authority_id = ca.id \
                     WHERE ca.purpose = 'ca' AND ca.status = 'active' AND ( \
                         l.der IS NULL OR l.published_at IS NULL \
                         OR l.this_update < now() - make_interval(secs => :refresh_seconds) \
                         OR EXISTS (SELECT 1 FROM certificates c \
                             WHERE c.organization_id = ca.organization_id \
                               AND c.status = 'revoked' AND c.chain[1] = ca.certificate \
                               AND c.revoked_at >= l.this_update)) \
                     ORDER BY l.this_update NULLS FIRST LIMIT :batch)",
                COLUMNS
            ),
            params!(refresh_seconds = refresh.num_seconds() as f64, batch),
        )
        .await?;
    rows.iter().map(Certificate::try_from).collect()
}

/// A revoked certificate as its CA's CRL lists it.
pub struct RevokedEntry {
    /// The serial number, in hex.
    pub serial: String,
    /// When it was revoked.
    pub at: DateTime<Utc>,
    /// Why (a CRL reason's name), if said.
    pub reason: Option<String>,
}

/// Every unexpired revoked certificate the CA with certificate `ca_der` issued in `org`.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn revoked_under(
    db: &(impl Session + ?Sized),
    org: Uuid,
    ca_der: &[u8],
) -> DbResult<Vec<RevokedEntry>> {
    db.fetch_all(
        "SELECT serial_number, revoked_at, revocation_reason FROM certificates \
         WHERE organization_id = :org AND status = 'revoked' AND chain[1] = :ca_der \
           AND valid_to > now() ORDER BY revoked_at, id",
        params!(org, ca_der = ca_der.to_vec()),
    )
    .await?
    .iter()
    .map(|row| {
        Ok(RevokedEntry {
            serial: row.get("serial_number")?,
            at: row.get("revoked_at")?,
            reason: row.get("revocation_reason")?,
        })
    })
    .collect()
}

/// The next CRL number (a sequence: no two CRLs share one, whatever the transactions do).
pub async fn next_crl_number(db: &(impl Session + ?Sized)) -> DbResult<i64> {
    db.fetch_one("SELECT nextval('crl_numbers') AS number", params!())
        .await?
        .get("number")
}

/// A CRL to record as its CA's current one.
pub struct NewCrl<'a> {
    /// The CA's certificate row.
    pub authority: Uuid,
    /// Its organization.
    pub organization: Uuid,
    /// The CRL's number.
    pub number: i64,
    /// `thisUpdate`.
    pub this_update: DateTime<Utc>,
    /// `nextUpdate`.
    pub next_update: DateTime<Utc>,
    /// The CRL.
    pub der: &'a [u8],
}

/// Records `crl` as its CA's current CRL, unpublished, unless a newer one is recorded.
#[tracing::instrument(skip_all, fields(authority = %crl.authority))]
pub async fn record_crl(db: &(impl Session + ?Sized), crl: &NewCrl<'_>) -> DbResult<()> {
    db.run(
        "INSERT INTO revocation_lists (authority_id, organization_id, crl_number, \
             this_update, next_update, der) \
         VALUES (:ca, :org, :number, :this_update, :next_update, :der) \
         ON CONFLICT (authority_id) DO UPDATE SET crl_number = EXCLUDED.crl_number, \
             this_update = EXCLUDED.this_update, next_update = EXCLUDED.next_update, \
             der = EXCLUDED.der, published_at = NULL \
         WHERE revocation_lists.crl_number < EXCLUDED.crl_number",
        params!(
            ca = crl.authority,
            org = crl.organization,
            number = crl.number,
            this_update = crl.this_update,
            next_update = crl.next_update,
            der = crl.der.to_vec()
        ),
    )
    .await?;
    Ok(())
}

/// Marks the CA's recorded CRL `der` published.
#[tracing::instrument(skip_all, fields(authority = %authority))]
pub async fn crl_published(
    db: &(impl Session + ?Sized),
    authority: Uuid,
    der: &[u8],
) -> DbResult<()> {
    db.run(
        "UPDATE revocation_lists SET published_at = now() \
         WHERE authority_id = :ca AND der = :der",
        params!(ca = authority, der = der.to_vec()),
    )
    .await?;
    Ok(())
}
