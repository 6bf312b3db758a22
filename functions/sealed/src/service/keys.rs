//! The key registry (seed 002's `cryptographic_keys`): the organization's own keys, made in
//! the HSM (sender keys sign, receiver keys unwrap; private halves never leave it), and other
//! parties' public keys (a receiver to seal to, a sender whose signatures to verify). Rotation
//! makes a new key and keeps the old one usable for what it already sealed or signed;
//! revocation stops a key for good.

use std::time::Duration;

use chrono::{DateTime, Utc};
use gsign_core::sealed::KeyStatus;
use gsign_core::FieldError;
use gsign_platform::database::{Session, Transaction};
use gsign_platform::hsm_keys::KeySpec;
use gsign_platform::http::Caller;
use gsign_platform::outbox;
use gsign_platform::pagination::{Page, PageRequest};
use gsign_platform::sealing;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::SealedApi;
use crate::error::{SealedCase, SealedError};
use crate::service::holders::Holder;
use crate::store;

/// How long a key's public part stays cached (seed 002: one hour).
const KEY_TTL: Duration = Duration::from_secs(3600);

pub use crate::store::keys::CryptoKey;

impl CryptoKey {
    /// Who holds the private half.
    pub fn holder(&self) -> Holder {
        Holder::parse(&self.key_storage_location)
    }

    /// Why it may not seal or sign anything new, if it may not.
    pub fn unusable_for_new(&self, now: DateTime<Utc>) -> Option<String> {
        match self.status {
            KeyStatus::Revoked => Some(format!("key {} is revoked", self.key_id)),
            KeyStatus::Rotated => Some(format!("key {} was rotated", self.key_id)),
            _ if self.expires_at.is_some_and(|t| t <= now) => {
                Some(format!("key {} expired", self.key_id))
            }
            _ => None,
        }
    }
}

/// `POST /v1/crypto-keys` (a party's public key) and `POST /v1/crypto-keys/generate` (an own
/// key in the HSM) body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyInput {
    /// The name envelopes carry: 1 to 255 letters, digits, `-`, `_`, `.` or `:`.
    #[schemars(pattern(crate::service::schemas::KEY_ID_PATTERN))]
    key_id: String,
    /// `sender` or `receiver`.
    #[schemars(with = "crate::service::schemas::KeyUsage")]
    key_usage: String,
    /// The party's RSA public key (2048 to 4096 bits), PEM: required to register, refused
    /// when generating.
    #[serde(default)]
    public_key_pem: Option<String>,
    /// `RSA-2048` or `RSA-3072` (default) when generating; refused when registering.
    #[serde(default)]
    #[schemars(with = "Option<crate::service::schemas::KeyAlgorithm>")]
    key_algorithm: Option<String>,
    /// Who holds the private half, 1 to 100 characters (default `gsign` when generating,
    /// `external` when registering).
    #[serde(default)]
    service_name: Option<String>,
    /// After this it seals and signs nothing new (in the future).
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
}

/// `POST /v1/crypto-keys/{id}/rotate` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateInput {
    /// The new key's id: 1 to 255 letters, digits, `-`, `_`, `.` or `:`.
    #[schemars(pattern(crate::service::schemas::KEY_ID_PATTERN))]
    key_id: String,
    /// The new public key, PEM: required for a party's key, refused for an own key (made in
    /// the key store).
    #[serde(default)]
    public_key_pem: Option<String>,
    /// After this the new key seals and signs nothing new.
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
}

/// `POST /v1/crypto-keys/{id}/revoke` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeInput {
    /// Why: 1 to 500 characters once trimmed.
    #[schemars(length(min = 1))]
    reason: String,
}

/// A key to add.
struct NewKey<'a> {
    key_id: &'a str,
    usage: &'a str,
    service_name: &'a str,
    source: Source,
    expires_at: Option<DateTime<Utc>>,
}

/// Where a new key comes from.
enum Source {
    /// A party's public key.
    External(Vec<u8>),
    /// Made in the HSM.
    Generate(KeySpec),
}

fn key_id_problem(key_id: &str, pointer: &str, errors: &mut Vec<FieldError>) {
    let ok = (1..=255).contains(&key_id.len())
        && key_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if !ok {
        errors.push(FieldError::new(
            pointer,
            "must be 1 to 255 letters, digits, -, _, . or :",
        ));
    }
}

fn usage(value: &str, errors: &mut Vec<FieldError>) -> &'static str {
    match value {
        "sender" => "sender",
        "receiver" => "receiver",
        _ => {
            errors.push(FieldError::new("/key_usage", "must be sender or receiver"));
            "sender"
        }
    }
}

