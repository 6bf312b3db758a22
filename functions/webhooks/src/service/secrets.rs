//! Signing secrets: 32 random bytes each, shown once as `whsec_…`, stored only as KMS
//! ciphertext bound to their endpoint (the encryption context), decrypted when a delivery
//! needs them and kept in the container's memory for a few minutes (one KMS call per endpoint
//! and container, not per delivery; a rotation changes the ciphertexts and so the entry).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_kms::primitives::Blob;
use rand::RngCore as _;
use uuid::Uuid;

/// How long decrypted keys stay in memory.
const KEEP: Duration = Duration::from_secs(300);

/// Decrypted keys of one endpoint, for the ciphertexts they came from.
struct Opened {
    at: Instant,
    ciphertexts: Vec<Vec<u8>>,
    keys: Vec<Vec<u8>>,
}

/// KMS with the secrets' key.
pub struct SecretBox {
    kms: aws_sdk_kms::Client,
    key_id: String,
    opened: Mutex<HashMap<Uuid, Opened>>,
}

fn context_key() -> String {
    "gsign:webhook-endpoint".to_owned()
}

impl SecretBox {
    /// Secrets encrypted under `key_id`.
    pub fn new(kms: aws_sdk_kms::Client, key_id: String) -> Self {
        Self {
            kms,
            key_id,
            opened: Mutex::new(HashMap::new()),
        }
    }

    /// The key bytes of `endpoint`'s active secrets (their `ciphertexts`), from memory when
    /// the same ciphertexts were opened less than five minutes ago.
    #[tracing::instrument(skip_all, fields(endpoint = %endpoint))]
    pub async fn keys(
        &self,
        endpoint: Uuid,
        ciphertexts: Vec<Vec<u8>>,
    ) -> anyhow::Result<Vec<Vec<u8>>> {
        if let Ok(opened) = self.opened.lock() {
            if let Some(entry) = opened.get(&endpoint) {
                if entry.ciphertexts == ciphertexts && entry.at.elapsed() < KEEP {
                    return Ok(entry.keys.clone());
                }
            }
        }
        let mut keys = Vec::with_capacity(ciphertexts.len());
        for ciphertext in &ciphertexts {
            keys.push(self.open(endpoint, ciphertext).await?);
        }
        if let Ok(mut opened) = self.opened.lock() {
            opened.retain(|_, entry| entry.at.elapsed() < KEEP);
            opened.insert(
                endpoint,
                Opened {
                    at: Instant::now(),
                    ciphertexts,
                    keys: keys.clone(),
                },
            );
        }
        Ok(keys)
    }

    /// A new secret for `endpoint`: its key bytes and their ciphertext.
    #[tracing::instrument(skip_all, fields(endpoint = %endpoint))]
    pub async fn create(&self, endpoint: Uuid) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
        let mut key = vec![0u8; gsign_core::webhooks::SECRET_BYTES];
        rand::rng().fill_bytes(&mut key);
        let encrypted = self
            .kms
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(key.clone()))
            .encryption_context(context_key(), endpoint.to_string())
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "KMS encrypt: {}",
                    aws_sdk_kms::error::DisplayErrorContext(&e)
                )
            })?;
        let ciphertext = encrypted
            .ciphertext_blob()
            .ok_or_else(|| anyhow::anyhow!("KMS returned no ciphertext"))?
            .as_ref()
            .to_vec();
        Ok((key, ciphertext))
    }

    /// The key bytes of a stored secret of `endpoint`.
    #[tracing::instrument(skip_all, fields(endpoint = %endpoint))]
    pub async fn open(&self, endpoint: Uuid, ciphertext: &[u8]) -> anyhow::Result<Vec<u8>> {
        let decrypted = self
            .kms
            .decrypt()
            .ciphertext_blob(Blob::new(ciphertext.to_vec()))
            .encryption_context(context_key(), endpoint.to_string())
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "KMS decrypt: {}",
                    aws_sdk_kms::error::DisplayErrorContext(&e)
                )
            })?;
        Ok(decrypted
            .plaintext()
            .ok_or_else(|| anyhow::anyhow!("KMS returned no plaintext"))?
            .as_ref()
            .to_vec())
    }
}
