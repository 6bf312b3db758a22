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

use chrono::{DateTime, Utc};
use gsign_core::sealed::{self, KeyStatus, Wire};
use gsign_platform::database::{read_in_slices, DbError, Row, Session};
use gsign_platform::http::Caller;
use gsign_platform::outbox;
use gsign_platform::params;
use gsign_platform::sealing;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::SealedApi;
use crate::error::{OpenRefusal, SealedCase, SealedError};

/// How long envelope metadata stays cached (seed 002: fifteen minutes).
const ENVELOPE_TTL: Duration = Duration::from_secs(900);

/// A sealed envelope as the API shows it: the metadata, and the wire form for the receiver.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SealedEnvelope {
    /// Id (the wire format's).
    pub id: Uuid,
    /// The prompt it was sealed from (`null`: imported).
    pub prompt_id: Option<Uuid>,
    /// `pending`, `delivered`, `decrypted`, `expired`.
    pub status: String,
    /// The receiver's key id.
    pub receiver_public_key_id: String,
    /// The sender's key id.
    pub sender_private_key_id: String,
    /// The algorithms.
    pub algorithm: String,
    /// The key wrap.
    pub key_algorithm: String,
    /// The signature.
    pub signature_algorithm: String,
    /// Signed text metadata.
    #[schemars(with = "std::collections::BTreeMap<String, String>")]
    pub metadata: Value,
    /// When it may no longer be opened.
    pub expires_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// The whole envelope in the wire format (only for the receiver's side).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sealed: Option<Wire>,
}

/// The envelope's columns; its payload only when small (up to [`sealed::MAX_PAYLOAD_BYTES`]
/// sealed, its base64 may not fit a Data API row): [`wire_of`] reads a large one apart.
const COLUMNS: &str = "id, prompt_id, \
    CASE WHEN octet_length(encrypted_data) <= 8192 THEN encrypted_data END AS encrypted_data, \
    encrypted_key, signature, iv, auth_tag, \
    algorithm, key_algorithm, signature_algorithm, receiver_public_key_id, sender_private_key_id, \
    metadata, expires_at, status, created_at";

async fn wire_of(client: &(impl Session + ?Sized), row: &Row) -> Result<Wire, DbError> {
    let id: Uuid = row.get("id")?;
    let encrypted_data = match row.get::<Option<String>>("encrypted_data")? {
        Some(data) => data,
        None => {
            read_in_slices(
                client,
                "encrypted_data",
                "sealed_envelopes WHERE id = :id",
                params!(id),
            )
            .await?
        }
    };
    let metadata: Value = row.get("metadata")?;
    Ok(Wire {
        format: sealed::FORMAT.to_owned(),
        id: id.to_string(),
        algorithm: row.get("algorithm")?,
        key_algorithm: row.get("key_algorithm")?,
        signature_algorithm: row.get("signature_algorithm")?,
        receiver_public_key_id: row.get("receiver_public_key_id")?,
        sender_private_key_id: row.get("sender_private_key_id")?,
        encrypted_data,
        iv: row.get("iv")?,
        auth_tag: row.get("auth_tag")?,
        encrypted_key: row.get("encrypted_key")?,
        metadata: serde_json::from_value(metadata).unwrap_or_default(),
        expires_at: row.get("expires_at")?,
        signature: row.get("signature")?,
    })
}

fn view(row: &Row, wire: Option<Wire>) -> Result<SealedEnvelope, DbError> {
    Ok(SealedEnvelope {
        id: row.get("id")?,
        prompt_id: row.get("prompt_id")?,
        status: row.get("status")?,
        receiver_public_key_id: row.get("receiver_public_key_id")?,
        sender_private_key_id: row.get("sender_private_key_id")?,
        algorithm: row.get("algorithm")?,
        key_algorithm: row.get("key_algorithm")?,
        signature_algorithm: row.get("signature_algorithm")?,
        metadata: row.get("metadata")?,
        expires_at: row.get("expires_at")?,
        created_at: row.get("created_at")?,
        sealed: wire,
    })
}

