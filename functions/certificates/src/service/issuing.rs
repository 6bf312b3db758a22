//! Keys and certificates made in the HSM: people's signing certificates, and each
//! organization's own CA and platform seal, created together on first use.
//!
//! A key generated for a row that is then not committed would be an orphan in the token:
//! every key made here is recorded in a [`NewKeys`] and destroyed if the caller's
//! transaction does not commit.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use der::Encode;
use gsign_core::certificates::{escape_dn_value, CA_VALIDITY_DAYS};
use gsign_platform::hsm::{HsmError, HsmHandle};
use gsign_platform::hsm_keys::{default_scheme, HsmKey, HsmSigner, KeySpec, Scheme};
use gsign_signing::x509::{self, common_name, Issuer, Profile, Subject};
use uuid::Uuid;
use x509_cert::Certificate as X509;

use crate::error::CertificatesError;
use crate::service::pki::Pki;
use crate::service::stored::{issuing_key, IssuingKey};
use crate::store::{self, Certificate, Issued, NewRow};
use gsign_core::certificates::{CertificatePurpose, CertificateType, KeyFamily};

/// The seal certificate's validity (renewed by creating a new one before it ends).
pub const SEAL_VALIDITY_DAYS: u32 = 1095;

const DAY: Duration = Duration::from_secs(86_400);

/// Keys generated during one request, destroyed unless the request commits.
pub struct NewKeys<'h> {
    hsm: &'h HsmHandle,
    ids: Vec<Vec<u8>>,
}

impl<'h> NewKeys<'h> {
    /// No keys yet.
    pub fn new(hsm: &'h HsmHandle) -> Self {
        Self {
            hsm,
            ids: Vec::new(),
        }
    }

    /// Generates a key pair of `spec` in the HSM.
    #[tracing::instrument(skip_all)]
    pub async fn generate(&mut self, spec: KeySpec, label: String) -> Result<HsmKey, HsmError> {
        let key = self
            .hsm
            .run(move |hsm| hsm.generate_signing_key(spec, &label))
            .await?;
        self.ids.push(key.id.clone());
        Ok(key)
    }

    /// The transaction committed: the keys stay.
    pub fn keep(mut self) {
        self.ids.clear();
    }

    /// The request failed: destroys the keys it made (best effort, logged).
    #[tracing::instrument(skip_all)]
    pub async fn discard(self) {
        for id in self.ids {
            if let Err(err) = self.hsm.run(move |hsm| hsm.destroy_key(&id)).await {
                tracing::warn!(error = %err, "could not destroy an orphaned HSM key");
            }
        }
    }
}

/// Issues a certificate for `subject` in the HSM, signed by `issuer`'s key.
#[tracing::instrument(skip_all)]
pub async fn issue(
    hsm: &HsmHandle,
    subject: Subject,
    issuer: IssuingKey,
) -> Result<X509, CertificatesError> {
    let issued = hsm
        .run(move |hsm| {
            Ok(x509::issue(
                &subject,
                &Issuer {
                    certificate: issuer.certificate.as_ref(),
                    signer: &HsmSigner {
                        hsm,
                        key_id: issuer.key_id.clone(),
                        scheme: issuer.scheme,
                    },
                },
            ))
        })
        .await?;
    Ok(issued?)
}

/// A PKCS#10 request for `key`, signed in the HSM.
#[tracing::instrument(skip_all)]
pub async fn certificate_request(
    hsm: &HsmHandle,
    subject_dn: String,
    key: &HsmKey,
    scheme: Scheme,
) -> Result<String, CertificatesError> {
    let (key_id, spki) = (key.id.clone(), key.spki_der.clone());
    let request = hsm
        .run(move |hsm| {
            Ok(x509::certificate_request(
                &subject_dn,
                &spki,
                &HsmSigner {
                    hsm,
                    key_id,
                    scheme,
                },
            ))
        })
        .await?;
    Ok(request?)
}

/// 16 random bytes for a serial number (RFC 5280 allows up to 20).
pub fn serial() -> Vec<u8> {
    Uuid::new_v4().as_bytes().to_vec()
}

/// A subject valid from a minute ago (clock skew) for `days`; `crl_url` is its issuer's CRL
/// distribution point (`None` for a self-signed certificate).
pub fn subject(
    name: String,
    spki_der: Vec<u8>,
    days: u32,
    profile: Profile,
    crl_url: Option<String>,
) -> Subject {
    let now = SystemTime::now();
    Subject {
        name,
        spki_der,
        serial: serial(),
        not_before: now - Duration::from_secs(60),
        not_after: now + DAY * days,
        profile,
        crl_url,
    }
}

/// What a row records of an issued certificate.
pub fn issued(certificate: &X509, chain: &[X509]) -> Result<Issued, CertificatesError> {
    let tbs = &certificate.tbs_certificate;
    Ok(Issued {
        der: certificate
            .to_der()
            .map_err(gsign_signing::SignError::from)?,
        chain: chain
            .iter()
            .map(|c| c.to_der())
            .collect::<Result<_, _>>()
            .map_err(gsign_signing::SignError::from)?,
        serial_number: hex::encode(tbs.serial_number.as_bytes()),
        subject_cn: common_name(&tbs.subject),
        issuer_cn: common_name(&tbs.issuer),
        valid_from: DateTime::<Utc>::from(tbs.validity.not_before.to_system_time()),
        valid_to: DateTime::<Utc>::from(tbs.validity.not_after.to_system_time()),
    })
}

