//! Sealed envelopes (seed 002's `envelopes`, here `sealed_envelopes`): import one sealed
//! elsewhere, read one (metadata for everyone who may read; the encrypted fields only for
//! the receiver's side: owners, admins, keys with `sealed:open`), and open one.
//!
//! Opening checks, in order: the format; the sender's key (registered, not revoked) and its
//! signature over every other field; the expiry (410); the receiver's key (one of the
//! organization's HSM keys, not revoked; a rotated one still opens what it received); the key
//! unwrap in the HSM; the AES-GCM decryption. Every attempt is recorded in
//! `envelope_decryptions` with what was verified and the stable reason of a failure.

use std::time::Duration;

use chrono::Utc;
use gsign_core::sealed::{Binary, KeyStatus, Wire};
use gsign_platform::database::Session;
use gsign_platform::http::Caller;
use gsign_platform::outbox;
use gsign_platform::sealing;
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::SealedApi;
use crate::error::{OpenRefusal, SealedCase, SealedError};
use crate::service::keys::CryptoKey;
use crate::store;

/// How long envelope metadata stays cached (seed 002: fifteen minutes).
const ENVELOPE_TTL: Duration = Duration::from_secs(900);

pub use crate::store::envelopes::SealedEnvelope;

/// Stores `wire` (already checked) for `org`.
#[tracing::instrument(skip_all, fields(org = %org))]
pub(crate) async fn insert(
    client: &(impl Session + ?Sized),
    org: Uuid,
    prompt: Option<Uuid>,
    wire: &Wire,
) -> Result<SealedEnvelope, SealedError> {
    let id: Uuid = wire.id.parse().map_err(|_| anyhow::anyhow!("checked id"))?;
    if let Some(envelope) = store::envelopes::insert(client, id, org, prompt, wire).await? {
        return Ok(envelope);
    }
    // The id is taken. Another tenant's envelope is none of the caller's business: the
    // answer is the one an unknown id gets, not a confirmation that it exists.
    Err(if store::envelopes::exists(client, org, id).await? {
        SealedError::Validation(vec![gsign_core::FieldError::new(
            "/id",
            "an envelope with this id exists",
        )])
    } else {
        SealedError::NotFound("sealed envelope")
    })
}

/// What `open` returns.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Opened {
    /// The envelope's id.
    pub id: Uuid,
    /// The payload as text, when it is UTF-8 (`null` otherwise).
    pub plaintext: Option<String>,
    /// The payload, base64 (always).
    pub plaintext_base64: String,
    /// The signed metadata.
    #[schemars(with = "std::collections::BTreeMap<String, String>")]
    pub metadata: Value,
    /// Who signed.
    pub sender_private_key_id: String,
    /// The decryption record.
    pub decryption_id: Uuid,
}

/// The envelope did not open, for `refusal`.
fn refuse<T>(refusal: OpenRefusal) -> Result<T, SealedError> {
    Err(SealedError::Area(SealedCase::NotOpened(refusal)))
}

fn envelope_key(org: Uuid, id: Uuid) -> String {
    format!("envelope:{org}:{id}")
}

impl SealedApi {
    /// `POST /v1/sealed-envelopes`: stores an envelope sealed elsewhere (to one of the
    /// organization's receiver keys), to be opened later. Only its shape is checked here;
    /// the signature is checked when it is opened, and a failure is recorded then.
    #[tracing::instrument(skip_all)]
    pub async fn import(&self, caller: &Caller, wire: Wire) -> Result<SealedEnvelope, SealedError> {
        if let Err(malformed) = wire.check() {
            return Err(SealedError::Validation(vec![gsign_core::FieldError::new(
                format!("/{}", malformed.field),
                malformed.reason,
            )]));
        }
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let envelope = insert(&tx, caller.org, None, &wire).await?;
        let audit = outbox::audit(
            &tx,
            &caller.audit(
                "sealed_envelope.imported",
                "sealed_envelope",
                envelope.id,
                json!({"sender_private_key_id": wire.sender_private_key_id}),
            ),
        )
        .await?;
        tx.commit().await?;
        drop(conn);
        self.base.relay.publish(&self.base.db, &[audit]).await;
        Ok(envelope)
    }

