//! The revocation status of each organization CA, as CRLs (see `gsign_signing::crl` for why
//! CRLs): the next CRL is signed in the HSM by the CA's key, recorded as the CA's current one,
//! and published to the PKI bucket at `pki/crls/{ca}.crl`, the URL every certificate the CA
//! issues names (`{PKI_URL}/crls/{ca}.crl`; CloudFront in AWS, the runner locally).
//!
//! A CRL is issued at every revocation (so it shows at once), at every completion that
//! embeds one in a document (B-LT: issued after the signatures it speaks for), and by
//! `schedule-publish-crls` well before the current one's nextUpdate, or when an earlier
//! publication failed.

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use der::Encode;
use gsign_platform::database::Session;
use gsign_platform::hsm::HsmHandle;
use gsign_platform::hsm_keys::HsmSigner;
use gsign_signing::crl::{self, CrlContents, Revocation};

use crate::error::CertificatesError;
use crate::service::pki::Pki;
use crate::service::stored::issuing_key;
use crate::store::{self, Certificate};
use gsign_core::certificates::CertificatePurpose;

/// How long a CRL speaks for (nextUpdate - thisUpdate).
pub const CRL_VALIDITY: chrono::Duration = chrono::Duration::days(7);

/// A CRL older than this is replaced by the schedule, days before its nextUpdate.
pub const CRL_REFRESH: chrono::Duration = chrono::Duration::days(1);

/// Every unexpired certificate the CA `ca` issued that is revoked.
#[tracing::instrument(skip_all)]
async fn revoked_under(
    db: &(impl Session + ?Sized),
    ca: &Certificate,
) -> Result<Vec<Revocation>, CertificatesError> {
    let Some(ca_der) = &ca.certificate else {
        return Ok(Vec::new());
    };
    store::revoked_under(db, ca.organization_id, ca_der)
        .await?
        .into_iter()
        .map(|store::RevokedEntry { serial, at, reason }| {
            Ok(Revocation {
                serial: hex::decode(&serial)
                    .map_err(|e| anyhow::anyhow!("stored serial {serial:?}: {e}"))?,
                at: at.into(),
                reason: reason.as_deref().and_then(crl::reason_from_name),
            })
        })
        .collect()
}

/// Issues the next CRL of the CA `ca` in the HSM and records it as the CA's current one
/// (unless a newer one was recorded meanwhile); the DER. Its number comes from a sequence, so
/// no two CRLs of a CA share one whatever the transactions around this do. Publishing it is
/// the caller's next step ([`refresh`] does both).
#[tracing::instrument(skip_all)]
pub async fn issue(
    db: &(impl Session + ?Sized),
    hsm: &HsmHandle,
    ca: &Certificate,
) -> Result<Vec<u8>, CertificatesError> {
    let number = store::next_crl_number(db).await?;
    let revoked = revoked_under(db, ca).await?;
    let key = issuing_key(ca)?;
    let issuer = key
        .certificate
        .clone()
        .ok_or_else(|| anyhow::anyhow!("the CA {} has no certificate", ca.id))?;
    let this_update = SystemTime::now();
    let contents = CrlContents {
        number: u64::try_from(number).unwrap_or(1),
        this_update,
        next_update: this_update + CRL_VALIDITY.to_std().unwrap_or_default(),
        revoked,
    };
    let der = hsm
        .run(move |hsm| {
            Ok(crl::issue_crl(
                &issuer,
                &HsmSigner {
                    hsm,
                    key_id: key.key_id.clone(),
                    scheme: key.scheme,
                },
                &contents,
            )
            .and_then(|list| Ok(list.to_der()?)))
        })
        .await??;
    let parsed = crl::parse(&der)?;
    let this_update: DateTime<Utc> = parsed.tbs_cert_list.this_update.to_system_time().into();
    let next_update: DateTime<Utc> = parsed
        .tbs_cert_list
        .next_update
        .map(|t| t.to_system_time().into())
        .unwrap_or(this_update + CRL_VALIDITY);
    store::record_crl(
        db,
        &store::NewCrl {
            authority: ca.id,
            organization: ca.organization_id,
            number,
            this_update,
            next_update,
            der: &der,
        },
    )
    .await?;
    Ok(der)
}

/// Issues the next CRL of `ca` and publishes it; the DER. A failed publication leaves the
/// CRL recorded and unpublished, for the schedule to publish.
#[tracing::instrument(skip_all)]
pub async fn refresh(
    db: &(impl Session + ?Sized),
    hsm: &HsmHandle,
    pki: &Pki,
    ca: &Certificate,
) -> Result<Vec<u8>, CertificatesError> {
    let der = issue(db, hsm, ca).await?;
    pki.publish(ca.id, &der).await?;
    store::crl_published(db, ca.id, &der).await?;
    Ok(der)
}

/// The CA that issued `certificate` (a row of its organization), if it is the organization's.
#[tracing::instrument(skip_all)]
pub async fn issuing_authority(
    db: &(impl Session + ?Sized),
    certificate: &Certificate,
) -> Result<Option<Certificate>, CertificatesError> {
    let Some(issuer_der) = certificate.chain.first() else {
        return Ok(None);
    };
    let ca = store::authority(db, certificate.organization_id, CertificatePurpose::Ca).await?;
    Ok(ca.filter(|ca| ca.certificate.as_ref() == Some(issuer_der)))
}