/// The organization's CA and seal certificates, created in `tx` on first use. The caller
/// holds the organization's row lock (see [`store::lock_organization`]), so two first uses
/// cannot both create them.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn ensure_authorities(
    tx: &(impl gsign_platform::database::Session + ?Sized),
    keys: &mut NewKeys<'_>,
    pki: &Pki,
    org: Uuid,
    org_name: &str,
) -> Result<(Certificate, Certificate), CertificatesError> {
    let org_dn = escape_dn_value(org_name);
    let ca = match store::authority(tx, org, CertificatePurpose::Ca).await? {
        Some(ca) => ca,
        None => create_ca(tx, keys, pki, org, &org_dn).await?,
    };
    let seal = match store::authority(tx, org, CertificatePurpose::Seal).await? {
        Some(seal) => seal,
        None => create_seal(tx, keys, pki, org, &org_dn, &ca).await?,
    };
    Ok((ca, seal))
}

/// The organization's CA (`org_dn` is its escaped name), self-signed, and its first CRL.
#[tracing::instrument(skip_all)]
async fn create_ca(
    tx: &(impl gsign_platform::database::Session + ?Sized),
    keys: &mut NewKeys<'_>,
    pki: &Pki,
    org: Uuid,
    org_dn: &str,
) -> Result<Certificate, CertificatesError> {
    let spec = KeySpec::Rsa3072;
    let key = keys.generate(spec, format!("gsign-ca-{org}")).await?;
    let certificate = issue(
        keys.hsm,
        subject(
            format!("CN={org_dn} Signing CA,O={org_dn}"),
            key.spki_der.clone(),
            CA_VALIDITY_DAYS,
            Profile::Ca,
            None,
        ),
        IssuingKey {
            key_id: key.id.clone(),
            scheme: default_scheme(spec),
            certificate: None,
        },
    )
    .await?;
    let row = authority_row(
        org,
        CertificatePurpose::Ca,
        "Organization CA",
        &key,
        spec,
        &certificate,
        &[],
    )?;
    let ca = store::insert(tx, &row).await?;
    // The distribution point its certificates name answers from the start.
    crate::service::revocation::refresh(tx, keys.hsm, pki, &ca).await?;
    Ok(ca)
}

/// The organization's platform seal (`org_dn` is its escaped name), issued by its `ca`.
#[tracing::instrument(skip_all)]
async fn create_seal(
    tx: &(impl gsign_platform::database::Session + ?Sized),
    keys: &mut NewKeys<'_>,
    pki: &Pki,
    org: Uuid,
    org_dn: &str,
    ca: &Certificate,
) -> Result<Certificate, CertificatesError> {
    let spec = KeySpec::Rsa3072;
    let key = keys.generate(spec, format!("gsign-seal-{org}")).await?;
    let issuer = issuing_key(ca)?;
    let ca_certificate = issuer.certificate.clone();
    let certificate = issue(
        keys.hsm,
        subject(
            format!("CN={org_dn} (GSign seal),O={org_dn}"),
            key.spki_der.clone(),
            SEAL_VALIDITY_DAYS,
            Profile::DocumentSigner,
            Some(pki.crl_url(ca.id)),
        ),
        issuer,
    )
    .await?;
    let chain: Vec<X509> = ca_certificate.into_iter().collect();
    let row = authority_row(
        org,
        CertificatePurpose::Seal,
        "Platform seal",
        &key,
        spec,
        &certificate,
        &chain,
    )?;
    Ok(store::insert(tx, &row).await?)
}

fn authority_row(
    org: Uuid,
    purpose: CertificatePurpose,
    label: &str,
    key: &HsmKey,
    spec: KeySpec,
    certificate: &X509,
    chain: &[X509],
) -> Result<NewRow, CertificatesError> {
    let (key_type, key_size) = stored_key(spec);
    Ok(NewRow {
        id: Uuid::new_v4(),
        organization_id: org,
        user_id: None,
        purpose,
        label: label.to_owned(),
        cert_type: CertificateType::Corporate,
        subject_dn: certificate.tbs_certificate.subject.to_string(),
        key_type,
        key_size,
        signature_scheme: default_scheme(spec),
        hsm_key_id: hex::encode(&key.id),
        public_key: key.spki_der.clone(),
        issued: Some(issued(certificate, chain)?),
        csr_pem: None,
    })
}

/// The stored `key_type` and `key_size` of a key spec.
pub fn stored_key(spec: KeySpec) -> (KeyFamily, i32) {
    match spec {
        KeySpec::Rsa2048 => (KeyFamily::Rsa, 2048),
        KeySpec::Rsa3072 => (KeyFamily::Rsa, 3072),
        KeySpec::EcP256 => (KeyFamily::Ec, 256),
    }
}