fn parse_pem(pem: &str, pointer: &str, errors: &mut Vec<FieldError>) -> Option<Vec<u8>> {
    match sealing::spki_from_pem(pem) {
        Ok(der) => match sealing::rsa_bits(&der) {
            Some(bits) if (2048..=4096).contains(&bits) => Some(der),
            _ => {
                errors.push(FieldError::new(
                    pointer,
                    "must be an RSA key of 2048 to 4096 bits",
                ));
                None
            }
        },
        Err(problem) => {
            errors.push(FieldError::new(pointer, problem));
            None
        }
    }
}

fn spec(algorithm: Option<&str>, errors: &mut Vec<FieldError>) -> KeySpec {
    match algorithm.unwrap_or("RSA-3072") {
        "RSA-2048" => KeySpec::Rsa2048,
        "RSA-3072" => KeySpec::Rsa3072,
        _ => {
            errors.push(FieldError::new(
                "/key_algorithm",
                "must be RSA-2048 or RSA-3072",
            ));
            KeySpec::Rsa3072
        }
    }
}

/// The new key's source, usage and holder's name, from `input`; every field's error at once.
fn checked_key(
    input: &KeyInput,
    generate: bool,
) -> Result<(Source, &'static str, String), SealedError> {
    let mut errors = Vec::new();
    key_id_problem(&input.key_id, "/key_id", &mut errors);
    let usage = usage(&input.key_usage, &mut errors);
    let source = key_source(input, generate, &mut errors);
    if input.expires_at.is_some_and(|t| t <= Utc::now()) {
        errors.push(FieldError::new("/expires_at", "must be in the future"));
    }
    let service_name = input
        .service_name
        .as_deref()
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| {
            if generate {
                "gsign".to_owned()
            } else {
                "external".to_owned()
            }
        });
    if service_name.is_empty() || service_name.chars().count() > 100 {
        errors.push(FieldError::new(
            "/service_name",
            "must be 1 to 100 characters",
        ));
    }
    let Some(source) = source.filter(|_| errors.is_empty()) else {
        return Err(SealedError::Validation(errors));
    };
    Ok((source, usage, service_name))
}

/// Where a new key comes from: the HSM (`generate`) or the public key given.
fn key_source(input: &KeyInput, generate: bool, errors: &mut Vec<FieldError>) -> Option<Source> {
    if generate {
        if input.public_key_pem.is_some() {
            errors.push(FieldError::new(
                "/public_key_pem",
                "is made in the HSM; register a party's key at POST /v1/crypto-keys",
            ));
        }
        return Some(Source::Generate(spec(
            input.key_algorithm.as_deref(),
            errors,
        )));
    }
    if input.key_algorithm.is_some() {
        errors.push(FieldError::new(
            "/key_algorithm",
            "comes from the public key",
        ));
    }
    match input.public_key_pem.as_deref() {
        Some(pem) => parse_pem(pem, "/public_key_pem", errors).map(Source::External),
        None => {
            errors.push(FieldError::new("/public_key_pem", "is required"));
            None
        }
    }
}

/// Where the successor of `old` comes from: the HSM for an own key, else the public key given.
fn successor_source(
    old: &CryptoKey,
    input: &RotateInput,
    errors: &mut Vec<FieldError>,
) -> Option<Source> {
    match old.holder().is_own() {
        true => {
            if input.public_key_pem.is_some() {
                errors.push(FieldError::new(
                    "/public_key_pem",
                    "an own key's successor is made in the key store",
                ));
            }
            Some(Source::Generate(if old.key_algorithm == "RSA-2048" {
                KeySpec::Rsa2048
            } else {
                KeySpec::Rsa3072
            }))
        }
        false => match input.public_key_pem.as_deref() {
            Some(pem) => parse_pem(pem, "/public_key_pem", errors).map(Source::External),
            None => {
                errors.push(FieldError::new(
                    "/public_key_pem",
                    "is required for a party's key",
                ));
                None
            }
        },
    }
}

fn cache_key(org: Uuid, key_id: &str) -> String {
    format!("key:{org}:{key_id}")
}

/// `GET /v1/crypto-keys`' query: which page, and the filters, each optional.
#[derive(Debug, Clone)]
pub struct KeyQuery {
    /// `limit` and `cursor`.
    pub page: PageRequest,
    /// `key_id`: the key with this name.
    pub key_id: Option<String>,
    /// `usage`: only keys for this use.
    pub usage: Option<String>,
    /// `status`: only keys in this state.
    pub status: Option<String>,
}

