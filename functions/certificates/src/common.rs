//! What every certificates function is built from: the service base and the HSM.

use gsign_core::EnvReader;
use gsign_platform::hsm::{HsmConfig, HsmHandle};
use gsign_platform::lambda::StartupError;
use gsign_platform::service::{Base, BaseConfig};

use crate::revocation::{Pki, PkiConfig};

/// The settings.
pub struct CertificatesConfig {
    base: BaseConfig,
    hsm: Option<(HsmConfig, PkiConfig)>,
}

impl CertificatesConfig {
    /// Reads the settings, recording problems in `r`; the HSM's (and where its CAs publish
    /// their CRLs) only for the functions that generate, destroy or sign with keys (the
    /// others hold no PIN).
    pub fn read(r: &mut EnvReader<'_>, with_hsm: bool) -> Option<Self> {
        let base = BaseConfig::read(r);
        let hsm = if with_hsm {
            let hsm = HsmConfig::read(r);
            let pki = PkiConfig::read(r);
            Some((hsm?, pki?))
        } else {
            None
        };
        Some(Self { base: base?, hsm })
    }
}

/// The clients, built once per container; the HSM opens on first use.
pub struct Services {
    /// Postgres, Redis, rate limits, outbox.
    pub base: Base,
    /// The token holding every private key, for the routes that use it.
    pub hsm: Option<HsmHandle>,
    /// Where the organization CAs' CRLs are published, beside the HSM.
    pub pki: Option<Pki>,
}

impl Services {
    /// Builds the clients.
    #[tracing::instrument(skip_all)]
    pub async fn build(config: CertificatesConfig) -> Result<Self, StartupError> {
        let base = Base::build(config.base).await?;
        let (hsm, pki) = match config.hsm {
            Some((hsm, pki)) => (Some(HsmHandle::new(hsm)), Some(Pki::new(pki, &base.sdk))),
            None => (None, None),
        };
        Ok(Self { base, hsm, pki })
    }
}
