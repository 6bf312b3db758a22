//! The sealed-envelopes service: [`SealedApi`] (prompts in `prompts`, sealed envelopes in
//! `envelopes`, the key registry in `keys`, where keys are held in `holders`), built from the
//! service base, the HSM and KMS.

pub mod envelopes;
pub mod holders;
pub mod keys;
pub mod prompts;
pub mod schemas;

use gsign_core::Env;
use gsign_platform::hsm::{HsmConfig, HsmHandle};
use gsign_platform::kms_keys::KmsKeyStore;
use gsign_platform::sealing::OaepMode;
use gsign_platform::service::{Base, BaseConfig};

use crate::error::SealedError;
use holders::KeyStore;

/// The service behind the routes.
pub struct SealedApi {
    pub(crate) base: Base,
    /// The token with the organization's sender and receiver keys (routes that use them).
    hsm: Option<HsmHandle>,
    /// How the token unwraps RSA-OAEP-SHA256 (`HSM_OAEP_MODE`).
    oaep_mode: OaepMode,
    /// Where new own keys are made (`SEALED_KEY_STORE`).
    key_store: KeyStore,
    /// Keys held in KMS (routes that use or revoke own keys).
    kms: Option<KmsKeyStore>,
}

impl SealedApi {
    fn hsm(&self) -> Result<&HsmHandle, SealedError> {
        self.hsm.as_ref().ok_or_else(|| {
            SealedError::Internal(anyhow::anyhow!("this function has no HSM configured"))
        })
    }

    /// Reads the configuration (the HSM's only for `with_hsm`, KMS's only for `with_kms`)
    /// and builds the clients.
    #[tracing::instrument(skip_all)]
    pub async fn from_env(
        env: &Env,
        with_hsm: bool,
        with_kms: bool,
    ) -> Result<Self, gsign_platform::lambda::StartupError> {
        let mut r = env.reader();
        let base = BaseConfig::read(&mut r);
        let hsm = if with_hsm {
            HsmConfig::read(&mut r)
        } else {
            None
        };
        let oaep_mode = r.or("HSM_OAEP_MODE", OaepMode::Native);
        let key_store = r.or("SEALED_KEY_STORE", KeyStore::Hsm);
        // Unset in AWS; locally LocalStack's KMS, which does RSA-OAEP and PSS as AWS does.
        let kms_endpoint = r.optional::<url::Url>("SEALED_KMS_ENDPOINT_URL");
        let base = r.finish(|| base)?;
        let base = Base::build(base).await?;
        let kms = with_kms.then(|| {
            let endpoint = kms_endpoint.map(|u| u.as_str().trim_end_matches('/').to_owned());
            KmsKeyStore::new(gsign_platform::aws::kms_at(&base.sdk, endpoint.as_deref()))
        });
        Ok(Self {
            base,
            hsm: hsm.map(HsmHandle::new),
            oaep_mode,
            key_store,
            kms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_configuration_problem_is_reported_at_once() {
        let env = Env::from_pairs([
            ("HSM_OAEP_MODE", "pkcs1"),
            ("SEALED_KEY_STORE", "cloudhsm"),
            ("SEALED_KMS_ENDPOINT_URL", "not a url"),
        ]);
        let Err(gsign_platform::lambda::StartupError::Config(err)) =
            SealedApi::from_env(&env, true, true).await
        else {
            panic!("a wrong configuration must not start");
        };
        for name in [
            "DATABASE_URL",
            "HSM_MODULE_PATH",
            "HSM_OAEP_MODE",
            "SEALED_KEY_STORE",
            "SEALED_KMS_ENDPOINT_URL",
        ] {
            assert!(
                err.problems.iter().any(|p| p.starts_with(name)),
                "{name} missing from {err}"
            );
        }
    }
}
