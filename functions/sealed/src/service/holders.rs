//! Where the private half of an own key lives, and the three things done with it: make a
//! key, sign an envelope, unwrap an envelope's AES key. A key's holder is part of the key
//! (`key_storage_location`), so keys made before a change of `SEALED_KEY_STORE` keep working
//! where they are; the setting decides only where new keys (and rotations' successors) are
//! made.

use gsign_platform::hsm_keys::{KeySpec, Scheme};
use gsign_platform::kms_keys::KeyPurpose;
use uuid::Uuid;

use super::SealedApi;
use crate::error::{SealedCase, SealedError};

/// Where new own keys are made (`SEALED_KEY_STORE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStore {
    /// The PKCS#11 token (CloudHSM; SoftHSM locally).
    Hsm,
    /// AWS KMS asymmetric keys.
    Kms,
}

impl std::str::FromStr for KeyStore {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hsm" => Ok(KeyStore::Hsm),
            "kms" => Ok(KeyStore::Kms),
            other => Err(format!("{other:?} is not hsm or kms")),
        }
    }
}

/// Who holds a registered key's private half.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// The HSM, under this `CKA_ID` (`hsm:<hex>`).
    Hsm(Vec<u8>),
    /// KMS, under this key ARN (`kms:<arn>`).
    Kms(String),
    /// Another party (`external`): only the public half is here.
    External,
}

impl Holder {
    /// Reads a `key_storage_location`.
    pub fn parse(location: &str) -> Self {
        if let Some(id) = location
            .strip_prefix("hsm:")
            .and_then(|h| hex::decode(h).ok())
        {
            Holder::Hsm(id)
        } else if let Some(arn) = location.strip_prefix("kms:").filter(|a| !a.is_empty()) {
            Holder::Kms(arn.to_owned())
        } else {
            Holder::External
        }
    }

    /// The `key_storage_location` stored for it.
    pub fn location(&self) -> String {
        match self {
            Holder::Hsm(id) => format!("hsm:{}", hex::encode(id)),
            Holder::Kms(arn) => format!("kms:{arn}"),
            Holder::External => "external".to_owned(),
        }
    }

    /// Whether the private half is one of ours.
    pub fn is_own(&self) -> bool {
        !matches!(self, Holder::External)
    }
}

impl SealedApi {
    fn kms(&self) -> Result<&gsign_platform::kms_keys::KmsKeyStore, SealedError> {
        self.kms.as_ref().ok_or_else(|| {
            SealedError::Internal(anyhow::anyhow!("this function has no KMS key store"))
        })
    }

    /// Makes an own key for `usage` (`sender` or `receiver`) in the configured store: its
    /// public half (DER) and where it lives.
    #[tracing::instrument(skip_all, fields(org = %org))]
    pub(crate) async fn make_key(
        &self,
        org: Uuid,
        key_id: &str,
        usage: &str,
        spec: KeySpec,
    ) -> Result<(Vec<u8>, Holder), SealedError> {
        let purpose = if usage == "sender" {
            KeyPurpose::Sign
        } else {
            KeyPurpose::Unwrap
        };
        match self.key_store {
            KeyStore::Hsm => {
                let label = format!("sealed-{usage}-{org}");
                let made = self
                    .hsm()?
                    .run(move |hsm| match purpose {
                        KeyPurpose::Sign => hsm.generate_signing_key(spec, &label),
                        KeyPurpose::Unwrap => hsm.generate_decryption_key(spec, &label),
                    })
                    .await?;
                Ok((made.spki_der, Holder::Hsm(made.id)))
            }
            KeyStore::Kms => {
                let made = self.kms()?.generate(spec, purpose, org, key_id).await?;
                Ok((made.spki_der, Holder::Kms(made.arn)))
            }
        }
    }

    /// Signs `signed` (RSA-PSS-SHA256, salt 32) with the private key of the sender's key
    /// `key_id`, which `holder` holds.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn sign_with(
        &self,
        holder: Holder,
        key_id: &str,
        signed: Vec<u8>,
    ) -> Result<Vec<u8>, SealedError> {
        match holder {
            Holder::Hsm(id) => Ok(self
                .hsm()?
                .run(move |hsm| hsm.sign(&id, Scheme::RsaPssSha256, &signed))
                .await?),
            Holder::Kms(arn) => Ok(self.kms()?.sign_pss_sha256(&arn, &signed).await?),
            Holder::External => Err(SealedError::Area(SealedCase::KeyUnusable(format!(
                "key {key_id} is another party's: it cannot sign here"
            )))),
        }
    }

    /// Unwraps an envelope's AES key with the private key `holder` holds for the receiver;
    /// `None` when it does not unwrap (or the key is not one of ours).
    #[tracing::instrument(skip_all)]
    pub(crate) async fn unwrap_with(
        &self,
        holder: Holder,
        wrapped: Vec<u8>,
    ) -> Result<Option<Vec<u8>>, SealedError> {
        match holder {
            Holder::Hsm(id) => {
                let mode = self.oaep_mode;
                Ok(self
                    .hsm()?
                    .run(move |hsm| hsm.oaep_unwrap(&id, &wrapped, mode))
                    .await?)
            }
            Holder::Kms(arn) => Ok(self.kms()?.oaep_unwrap(&arn, &wrapped).await?),
            Holder::External => Ok(None),
        }
    }

    /// After a revocation: where the store can refuse the key itself (KMS), make it so. The
    /// registry's `revoked` status already refuses it; a failure here is logged.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn disable_in_store(&self, holder: Holder, key_id: &str) {
        if let Holder::Kms(arn) = holder {
            match self.kms() {
                Ok(kms) => {
                    if let Err(err) = kms.disable(&arn).await {
                        tracing::error!(error = %err, key_id, "revoked key still enabled in KMS");
                    }
                }
                Err(err) => {
                    tracing::error!(error = %err, key_id, "revoked key still enabled in KMS")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_round_trip_and_anything_else_is_external() {
        for holder in [
            Holder::Hsm(vec![0xab, 0x01]),
            Holder::Kms("arn:aws:kms:us-east-1:123456789012:key/k-1".to_owned()),
            Holder::External,
        ] {
            assert_eq!(Holder::parse(&holder.location()), holder);
        }
        assert_eq!(Holder::parse("hsm:not-hex"), Holder::External);
        assert_eq!(Holder::parse("kms:"), Holder::External);
        assert!(Holder::parse("hsm:00").is_own());
        assert!(!Holder::parse("external").is_own());
    }

    #[test]
    fn the_store_setting_is_hsm_or_kms() {
        assert_eq!("hsm".parse::<KeyStore>(), Ok(KeyStore::Hsm));
        assert_eq!("kms".parse::<KeyStore>(), Ok(KeyStore::Kms));
        assert!("cloudhsm".parse::<KeyStore>().is_err());
    }
}
