//! The `cryptographic_keys` table.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use gsign_core::sealed::KeyStatus;
use gsign_platform::database::{DbError, Row, Session};
use gsign_platform::params;
use gsign_platform::sealing;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A key as the registry holds it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CryptoKey {
    /// Row id (the routes' `{id}`).
    pub id: Uuid,
    /// The name envelopes carry.
    pub key_id: String,
    /// `encryption` or `signing`.
    pub key_type: String,
    /// `RSA-2048`, `RSA-3072`, `RSA-4096`.
    pub key_algorithm: String,
    /// `sender` or `receiver`.
    pub key_usage: String,
    /// Who holds the private half: `gsign`, or the party's name.
    pub service_name: String,
    /// `hsm:<CKA_ID hex>`, `kms:<key ARN>` or `external`.
    pub key_storage_location: String,
    /// The public key, PEM.
    pub public_key_pem: String,
    /// SHA-256 of the DER public key, hex.
    pub public_key_hash: String,
    /// Where it stands.
    pub status: KeyStatus,
    /// The key that replaced it.
    pub replaced_by: Option<Uuid>,
    /// Why it was revoked.
    pub revoked_reason: Option<String>,
    /// When it was rotated.
    pub rotated_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// After this it seals and signs nothing new.
    pub expires_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// The DER public key, base64 (the same key as the PEM; the cached copy needs it).
    pub public_key_der: String,
}

impl CryptoKey {
    fn from_row(row: &Row) -> Result<Self, DbError> {
        let der: Vec<u8> = row.get("public_key_der")?;
        Ok(Self {
            id: row.get("id")?,
            key_id: row.get("key_id")?,
            key_type: row.get("key_type")?,
            key_algorithm: row.get("key_algorithm")?,
            key_usage: row.get("key_usage")?,
            service_name: row.get("service_name")?,
            key_storage_location: row.get("key_storage_location")?,
            public_key_pem: sealing::spki_to_pem(&der).unwrap_or_default(),
            public_key_hash: row.get("public_key_hash")?,
            status: row.stored("status")?,
            replaced_by: row.get("replaced_by")?,
            revoked_reason: row.get("revoked_reason")?,
            rotated_at: row.get("rotated_at")?,
            revoked_at: row.get("revoked_at")?,
            expires_at: row.get("expires_at")?,
            created_at: row.get("created_at")?,
            public_key_der: BASE64.encode(&der),
        })
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki(&self) -> Vec<u8> {
        BASE64.decode(&self.public_key_der).unwrap_or_default()
    }
}

const COLUMNS: &str = "id, key_id, key_type, key_algorithm, key_usage, service_name, \
    key_storage_location, public_key_der, public_key_hash, status, replaced_by, revoked_reason, \
    rotated_at, revoked_at, expires_at, created_at";

/// The name of the organization's newest usable own sender key.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn newest_sender_key_id(
    client: &(impl Session + ?Sized),
    org: Uuid,
) -> Result<Option<String>, DbError> {
    client
        .fetch_optional(
            "SELECT key_id FROM cryptographic_keys WHERE organization_id = :org AND key_usage = 'sender' \
             AND status = 'active' AND key_storage_location <> 'external' \
             AND (expires_at IS NULL OR expires_at > now()) ORDER BY created_at DESC LIMIT 1",
            params!(org),
        )
        .await?
        .map(|row| row.get("key_id"))
        .transpose()
}

/// The organization's key named `key_id`.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn by_name(
    client: &(impl Session + ?Sized),
    org: Uuid,
    key_id: &str,
) -> Result<Option<CryptoKey>, DbError> {
    client
        .fetch_optional(
            &format!("SELECT {COLUMNS} FROM cryptographic_keys WHERE organization_id = :org AND key_id = :key_id"),
            params!(org, key_id),
        )
        .await?
        .as_ref()
        .map(CryptoKey::from_row)
        .transpose()
}

/// The organization's key `id` (`lock`: locked for the transaction).
#[tracing::instrument(skip_all, fields(org = %org, id = %id))]
pub async fn by_id(
    client: &(impl Session + ?Sized),
    org: Uuid,
    id: Uuid,
    lock: bool,
) -> Result<Option<CryptoKey>, DbError> {
    let lock = if lock { "FOR UPDATE" } else { "" };
    client
        .fetch_optional(
            &format!(
                "SELECT {COLUMNS} FROM cryptographic_keys \
                 WHERE organization_id = :org AND id = :id {lock}"
            ),
            params!(org, id),
        )
        .await?
        .as_ref()
        .map(CryptoKey::from_row)
        .transpose()
}

