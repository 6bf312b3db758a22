//! The certificates area's service: [`CertificatesApi`] (its use cases in `certificates`,
//! issuing under the organization CA in `issuing`, CRLs in `revocation` and `pki`, a row's key
//! and chain in `stored`), what its routes and schedule are built from (the service base, and
//! the HSM for those that use keys), and the only part of the area other
//! areas use: [`Seals`], through which the signing worker gets the organization's seal key
//! (its CA and seal created on first use), counts a signature made with it and has the
//! organization CA issue a CRL for a document's validation data, never reading this area's
//! tables or helpers itself.

pub mod certificates;
pub mod issuing;
pub mod pki;
pub mod revocation;
pub mod stored;

pub use certificates::{CertificateQuery, CertificateView, ChainImport, Revocation};

use std::sync::Arc;

use anyhow::Context as _;
use gsign_core::{Env, EnvReader};
use gsign_platform::database::{Connection, Database, DbError, Session};
use gsign_platform::hsm::{Hsm, HsmConfig, HsmHandle};
use gsign_platform::lambda::StartupError;
use gsign_platform::pades_signer::SigningKey;
use gsign_platform::service::{Base, BaseConfig};
use issuing::NewKeys;
use pki::{Pki, PkiConfig};
use uuid::Uuid;
use x509_cert::Certificate as X509;

use crate::error::CertificatesError;
use crate::store::{self};
use gsign_core::certificates::CertificatePurpose;

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

/// The key that signs for an organization: its seal certificate's HSM key and chain.
#[derive(Debug, Clone)]
pub struct SealKey {
    /// The seal certificate's row (counted by [`Seals::record_use`]).
    pub certificate_id: Uuid,
    /// Its serial number, as stored.
    pub serial: Option<String>,
    /// The HSM key's id.
    pub key_id: Vec<u8>,
    /// How the key signs.
    pub scheme: gsign_signing::Scheme,
    /// The seal certificate first, then its issuers.
    pub chain: Vec<X509>,
}

impl SealKey {
    /// The key as the PAdES signer uses it, in an open HSM session.
    pub fn signing_key<'h>(&self, hsm: &'h Hsm) -> SigningKey<'h> {
        SigningKey {
            hsm,
            key_id: self.key_id.clone(),
            scheme: self.scheme,
            chain: self.chain.clone(),
        }
    }
}

/// Why no seal key could be had.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The organization was deleted: retrying cannot help.
    #[error("the organization is gone")]
    OrganizationGone,
    /// Postgres, the HSM or the CRL's publication failed: worth retrying.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Where the organizations' CRLs are published, read with the rest of the caller's settings.
pub struct SealsConfig(PkiConfig);

impl SealsConfig {
    /// Reads the settings, recording problems in `r`.
    pub fn read(r: &mut EnvReader<'_>) -> Option<Self> {
        PkiConfig::read(r).map(Self)
    }
}

/// The organizations' seals, in the HSM the caller signs with.
pub struct Seals {
    hsm: Arc<HsmHandle>,
    pki: Pki,
}

impl Seals {
    /// The seals in `hsm`, their CRLs published as `config` says.
    pub fn new(config: SealsConfig, hsm: Arc<HsmHandle>, sdk: &aws_config::SdkConfig) -> Self {
        Self {
            hsm,
            pki: Pki::new(config.0, sdk),
        }
    }

    /// The organization's seal key; its CA and seal are created on first use, in a
    /// transaction of their own under the organization's row lock (keys generated for a
    /// transaction that did not commit are destroyed).
    #[tracing::instrument(skip_all, fields(org = %org))]
    pub async fn seal_key(&self, db: impl Into<Database>, org: Uuid) -> Result<SealKey, SealError> {
        let mut conn = db
            .into()
            .connect()
            .await
            .context("a connection for the seal key")?;
        let seal = match store::authority(&conn, org, CertificatePurpose::Seal)
            .await
            .context("reading the seal certificate")?
        {
            Some(seal) => seal,
            None => self.create_authorities(&mut conn, org).await?,
        };
        let issuing = stored::issuing_key(&seal).context("reading the seal key")?;
        Ok(SealKey {
            certificate_id: seal.id,
            serial: seal.serial_number.clone(),
            key_id: issuing.key_id,
            scheme: issuing.scheme,
            chain: stored::stored_chain(&seal).context("reading the seal chain")?,
        })
    }