impl SealedApi {
    /// The key `key_id` of `org` (cached for an hour; rotation and revocation clear it).
    #[tracing::instrument(skip_all, fields(org = %org))]
    pub(crate) async fn key_by_name(
        &self,
        org: Uuid,
        key_id: &str,
    ) -> Result<Option<CryptoKey>, SealedError> {
        let cached = cache_key(org, key_id);
        if let Some(key) = self.base.cache.get_json::<CryptoKey>(&cached).await {
            return Ok(Some(key));
        }
        let client = self.base.db.connect().await?;
        let key = store::keys::by_name(&client, org, key_id).await?;
        if let Some(key) = &key {
            if let Err(err) = self.base.cache.set_json(&cached, key, KEY_TTL).await {
                tracing::warn!(error = %err, "key cache unavailable");
            }
        }
        Ok(key)
    }

    /// The key `key_id` of `org` after every rotation: the key to seal to or sign with now.
    #[tracing::instrument(skip_all, fields(org = %org))]
    pub(crate) async fn current_key(
        &self,
        org: Uuid,
        key_id: &str,
    ) -> Result<Option<CryptoKey>, SealedError> {
        let mut key = match self.key_by_name(org, key_id).await? {
            Some(key) => key,
            None => return Ok(None),
        };
        // A chain of rotations is short; the bound only guards against a cycle.
        for _ in 0..32 {
            let Some(next) = key.replaced_by.filter(|_| key.status == KeyStatus::Rotated) else {
                break;
            };
            let client = self.base.db.connect().await?;
            let Some(next) = store::keys::by_id(&client, org, next, false).await? else {
                break;
            };
            key = next;
        }
        Ok(Some(key))
    }

    #[tracing::instrument(skip_all, fields(org = %org))]
    async fn forget(&self, org: Uuid, key_id: &str) {
        if let Err(err) = self.base.cache.delete(&cache_key(org, key_id)).await {
            tracing::warn!(error = %err, "key cache unavailable: the entry expires within the hour");
        }
    }

    /// Inserts a key from `source`.
    #[tracing::instrument(skip_all)]
    async fn insert_key(
        &self,
        caller: &Caller,
        tx: &Transaction<'_>,
        new: NewKey<'_>,
    ) -> Result<CryptoKey, SealedError> {
        let NewKey {
            key_id,
            usage,
            service_name,
            source,
            expires_at,
        } = new;
        // A taken id is refused before a key is made in the token for nothing.
        let taken = store::keys::key_id_taken(tx, caller.org, key_id).await?;
        if taken {
            return Err(SealedCase::KeyIdTaken.into());
        }
        let key_type = if usage == "sender" {
            "signing"
        } else {
            "encryption"
        };
        let (der, location) = match source {
            Source::External(der) => (der, Holder::External.location()),
            Source::Generate(spec) => {
                let (der, holder) = self.make_key(caller.org, key_id, usage, spec).await?;
                (der, holder.location())
            }
        };
        let bits = sealing::rsa_bits(&der).unwrap_or(0);
        let hash = hex::encode(Sha256::digest(&der));
        store::keys::insert(
            tx,
            &store::keys::NewKeyRow {
                org: caller.org,
                key_id,
                key_type,
                key_algorithm: &format!("RSA-{bits}"),
                usage,
                service_name,
                location: &location,
                der: &der,
                hash: &hash,
                expires_at,
            },
        )
        .await?
        .ok_or(SealedError::Area(SealedCase::KeyIdTaken))
    }

    /// `POST /v1/crypto-keys` and `POST /v1/crypto-keys/generate`.
    #[tracing::instrument(skip_all)]
    pub async fn create_key(
        &self,
        caller: &Caller,
        input: KeyInput,
        generate: bool,
    ) -> Result<CryptoKey, SealedError> {
        let (source, usage, service_name) = checked_key(&input, generate)?;
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let key = self
            .insert_key(
                caller,
                &tx,
                NewKey {
                    key_id: &input.key_id,
                    usage,
                    service_name: &service_name,
                    source,
                    expires_at: input.expires_at,
                },
            )
            .await?;
        let audit = outbox::audit(
            &tx,
            &caller.audit(
                if generate { "crypto_key.generated" } else { "crypto_key.registered" },
                "crypto_key",
                key.id,
                json!({"key_id": key.key_id, "key_usage": key.key_usage, "public_key_hash": key.public_key_hash}),
            ),
        )
        .await?;
        tx.commit().await?;
        drop(conn);
        self.base.relay.publish(&self.base.db, &[audit]).await;
        self.forget(caller.org, &key.key_id).await;
        Ok(key)
    }

