//! What every certificates function is built from: the service base and the HSM.

use gsign_core::EnvReader;
use gsign_platform::hsm::{HsmConfig, HsmHandle};
use gsign_platform::lambda::StartupError;
use gsign_platform::service::{Base, BaseConfig};

/// The settings.
pub struct CertificatesConfig {
    base: BaseConfig,
    hsm: Option<HsmConfig>,
}

impl CertificatesConfig {
    /// Reads the settings, recording problems in `r`; the HSM's only for the routes that
    /// generate or destroy keys (the others hold no PIN).
    pub fn read(r: &mut EnvReader<'_>, with_hsm: bool) -> Option<Self> {
        let base = BaseConfig::read(r);
        let hsm = if with_hsm {
            Some(HsmConfig::read(r)?)
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
}

impl Services {
    /// Builds the clients.
    pub async fn build(config: CertificatesConfig) -> Result<Self, StartupError> {
        Ok(Self {
            base: Base::build(config.base).await?,
            hsm: config.hsm.map(HsmHandle::new),
        })
    }
}