    async fn create_authorities(
        &self,
        conn: &mut Connection,
        org: Uuid,
    ) -> Result<store::Certificate, SealError> {
        let tx = conn.begin().await.context("beginning")?;
        let name = store::lock_organization(&tx, org)
            .await
            .context("locking the organization")?
            .ok_or(SealError::OrganizationGone)?;
        let mut keys = NewKeys::new(&self.hsm);
        let created = issuing::ensure_authorities(&tx, &mut keys, &self.pki, org, &name).await;
        let committed = match created {
            Ok((_, seal)) => tx
                .commit()
                .await
                .map(|()| seal)
                .map_err(anyhow::Error::from),
            Err(err) => Err(anyhow::Error::new(err).context("creating the seal key")),
        };
        match committed {
            Ok(seal) => {
                keys.keep();
                Ok(seal)
            }
            Err(err) => {
                keys.discard().await;
                Err(err.into())
            }
        }
    }

    /// Counts one signature made with the seal `certificate_id`, in the caller's transaction
    /// (the row is shared by every envelope of the organization: call it last).
    #[tracing::instrument(skip_all, fields(certificate = %certificate_id))]
    pub async fn record_use(
        &self,
        client: &(impl Session + ?Sized),
        certificate_id: Uuid,
    ) -> Result<(), DbError> {
        store::record_use(client, certificate_id).await
    }

    /// The organization CA's certificate and a CRL it issues now (recorded in `client`'s
    /// transaction and published), or `None` before the organization has a CA.
    #[tracing::instrument(skip_all, fields(org = %org))]
    pub async fn ca_with_fresh_crl(
        &self,
        client: &(impl Session + ?Sized),
        org: Uuid,
    ) -> anyhow::Result<Option<(X509, Vec<u8>)>> {
        use der::Decode as _;
        let Some(ca) = store::authority(client, org, CertificatePurpose::Ca).await? else {
            return Ok(None);
        };
        let certificate = ca.certificate.as_deref().map(X509::from_der).transpose()?;
        // A CA without its certificate cannot issue: the refresh fails and the caller retries,
        // rather than sealing below the level asked for.
        let crl = revocation::refresh(client, &self.hsm, &self.pki, &ca)
            .await
            .map_err(|e| anyhow::anyhow!("the organization CA's CRL: {e}"))?;
        Ok(certificate.map(|certificate| (certificate, crl)))
    }
}

/// The service behind the routes.
pub struct CertificatesApi {
    pub(crate) services: Services,
}

impl CertificatesApi {
    /// Reads the configuration from `env` (every problem at once) and builds the clients; the HSM and the CRL publisher only `with_hsm`.
    #[tracing::instrument(skip_all)]
    pub async fn from_env(
        env: &Env,
        with_hsm: bool,
    ) -> Result<Self, gsign_platform::lambda::StartupError> {
        let mut r = env.reader();
        let config = CertificatesConfig::read(&mut r, with_hsm);
        let config = r.finish(|| config)?;
        Ok(Self {
            services: Services::build(config).await?,
        })
    }

    /// Where CRLs are published, configured with the HSM.
    fn pki(&self) -> Result<&crate::service::pki::Pki, CertificatesError> {
        self.services
            .pki
            .as_ref()
            .ok_or_else(|| CertificatesError::Internal(anyhow::anyhow!("route built without PKI")))
    }

    /// The HSM, which only the key-generating and key-destroying routes are configured with.
    fn hsm(&self) -> Result<&gsign_platform::hsm::HsmHandle, CertificatesError> {
        self.services
            .hsm
            .as_ref()
            .ok_or_else(|| CertificatesError::Internal(anyhow::anyhow!("route built without HSM")))
    }
}