/// Whether the organization has a key named `key_id`.
pub async fn key_id_taken(
    client: &(impl Session + ?Sized),
    org: Uuid,
    key_id: &str,
) -> Result<bool, DbError> {
    Ok(client
        .fetch_optional(
            "SELECT 1 FROM cryptographic_keys WHERE organization_id = :org AND key_id = :key_id",
            params!(org, key_id),
        )
        .await?
        .is_some())
}

/// A key to add to the registry.
pub struct NewKeyRow<'a> {
    /// The organization.
    pub org: Uuid,
    /// Its name.
    pub key_id: &'a str,
    /// `signing` or `encryption`.
    pub key_type: &'a str,
    /// `RSA-<bits>`.
    pub key_algorithm: &'a str,
    /// `sender` or `receiver`.
    pub usage: &'a str,
    /// Who holds the private half.
    pub service_name: &'a str,
    /// Where the private half is.
    pub location: &'a str,
    /// The DER public key.
    pub der: &'a [u8],
    /// Its SHA-256, hex.
    pub hash: &'a str,
    /// When it stops sealing and signing.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Adds `new`; `None` when its name is taken.
#[tracing::instrument(skip_all, fields(org = %new.org))]
pub async fn insert(
    client: &(impl Session + ?Sized),
    new: &NewKeyRow<'_>,
) -> Result<Option<CryptoKey>, DbError> {
    client
        .fetch_optional(
            &format!(
                "INSERT INTO cryptographic_keys (organization_id, key_id, key_type, key_algorithm, \
                 key_usage, service_name, key_storage_location, public_key_der, public_key_hash, expires_at) \
                 VALUES (:org, :key_id, :key_type, :key_algorithm, :usage, :service_name, :location, :der, :hash, :expires_at) \
                 ON CONFLICT (organization_id, key_id) DO NOTHING RETURNING {COLUMNS}"
            ),
            params!(
                org = new.org,
                key_id = new.key_id,
                key_type = new.key_type,
                key_algorithm = new.key_algorithm,
                usage = new.usage,
                service_name = new.service_name,
                location = new.location,
                der = new.der.to_vec(),
                hash = new.hash,
                expires_at = new.expires_at,
            ),
        )
        .await?
        .as_ref()
        .map(CryptoKey::from_row)
        .transpose()
}

/// Filters of the key list.
#[derive(Debug, Default)]
pub struct ListFilter<'a> {
    /// Only the key with this name.
    pub key_id: Option<&'a str>,
    /// Only keys of this usage.
    pub usage: Option<&'a str>,
    /// Only keys in this state.
    pub status: Option<&'a str>,
    /// Strictly after this `(created_at, id)`, newest first.
    pub after: Option<(DateTime<Utc>, Uuid)>,
}

/// The organization's keys matching `filter`, newest first, at most `limit`.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn list(
    client: &(impl Session + ?Sized),
    org: Uuid,
    filter: &ListFilter<'_>,
    limit: i64,
) -> Result<Vec<CryptoKey>, DbError> {
    let (after_t, after_id) = filter.after.unzip();
    client
        .fetch_all(
            &format!(
                "SELECT {COLUMNS} FROM cryptographic_keys WHERE organization_id = :org \
                 AND (:key_id::text IS NULL OR key_id = :key_id) AND (:usage::text IS NULL OR key_usage = :usage) \
                 AND (:status::text IS NULL OR status = :status) \
                 AND (:after_t::timestamptz IS NULL \
                      OR (created_at, id) < (:after_t::timestamptz, :after_id::uuid)) \
                 ORDER BY created_at DESC, id DESC LIMIT :limit"
            ),
            params!(
                org,
                key_id = filter.key_id,
                usage = filter.usage,
                status = filter.status,
                after_t,
                after_id,
                limit,
            ),
        )
        .await?
        .iter()
        .map(CryptoKey::from_row)
        .collect()
}

/// Key `old` is `rotated`, replaced by `new`.
#[tracing::instrument(skip_all, fields(old = %old))]
pub async fn mark_rotated(
    client: &(impl Session + ?Sized),
    old: Uuid,
    new: Uuid,
) -> Result<(), DbError> {
    client
        .run(
            "UPDATE cryptographic_keys SET status = 'rotated', rotated_at = now(), replaced_by = :new WHERE id = :old",
            params!(old, new),
        )
        .await?;
    Ok(())
}

/// Revokes key `id` (the first revocation's time and reason stay); the key.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn revoke(
    client: &(impl Session + ?Sized),
    id: Uuid,
    reason: &str,
) -> Result<CryptoKey, DbError> {
    let row = client
        .fetch_one(
            &format!(
                "UPDATE cryptographic_keys SET status = 'revoked', revoked_at = COALESCE(revoked_at, now()), \
                 revoked_reason = COALESCE(revoked_reason, :reason) WHERE id = :id RETURNING {COLUMNS}"
            ),
            params!(id, reason),
        )
        .await?;
    CryptoKey::from_row(&row)
}