/// Stores `wire` (already checked) for `org`.
#[tracing::instrument(skip_all, fields(org = %org))]
pub(crate) async fn insert(
    client: &(impl Session + ?Sized),
    org: Uuid,
    prompt: Option<Uuid>,
    wire: &Wire,
) -> Result<SealedEnvelope, SealedError> {
    let id: Uuid = wire.id.parse().map_err(|_| anyhow::anyhow!("checked id"))?;
    let row = client
        .fetch_optional(
            &format!(
                "INSERT INTO sealed_envelopes (id, organization_id, prompt_id, encrypted_data, encrypted_key, \
                 signature, iv, auth_tag, algorithm, key_algorithm, signature_algorithm, receiver_public_key_id, \
                 sender_private_key_id, metadata, expires_at) \
                 VALUES (:id, :org, :prompt, :encrypted_data, :encrypted_key, :signature, :iv, :auth_tag, \
                 :algorithm, :key_algorithm, :signature_algorithm, :receiver_public_key_id, \
                 :sender_private_key_id, :metadata, :expires_at) \
                 ON CONFLICT (id) DO NOTHING RETURNING {COLUMNS}"
            ),
            params!(
                id,
                org,
                prompt,
                encrypted_data = wire.encrypted_data,
                encrypted_key = wire.encrypted_key,
                signature = wire.signature,
                iv = wire.iv,
                auth_tag = wire.auth_tag,
                algorithm = wire.algorithm,
                key_algorithm = wire.key_algorithm,
                signature_algorithm = wire.signature_algorithm,
                receiver_public_key_id = wire.receiver_public_key_id,
                sender_private_key_id = wire.sender_private_key_id,
                metadata = json!(wire.metadata),
                expires_at = wire.expires_at,
            ),
        )
        .await?;
    let Some(row) = row else {
        // The id is taken. Another tenant's envelope is none of the caller's business: the
        // answer is the one an unknown id gets, not a confirmation that it exists.
        let ours = client
            .fetch_optional(
                "SELECT 1 FROM sealed_envelopes WHERE id = :id AND organization_id = :org",
                params!(id, org),
            )
            .await?
            .is_some();
        return Err(if ours {
            SealedError::Validation(vec![gsign_core::FieldError::new(
                "/id",
                "an envelope with this id exists",
            )])
        } else {
            SealedError::NotFound("sealed envelope")
        });
    };
    Ok(view(&row, Some(wire.clone()))?)
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
        let row = client
            .fetch_optional(
                &format!("SELECT {COLUMNS} FROM sealed_envelopes WHERE organization_id = :org AND id = :id AND deleted_at IS NULL"),
                params!(org = caller.org, id),
            )
            .await?
            .ok_or(SealedError::NotFound("sealed envelope"))?;
        let metadata_only = view(&row, None)?;
        if let Err(err) = self
            .base
            .cache
            .set_json(&cached, &metadata_only, ENVELOPE_TTL)
            .await
        {
            tracing::warn!(error = %err, "envelope cache unavailable");
        }
        Ok(if receiver {
            view(&row, Some(wire_of(&client, &row).await?))?
        } else {
            metadata_only
        })
    }

    /// `POST /v1/sealed-envelopes/{id}/open`.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn open(&self, caller: &Caller, id: Uuid) -> Result<Opened, SealedError> {
        let client = self.base.db.connect().await?;
        let row = client
            .fetch_optional(
                &format!("SELECT {COLUMNS} FROM sealed_envelopes WHERE organization_id = :org AND id = :id AND deleted_at IS NULL"),
                params!(org = caller.org, id),
            )
            .await?
            .ok_or(SealedError::NotFound("sealed envelope"))?;
        let wire = wire_of(&client, &row).await?;
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
        let refuse = |r| Err(SealedError::Area(SealedCase::NotOpened(r)));
        let binary = match wire.check() {
            Ok(binary) => binary,
            Err(malformed) => {
                return refuse(OpenRefusal::Malformed(malformed.field, malformed.reason))
            }
        };
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
        let signed = wire.signed_bytes(&binary);
        let spki = sender.spki();
        let signature = binary.signature.clone();
        let good =
            tokio::task::spawn_blocking(move || sealing::pss_verify(&spki, &signed, &signature))
                .await
                .map_err(|e| anyhow::anyhow!("verify: {e}"))?;
        if !good {
            return refuse(OpenRefusal::BadSignature);
        }
        *verified = true;
        if wire.expires_at.is_some_and(|t| t <= Utc::now()) {
            return Err(SealedCase::Expired.into());
        }
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
        let decryption: Uuid = tx
            .fetch_one(
                "INSERT INTO envelope_decryptions (organization_id, envelope_id, signature_verified, \
                 decryption_successful, error_message, decrypted_by, ip_address, user_agent) \
                 VALUES (:org, :id, :verified, :success, :reason, :by, :ip::inet, :user_agent) RETURNING id",
                params!(
                    org = caller.org,
                    id,
                    verified,
                    success,
                    reason,
                    by,
                    ip = ip.map(|ip| ip.to_string()),
                    user_agent = caller.user_agent,
                ),
            )
            .await?
            .get("id")?;
        let status = match (success, reason) {
            (true, _) => Some("decrypted"),
            (false, Some("expired")) => Some("expired"),
            _ => None,
        };
        if let Some(status) = status {
            tx.run(
                "UPDATE sealed_envelopes SET status = :status WHERE organization_id = :org AND id = :id",
                params!(org = caller.org, id, status),
            )
            .await?;
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

#[cfg(test)]
mod tests {
    #[test]
    fn payloads_come_inline_only_as_large_as_the_port_allows() {
        let inline = format!("<= {} THEN", gsign_platform::database::INLINE_VALUE_BYTES);
        assert!(super::COLUMNS.contains(&inline));
    }
}
