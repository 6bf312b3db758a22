//! Prompts (seed 002): the texts to seal. Create, list, get (cached five minutes), update with
//! optimistic locking on `version`, soft delete; and `seal`, which makes a sealed envelope of
//! one for a receiver's key.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, SubsecRound, Utc};
use gsign_core::sealed::{self, Wire};
use gsign_core::FieldError;
use gsign_platform::http::Caller;
use gsign_platform::outbox;
use gsign_platform::pagination::{Page, PageRequest};
use gsign_platform::sealing;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::SealedApi;
use crate::error::{SealedCase, SealedError};
use crate::service::envelopes::SealedEnvelope;
use crate::service::keys::CryptoKey;
use crate::store;

/// How long a prompt stays cached (seed 002: five minutes).
const PROMPT_TTL: Duration = Duration::from_secs(300);

pub use crate::store::prompts::Prompt;

/// `POST /v1/prompts` and `PATCH /v1/prompts/{id}` body (`version` is required to update).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptInput {
    /// The text, 1 byte to 4 MiB (required to create).
    #[serde(default)]
    #[schemars(length(min = 1))]
    prompt_text: Option<String>,
    /// Free metadata: a JSON object.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    prompt_metadata: Option<Value>,
    /// `active` or `archived`.
    #[serde(default)]
    #[schemars(with = "Option<crate::service::schemas::PromptStatus>")]
    status: Option<String>,
    /// The version read (required to update; refused when creating).
    #[serde(default)]
    version: Option<i32>,
}

/// `POST /v1/prompts/{id}/seal` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SealInput {
    /// The receiver's key id (a rotated key seals to its successor).
    receiver_key_id: String,
    /// The organization's sender key (default: its newest active one).
    #[serde(default)]
    sender_key_id: Option<String>,
    /// When it may no longer be opened (in the future; cut to whole seconds); never if absent.
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    /// Text metadata, signed with the rest: at most 50 entries, keys 1 to 100 bytes, values
    /// up to 1000 bytes.
    #[serde(default)]
    #[schemars(extend("maxProperties" = 50))]
    metadata: BTreeMap<String, String>,
}

/// Refuses a past expiry and metadata beyond its bounds; every field's error at once.
fn check_seal_input(input: &SealInput, now: DateTime<Utc>) -> Result<(), SealedError> {
    let mut errors = Vec::new();
    if input.expires_at.is_some_and(|t| t <= now) {
        errors.push(FieldError::new("/expires_at", "must be in the future"));
    }
    if input.metadata.len() > 50
        || input
            .metadata
            .iter()
            .any(|(k, v)| k.is_empty() || k.len() > 100 || v.len() > 1000)
    {
        errors.push(FieldError::new(
            "/metadata",
            "at most 50 entries, keys 1 to 100 and values up to 1000 bytes",
        ));
    }
    if !errors.is_empty() {
        return Err(SealedError::Validation(errors));
    }
    Ok(())
}

fn actor(caller: &Caller) -> String {
    caller
        .user
        .map(|u| format!("user:{u}"))
        .or(caller.api_key.map(|k| format!("api_key:{k}")))
        .unwrap_or_else(|| "system".to_owned())
}

fn prompt_key(org: Uuid, id: Uuid) -> String {
    format!("prompt:{org}:{id}")
}

fn text_problems(input: &PromptInput, creating: bool, errors: &mut Vec<FieldError>) {
    match &input.prompt_text {
        Some(text) if text.is_empty() || text.len() > sealed::MAX_PAYLOAD_BYTES => {
            errors.push(FieldError::new(
                "/prompt_text",
                format!("must be 1 to {} bytes", sealed::MAX_PAYLOAD_BYTES),
            ))
        }
        None if creating => errors.push(FieldError::new("/prompt_text", "is required")),
        _ => {}
    }
    if input
        .prompt_metadata
        .as_ref()
        .is_some_and(|m| !m.is_object())
    {
        errors.push(FieldError::new("/prompt_metadata", "must be an object"));
    }
    if input
        .status
        .as_deref()
        .is_some_and(|s| !matches!(s, "active" | "archived"))
    {
        errors.push(FieldError::new(
            "/status",
            "must be active or archived (DELETE deletes)",
        ));
    }
}

