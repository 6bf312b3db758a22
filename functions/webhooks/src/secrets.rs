//! Signing secrets: 32 random bytes each, shown once as `whsec_…`, stored only as KMS
//! ciphertext bound to their endpoint (the encryption context), decrypted for each delivery.

use aws_sdk_kms::primitives::Blob;
use rand::RngCore as _;
use uuid::Uuid;

/// KMS with the secrets' key.
#[derive(Clone)]
pub struct SecretBox {
    kms: aws_sdk_kms::Client,
    key_id: String,
}

fn context_key() -> String {
    "gsign:webhook-endpoint".to_owned()
}

impl SecretBox {
    /// Secrets encrypted under `key_id`.
    pub fn new(kms: aws_sdk_kms::Client, key_id: String) -> Self {
        Self { kms, key_id }
    }

    /// A new secret for `endpoint`: its key bytes and their ciphertext.
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