    /// `GET /v1/crypto-keys`: newest first, a page at a time; `key_id`, `usage` and `status`
    /// filter.
    #[tracing::instrument(skip_all)]
    pub async fn list_keys(
        &self,
        caller: &Caller,
        query: &KeyQuery,
    ) -> Result<Page<CryptoKey>, SealedError> {
        let page = query.page;
        let filter = store::keys::ListFilter {
            key_id: query.key_id.as_deref(),
            usage: query.usage.as_deref(),
            status: query.status.as_deref(),
            after: page.after,
        };
        let client = self.base.db.connect().await?;
        let mut data = store::keys::list(&client, caller.org, &filter, page.fetch()).await?;
        let next_cursor = page.finish(&mut data, |k| (k.created_at, k.id));
        Ok(Page { data, next_cursor })
    }

    /// `GET /v1/crypto-keys/{id}`: one key of the registry, with its public key.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn get_key(&self, caller: &Caller, id: Uuid) -> Result<CryptoKey, SealedError> {
        let client = self.base.db.connect().await?;
        Self::key_row(&client, caller, id, false).await
    }

    #[tracing::instrument(skip_all, fields(id = %id))]
    async fn locked_key(
        tx: &Transaction<'_>,
        caller: &Caller,
        id: Uuid,
    ) -> Result<CryptoKey, SealedError> {
        Self::key_row(tx, caller, id, true).await
    }

    /// The caller's organization's key `id` (`lock`: locked for the transaction).
    async fn key_row(
        client: &(impl Session + ?Sized),
        caller: &Caller,
        id: Uuid,
        lock: bool,
    ) -> Result<CryptoKey, SealedError> {
        store::keys::by_id(client, caller.org, id, lock)
            .await?
            .ok_or(SealedError::NotFound("key"))
    }

    /// `POST /v1/crypto-keys/{id}/rotate`: a new key of the same usage (made in the HSM for
    /// an own key; the given public key for a party's); the old one is `rotated` and still
    /// opens and verifies what it sealed or signed.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn rotate_key(
        &self,
        caller: &Caller,
        id: Uuid,
        input: RotateInput,
    ) -> Result<CryptoKey, SealedError> {
        let mut errors = Vec::new();
        key_id_problem(&input.key_id, "/key_id", &mut errors);
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let old = Self::locked_key(&tx, caller, id).await?;
        if old.status != KeyStatus::Active {
            return Err(
                SealedCase::KeyUnusable(format!("key {} is {}", old.key_id, old.status)).into(),
            );
        }
        let source = successor_source(&old, &input, &mut errors);
        let Some(source) = source.filter(|_| errors.is_empty()) else {
            return Err(SealedError::Validation(errors));
        };
        let new = self
            .insert_key(
                caller,
                &tx,
                NewKey {
                    key_id: &input.key_id,
                    usage: &old.key_usage,
                    service_name: &old.service_name,
                    source,
                    expires_at: input.expires_at,
                },
            )
            .await?;
        store::keys::mark_rotated(&tx, old.id, new.id).await?;
        let audit = outbox::audit(
            &tx,
            &caller.audit(
                "crypto_key.rotated",
                "crypto_key",
                old.id,
                json!({"key_id": old.key_id, "replaced_by": new.key_id}),
            ),
        )
        .await?;
        tx.commit().await?;
        drop(conn);
        self.base.relay.publish(&self.base.db, &[audit]).await;
        self.forget(caller.org, &old.key_id).await;
        Ok(new)
    }

    /// `POST /v1/crypto-keys/{id}/revoke`: the key opens, verifies, seals and signs nothing
    /// any more.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn revoke_key(
        &self,
        caller: &Caller,
        id: Uuid,
        input: RevokeInput,
    ) -> Result<CryptoKey, SealedError> {
        let reason = input.reason.trim().to_owned();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(SealedError::invalid(
                "/reason",
                "must be 1 to 500 characters",
            ));
        }
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let key = Self::locked_key(&tx, caller, id).await?;
        let revoked = store::keys::revoke(&tx, key.id, &reason).await?;
        let audit = outbox::audit(
            &tx,
            &caller.audit(
                "crypto_key.revoked",
                "crypto_key",
                key.id,
                json!({"key_id": key.key_id, "reason": reason}),
            ),
        )
        .await?;
        tx.commit().await?;
        drop(conn);
        self.base.relay.publish(&self.base.db, &[audit]).await;
        self.forget(caller.org, &key.key_id).await;
        self.disable_in_store(key.holder(), &key.key_id).await;
        Ok(revoked)
    }
}