/// `GET /v1/prompts`' query: which page, and which prompts.
#[derive(Debug, Clone)]
pub struct PromptQuery {
    /// `limit` and `cursor`.
    pub page: PageRequest,
    /// `status`: only prompts in this state.
    pub status: Option<String>,
    /// `q`: only prompts whose text holds these words.
    pub words: Option<String>,
}

impl SealedApi {
    /// `POST /v1/prompts`.
    #[tracing::instrument(skip_all)]
    pub async fn create_prompt(
        &self,
        caller: &Caller,
        input: PromptInput,
    ) -> Result<Prompt, SealedError> {
        let mut errors = Vec::new();
        text_problems(&input, true, &mut errors);
        if input.version.is_some() {
            errors.push(FieldError::new("/version", "is set by the service"));
        }
        if !errors.is_empty() {
            return Err(SealedError::Validation(errors));
        }
        let text = input.prompt_text.unwrap_or_default();
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let prompt = store::prompts::insert(
            &tx,
            &store::prompts::NewPrompt {
                org: caller.org,
                text: &text,
                metadata: input.prompt_metadata.as_ref(),
                hash: &hex::encode(Sha256::digest(text.as_bytes())),
                status: input.status.as_deref(),
                actor: &actor(caller),
            },
        )
        .await?;
        let audit = outbox::audit(
            &tx,
            &caller.audit("prompt.created", "prompt", prompt.id, json!({})),
        )
        .await?;
        tx.commit().await?;
        drop(conn);
        self.base.relay.publish(&self.base.db, &[audit]).await;
        Ok(prompt)
    }

    /// The live prompt `id` of the caller's organization (cached five minutes).
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn prompt(&self, caller: &Caller, id: Uuid) -> Result<Prompt, SealedError> {
        let key = prompt_key(caller.org, id);
        if let Some(prompt) = self.base.cache.get_json::<Prompt>(&key).await {
            return Ok(prompt);
        }
        let client = self.base.db.connect().await?;
        let prompt = store::prompts::get(&client, caller.org, id)
            .await?
            .ok_or(SealedError::NotFound("prompt"))?;
        if let Err(err) = self.base.cache.set_json(&key, &prompt, PROMPT_TTL).await {
            tracing::warn!(error = %err, "prompt cache unavailable");
        }
        Ok(prompt)
    }

    /// `GET /v1/prompts`: newest first; `status` and `q` (words of the text) filter.
    #[tracing::instrument(skip_all)]
    pub async fn list_prompts(
        &self,
        caller: &Caller,
        query: PromptQuery,
    ) -> Result<Page<Prompt>, SealedError> {
        let page = query.page;
        let client = self.base.db.connect().await?;
        let mut rows = store::prompts::list(
            &client,
            caller.org,
            query.status.as_deref(),
            query.words.as_deref(),
            page.after,
            page.fetch(),
        )
        .await?;
        let next_cursor = page.finish(&mut rows, |p| (p.created_at, p.id));
        Ok(Page {
            data: rows,
            next_cursor,
        })
    }