    /// `GET /v1/sealed-envelopes/{id}`: the metadata (cached fifteen minutes), and the wire
    /// form when `receiver` (the caller may open envelopes).
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn get_envelope(
        &self,
        caller: &Caller,
        id: Uuid,
        receiver: bool,
    ) -> Result<SealedEnvelope, SealedError> {
        let cached = envelope_key(caller.org, id);
        if !receiver {
            if let Some(envelope) = self.base.cache.get_json::<SealedEnvelope>(&cached).await {
                return Ok(envelope);
            }
        }
        let client = self.base.db.connect().await?;
        let envelope = store::envelopes::get(&client, caller.org, id, receiver)
            .await?
            .ok_or(SealedError::NotFound("sealed envelope"))?;
        let metadata_only = SealedEnvelope {
            sealed: None,
            ..envelope.clone()
        };
        if let Err(err) = self
            .base
            .cache
            .set_json(&cached, &metadata_only, ENVELOPE_TTL)
            .await
        {
            tracing::warn!(error = %err, "envelope cache unavailable");
        }
        Ok(envelope)
    }

    /// `POST /v1/sealed-envelopes/{id}/open`.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn open(&self, caller: &Caller, id: Uuid) -> Result<Opened, SealedError> {
        let client = self.base.db.connect().await?;
        let wire = store::envelopes::get(&client, caller.org, id, true)
            .await?
            .and_then(|envelope| envelope.sealed)
            .ok_or(SealedError::NotFound("sealed envelope"))?;
        drop(client);
        let mut verified = false;
        let outcome = self.try_open(caller, &wire, &mut verified).await;
        let (success, reason) = match &outcome {
            Ok(_) => (true, None),
            Err(SealedError::Area(SealedCase::Expired)) => (false, Some("expired".to_owned())),
            Err(SealedError::Area(SealedCase::NotOpened(refusal))) => (false, Some(refusal.code())),
            Err(SealedError::Area(SealedCase::Hsm(_))) => {
                (false, Some("hsm_unavailable".to_owned()))
            }
            Err(SealedError::Area(SealedCase::Kms(_))) => {
                (false, Some("kms_unavailable".to_owned()))
            }
            Err(_) => (false, Some("internal".to_owned())),
        };
        let decryption_id = self
            .record(caller, id, verified, success, reason.as_deref())
            .await?;
        let plaintext = outcome?;
        let _ = self.base.cache.delete(&envelope_key(caller.org, id)).await;
        Ok(Opened {
            id,
            plaintext: String::from_utf8(plaintext.clone()).ok(),
            plaintext_base64: base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                &plaintext,
            ),
            metadata: json!(wire.metadata),
            sender_private_key_id: wire.sender_private_key_id,
            decryption_id,
        })
    }

    #[tracing::instrument(skip_all)]
    async fn try_open(
        &self,
        caller: &Caller,
        wire: &Wire,
        verified: &mut bool,
    ) -> Result<Vec<u8>, SealedError> {
        let binary = match wire.check() {
            Ok(binary) => binary,
            Err(malformed) => {
                return refuse(OpenRefusal::Malformed(malformed.field, malformed.reason))
            }
        };
        self.verify_sender(caller, wire, &binary).await?;
        *verified = true;
        if wire.expires_at.is_some_and(|t| t <= Utc::now()) {
            return Err(SealedCase::Expired.into());
        }
        let receiver = self.own_receiver(caller, wire).await?;
        let key = self
            .unwrap_with(receiver.holder(), binary.wrapped_key.clone())
            .await?;
        let Some(key) = key.filter(|k| k.len() == 32) else {
            return refuse(OpenRefusal::KeyUnwrapFailed);
        };
        match sealing::aes_gcm_open(
            &key,
            &binary.iv,
            &Wire::aad(&wire.id),
            &binary.ciphertext,
            &binary.tag,
        ) {
            Ok(plaintext) => Ok(plaintext),
            Err(_) => refuse(OpenRefusal::DecryptionFailed),
        }
    }

    /// Checks the envelope's signature with its registered, unrevoked sender key.
    #[tracing::instrument(skip_all)]
    async fn verify_sender(
        &self,
        caller: &Caller,
        wire: &Wire,
        binary: &Binary,
    ) -> Result<(), SealedError> {
        let Some(sender) = self
            .key_by_name(caller.org, &wire.sender_private_key_id)
            .await?
            .filter(|k| k.key_usage == "sender")
        else {
            return refuse(OpenRefusal::UnknownSenderKey);
        };
        if sender.status == KeyStatus::Revoked {
            return refuse(OpenRefusal::SenderKeyRevoked);
        }
        let signed = wire.signed_bytes(binary);
        let spki = sender.spki();
        let signature = binary.signature.clone();
        let good =
            tokio::task::spawn_blocking(move || sealing::pss_verify(&spki, &signed, &signature))
                .await
                .map_err(|e| anyhow::anyhow!("verify: {e}"))?;
        if !good {
            return refuse(OpenRefusal::BadSignature);
        }
        Ok(())
    }

    /// The envelope's receiver key: one of the organization's own, unrevoked.
    #[tracing::instrument(skip_all)]
    async fn own_receiver(&self, caller: &Caller, wire: &Wire) -> Result<CryptoKey, SealedError> {
        let Some(receiver) = self
            .key_by_name(caller.org, &wire.receiver_public_key_id)
            .await?
            .filter(|k| k.key_usage == "receiver")
        else {
            return refuse(OpenRefusal::UnknownReceiverKey);
        };
        if receiver.status == KeyStatus::Revoked {
            return refuse(OpenRefusal::ReceiverKeyRevoked);
        }
        if !receiver.holder().is_own() {
            return refuse(OpenRefusal::UnknownReceiverKey);
        }
        Ok(receiver)
    }

    /// Records an attempt to open `id` (and marks the envelope decrypted or expired).
    #[tracing::instrument(skip_all, fields(id = %id))]
    async fn record(
        &self,
        caller: &Caller,
        id: Uuid,
        verified: bool,
        success: bool,
        reason: Option<&str>,
    ) -> Result<Uuid, SealedError> {
        let by = caller
            .user
            .map(|u| format!("user:{u}"))
            .or(caller.api_key.map(|k| format!("api_key:{k}")))
            .unwrap_or_else(|| "system".to_owned());
        let ip: Option<std::net::IpAddr> = caller.ip.as_deref().and_then(|ip| ip.parse().ok());
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let decryption = store::envelopes::record_decryption(
            &tx,
            &store::envelopes::Decryption {
                org: caller.org,
                envelope: id,
                verified,
                success,
                reason,
                by: &by,
                ip: ip.map(|ip| ip.to_string()),
                user_agent: caller.user_agent.as_deref(),
            },
        )
        .await?;
        let status = match (success, reason) {
            (true, _) => Some("decrypted"),
            (false, Some("expired")) => Some("expired"),
            _ => None,
        };
        if let Some(status) = status {
            store::envelopes::set_status(&tx, caller.org, id, status).await?;
        }
        let audit = outbox::audit(
            &tx,
            &caller.audit(
                if success { "sealed_envelope.opened" } else { "sealed_envelope.open_refused" },
                "sealed_envelope",
                id,
                json!({"signature_verified": verified, "reason": reason, "decryption_id": decryption}),
            ),
        )
        .await?;
        tx.commit().await?;
        drop(conn);
        self.base.relay.publish(&self.base.db, &[audit]).await;
        Ok(decryption)
    }
}
