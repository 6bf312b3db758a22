//! Sealed-envelope keys held in AWS KMS instead of the HSM (`SEALED_KEY_STORE=kms`):
//! asymmetric RSA keys made in KMS, whose private halves never leave it. Sender keys sign
//! `RSASSA_PSS_SHA_256` (SHA-256, MGF1-SHA-256, 32-byte salt: the wire format's scheme);
//! receiver keys unwrap `RSAES_OAEP_SHA_256`. Every key is tagged with its organization and
//! purpose, so an IAM policy can confine the functions to these keys.
//!
//! moto's KMS signs PSS with the maximum salt and ignores OAEP, so the local stack serves this
//! adapter from LocalStack's KMS, which does both as AWS does (`SEALED_KMS_ENDPOINT_URL`).

use aws_sdk_kms::error::{DisplayErrorContext, SdkError};
use aws_sdk_kms::operation::decrypt::DecryptError;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    EncryptionAlgorithmSpec, KeySpec as KmsKeySpec, KeyUsageType, MessageType,
    SigningAlgorithmSpec, Tag,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::hsm_keys::KeySpec;

/// What a sealed-envelope key does with its private half.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// Signs envelopes (RSA-PSS-SHA256).
    Sign,
    /// Unwraps envelopes' AES keys (RSA-OAEP-SHA256).
    Unwrap,
}

/// KMS did not answer as it should; the detail is for the log, never for the caller.
#[derive(Debug, thiserror::Error)]
#[error("KMS {operation}: {detail}")]
pub struct KmsKeyError {
    /// The KMS operation.
    pub operation: &'static str,
    /// What KMS or the transport said.
    pub detail: String,
}

impl KmsKeyError {
    fn of<E: std::error::Error + 'static, R: std::fmt::Debug>(
        operation: &'static str,
    ) -> impl FnOnce(SdkError<E, R>) -> Self {
        move |err| Self {
            operation,
            detail: DisplayErrorContext(&err).to_string(),
        }
    }
}

/// A key made in KMS: its ARN (what the registry stores) and its public half.
#[derive(Debug, Clone)]
pub struct KmsKey {
    /// The key's ARN.
    pub arn: String,
    /// DER SubjectPublicKeyInfo, as `GetPublicKey` gives it.
    pub spki_der: Vec<u8>,
}

/// The sealed-envelope key operations on one KMS client (built once per container).
#[derive(Debug, Clone)]
pub struct KmsKeyStore {
    client: aws_sdk_kms::Client,
}

impl KmsKeyStore {
    /// Wraps a client.
    pub fn new(client: aws_sdk_kms::Client) -> Self {
        Self { client }
    }

    /// Makes an RSA key pair in KMS for `purpose`, tagged with `organization` and `name`
    /// (the registry's `key_id`), and reads its public half.
    #[tracing::instrument(skip_all, fields(organization = %organization))]
    pub async fn generate(
        &self,
        spec: KeySpec,
        purpose: KeyPurpose,
        organization: Uuid,
        name: &str,
    ) -> Result<KmsKey, KmsKeyError> {
        let key_spec = match spec {
            KeySpec::Rsa2048 => KmsKeySpec::Rsa2048,
            KeySpec::Rsa3072 => KmsKeySpec::Rsa3072,
            KeySpec::EcP256 => {
                return Err(KmsKeyError {
                    operation: "CreateKey",
                    detail: "sealed-envelope keys are RSA".to_owned(),
                })
            }
        };
        let usage = match purpose {
            KeyPurpose::Sign => KeyUsageType::SignVerify,
            KeyPurpose::Unwrap => KeyUsageType::EncryptDecrypt,
        };
        let tag = |key: &str, value: String| {
            Tag::builder()
                .tag_key(key)
                .tag_value(value)
                .build()
                .map_err(|e| KmsKeyError {
                    operation: "CreateKey",
                    detail: e.to_string(),
                })
        };
        let created = self
            .client
            .create_key()
            .key_spec(key_spec)
            .key_usage(usage)
            .description(format!("GSign sealed-envelope key {name}"))
            .tags(tag("gsign:purpose", "sealed-envelopes".to_owned())?)
            .tags(tag("gsign:organization", organization.to_string())?)
            .tags(tag("gsign:key-id", name.to_owned())?)
            .send()
            .await
            .map_err(KmsKeyError::of("CreateKey"))?;
        let arn = created
            .key_metadata()
            .and_then(|m| m.arn())
            .ok_or_else(|| KmsKeyError {
                operation: "CreateKey",
                detail: "no key ARN in the answer".to_owned(),
            })?
            .to_owned();
        let spki_der = self.public_key(&arn).await?;
        Ok(KmsKey { arn, spki_der })
    }

    /// The DER SubjectPublicKeyInfo of key `arn`.
    #[tracing::instrument(skip_all)]
    pub async fn public_key(&self, arn: &str) -> Result<Vec<u8>, KmsKeyError> {
        let answer = self
            .client
            .get_public_key()
            .key_id(arn)
            .send()
            .await
            .map_err(KmsKeyError::of("GetPublicKey"))?;
        answer
            .public_key()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| KmsKeyError {
                operation: "GetPublicKey",
                detail: "no public key in the answer".to_owned(),
            })
    }

    /// Signs `message` with RSASSA-PSS-SHA256 (32-byte salt) under key `arn`. The SHA-256
    /// digest is computed here and sent as `MessageType=DIGEST`: a sealed envelope's signed
    /// bytes include its ciphertext, far beyond KMS's 4096-byte message limit.
    #[tracing::instrument(skip_all)]
    pub async fn sign_pss_sha256(&self, arn: &str, message: &[u8]) -> Result<Vec<u8>, KmsKeyError> {
        let digest = Sha256::digest(message).to_vec();
        let answer = self
            .client
            .sign()
            .key_id(arn)
            .message(Blob::new(digest))
            .message_type(MessageType::Digest)
            .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
            .send()
            .await
            .map_err(KmsKeyError::of("Sign"))?;
        answer
            .signature()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| KmsKeyError {
                operation: "Sign",
                detail: "no signature in the answer".to_owned(),
            })
    }

    /// Unwraps an RSAES-OAEP-SHA256 `wrapped` key with key `arn`. `Ok(None)`: KMS says it
    /// does not decrypt with this key (changed bytes, or sealed to another key).
    #[tracing::instrument(skip_all)]
    pub async fn oaep_unwrap(
        &self,
        arn: &str,
        wrapped: &[u8],
    ) -> Result<Option<Vec<u8>>, KmsKeyError> {
        let answer = self
            .client
            .decrypt()
            .key_id(arn)
            .ciphertext_blob(Blob::new(wrapped))
            .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
            .send()
            .await;
        match answer {
            Ok(answer) => Ok(answer.plaintext().map(|b| b.as_ref().to_vec())),
            Err(SdkError::ServiceError(err))
                if matches!(
                    err.err(),
                    DecryptError::InvalidCiphertextException(_)
                        | DecryptError::IncorrectKeyException(_)
                ) =>
            {
                Ok(None)
            }
            Err(err) => Err(KmsKeyError::of("Decrypt")(err)),
        }
    }

    /// Disables key `arn`: after a revocation, KMS itself refuses to use it.
    #[tracing::instrument(skip_all)]
    pub async fn disable(&self, arn: &str) -> Result<(), KmsKeyError> {
        self.client
            .disable_key()
            .key_id(arn)
            .send()
            .await
            .map_err(KmsKeyError::of("DisableKey"))?;
        Ok(())
    }
}