    /// `PATCH /v1/prompts/{id}`: only if `version` is still the prompt's (409 otherwise).
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn update_prompt(
        &self,
        caller: &Caller,
        id: Uuid,
        input: PromptInput,
    ) -> Result<Prompt, SealedError> {
        let mut errors = Vec::new();
        text_problems(&input, false, &mut errors);
        let Some(version) = input.version else {
            errors.push(FieldError::new(
                "/version",
                "is required: the version you read",
            ));
            return Err(SealedError::Validation(errors));
        };
        if !errors.is_empty() {
            return Err(SealedError::Validation(errors));
        }
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let hash = input
            .prompt_text
            .as_ref()
            .map(|t| hex::encode(Sha256::digest(t.as_bytes())));
        let change = store::prompts::PromptChange {
            org: caller.org,
            id,
            version,
            text: input.prompt_text.as_deref(),
            metadata: input.prompt_metadata.as_ref(),
            status: input.status.as_deref(),
            hash: hash.as_deref(),
            actor: &actor(caller),
        };
        let Some(prompt) = store::prompts::update(&tx, &change).await? else {
            let current = store::prompts::version(&tx, caller.org, id)
                .await?
                .ok_or(SealedError::NotFound("prompt"))?;
            return Err(SealedCase::VersionConflict(current).into());
        };
        let audit = outbox::audit(
            &tx,
            &caller.audit(
                "prompt.updated",
                "prompt",
                id,
                json!({"version": prompt.version}),
            ),
        )
        .await?;
        tx.commit().await?;
        drop(conn);
        self.base.relay.publish(&self.base.db, &[audit]).await;
        let _ = self.base.cache.delete(&prompt_key(caller.org, id)).await;
        Ok(prompt)
    }

    /// `DELETE /v1/prompts/{id}`: soft; kept for retention (7 years), gone from the API.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn delete_prompt(&self, caller: &Caller, id: Uuid) -> Result<(), SealedError> {
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let deleted = store::prompts::soft_delete(&tx, caller.org, id, &actor(caller)).await?;
        if deleted == 0 {
            return Err(SealedError::NotFound("prompt"));
        }
        let audit = outbox::audit(
            &tx,
            &caller.audit("prompt.deleted", "prompt", id, json!({})),
        )
        .await?;
        tx.commit().await?;
        drop(conn);
        self.base.relay.publish(&self.base.db, &[audit]).await;
        let _ = self.base.cache.delete(&prompt_key(caller.org, id)).await;
        Ok(())
    }

    /// `POST /v1/prompts/{id}/seal`: the prompt's text sealed to the receiver's key and signed
    /// in the HSM with the organization's sender key.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn seal(
        &self,
        caller: &Caller,
        id: Uuid,
        input: SealInput,
    ) -> Result<SealedEnvelope, SealedError> {
        let now = Utc::now();
        check_seal_input(&input, now)?;
        let prompt = self.prompt(caller, id).await?;
        let receiver = self
            .receiver_key(caller.org, &input.receiver_key_id, now)
            .await?;
        let sender = self
            .sender_key(caller.org, input.sender_key_id.as_deref(), now)
            .await?;
        let envelope_id = Uuid::now_v7();
        let wire = self
            .seal_bytes(
                envelope_id,
                prompt.prompt_text.into_bytes(),
                &receiver,
                &sender,
                input.metadata,
                input.expires_at.map(|t| t.trunc_subsecs(0)),
            )
            .await?;
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let envelope = crate::service::envelopes::insert(&tx, caller.org, Some(id), &wire).await?;
        let audit = outbox::audit(
            &tx,
            &caller.audit(
                "sealed_envelope.sealed",
                "sealed_envelope",
                envelope_id,
                json!({"prompt_id": id, "receiver_public_key_id": wire.receiver_public_key_id, "sender_private_key_id": wire.sender_private_key_id}),
            ),
        )
        .await?;
        tx.commit().await?;
        drop(conn);
        self.base.relay.publish(&self.base.db, &[audit]).await;
        Ok(envelope)
    }

    /// The receiver key `key_id` seals to now: after its rotations, and usable.
    #[tracing::instrument(skip_all, fields(org = %org))]
    async fn receiver_key(
        &self,
        org: Uuid,
        key_id: &str,
        now: DateTime<Utc>,
    ) -> Result<CryptoKey, SealedError> {
        let receiver = self
            .current_key(org, key_id)
            .await?
            .filter(|k| k.key_usage == "receiver")
            .ok_or_else(|| {
                SealedError::invalid("/receiver_key_id", "no receiver key with this id")
            })?;
        if let Some(reason) = receiver.unusable_for_new(now) {
            return Err(SealedCase::KeyUnusable(reason).into());
        }
        Ok(receiver)
    }

    /// The organization's own sender key to sign with now: `key_id` after its rotations, or
    /// its newest one; usable.
    #[tracing::instrument(skip_all, fields(org = %org))]
    async fn sender_key(
        &self,
        org: Uuid,
        key_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<CryptoKey, SealedError> {
        let sender = match key_id {
            Some(key_id) => self.current_key(org, key_id).await?,
            None => self.newest_sender_key(org).await?,
        }
        .filter(|k| k.key_usage == "sender" && k.holder().is_own())
        .ok_or_else(|| {
            SealedError::invalid(
                "/sender_key_id",
                "no sender key of your own: generate one at POST /v1/crypto-keys/generate",
            )
        })?;
        if let Some(reason) = sender.unusable_for_new(now) {
            return Err(SealedCase::KeyUnusable(reason).into());
        }
        Ok(sender)
    }

    #[tracing::instrument(skip_all, fields(org = %org))]
    async fn newest_sender_key(
        &self,
        org: Uuid,
    ) -> Result<Option<crate::service::keys::CryptoKey>, SealedError> {
        let client = self.base.db.connect().await?;
        let key_id = store::keys::newest_sender_key_id(&client, org).await?;
        match key_id {
            Some(key_id) => self.key_by_name(org, &key_id).await,
            None => Ok(None),
        }
    }

    /// Seals `plaintext`: a fresh AES-256 key and IV, the key wrapped to `receiver`, the
    /// whole signed in the HSM by `sender`.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub(crate) async fn seal_bytes(
        &self,
        id: Uuid,
        plaintext: Vec<u8>,
        receiver: &crate::service::keys::CryptoKey,
        sender: &crate::service::keys::CryptoKey,
        metadata: BTreeMap<String, String>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Wire, SealedError> {
        let (key, iv) = {
            let mut key = [0u8; 32];
            let mut iv = [0u8; 12];
            aws_lc_rs::rand::fill(&mut key).map_err(|_| anyhow::anyhow!("no randomness"))?;
            aws_lc_rs::rand::fill(&mut iv).map_err(|_| anyhow::anyhow!("no randomness"))?;
            (key, iv)
        };
        let id_text = id.to_string();
        let (ciphertext, tag) = sealing::aes_gcm_seal(&key, &iv, &Wire::aad(&id_text), &plaintext)
            .map_err(|e| anyhow::anyhow!("seal: {e}"))?;
        let wrapped = sealing::oaep_encrypt(&receiver.spki(), &key)
            .map_err(|e| anyhow::anyhow!("wrap: {e}"))?;
        let mut wire = Wire {
            format: sealed::FORMAT.to_owned(),
            id: id_text,
            algorithm: sealed::ALGORITHM.to_owned(),
            key_algorithm: sealed::KEY_ALGORITHM.to_owned(),
            signature_algorithm: sealed::SIGNATURE_ALGORITHM.to_owned(),
            receiver_public_key_id: receiver.key_id.clone(),
            sender_private_key_id: sender.key_id.clone(),
            encrypted_data: BASE64.encode(&ciphertext),
            iv: BASE64.encode(iv),
            auth_tag: BASE64.encode(&tag),
            encrypted_key: BASE64.encode(&wrapped),
            metadata,
            expires_at,
            signature: String::new(),
        };
        let binary = wire
            .check()
            .map_err(|e| anyhow::anyhow!("sealed a malformed envelope: {e}"))?;
        let signed = wire.signed_bytes(&binary);
        let signature = self
            .sign_with(sender.holder(), &sender.key_id, signed)
            .await?;
        wire.signature = BASE64.encode(signature);
        Ok(wire)
    }
}
