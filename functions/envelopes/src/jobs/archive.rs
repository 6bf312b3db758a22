//! B-LT and B-LTA at completion (ETSI EN 319 142-1): after the seal, one revision with a
//! document security store holding every certificate and CRL that every signature and
//! timestamp of the document needs, then (B-LTA) a document timestamp over it. The
//! organization CA's CRL is issued now, in the HSM, so it speaks for every signature before
//! it; other authorities' CRLs (the TSA's) are fetched from their distribution points.
//!
//! A CRL or timestamp that cannot be had fails the step (retried, and recorded on the
//! envelope like a TSA failure): the envelope never completes below the level it asked for.

use chrono::{DateTime, Utc};
use gsign_platform::pades_signer::{RevisionError, RevocationFetcher};
use gsign_signing::chain::issued_by;
use gsign_signing::crl;
use gsign_signing::ltv::{self, is_self_issued, ValidationData};
use uuid::Uuid;
use x509_cert::Certificate;

use crate::jobs::worker::{Archival, Failure, SigningWorker};

/// `pdf` and its signatures and document timestamps, read on a blocking thread (a parse of
/// the whole file); a file that does not parse is a permanent failure about `what`.
#[tracing::instrument(skip_all)]
pub(crate) async fn signatures_of(
    pdf: Vec<u8>,
    what: &str,
) -> Result<(Vec<u8>, Vec<ltv::EmbeddedSignature>), Failure> {
    let (pdf, signatures) = tokio::task::spawn_blocking(move || {
        let signatures = ltv::embedded_signatures(&pdf);
        (pdf, signatures)
    })
    .await
    .map_err(anyhow::Error::from)?;
    let signatures = signatures.map_err(|e| Failure::Permanent(format!("{what}: {e}")))?;
    Ok((pdf, signatures))
}

/// When the archive timestamp of `pdf` must be renewed by (`None`: it has none).
#[tracing::instrument(skip_all)]
pub(crate) async fn archive_expiry_of(pdf: &[u8]) -> Result<Option<DateTime<Utc>>, Failure> {
    let (_, signatures) = signatures_of(pdf.to_vec(), "the final document").await?;
    Ok(ltv::archive_expiry(&signatures).map(DateTime::<Utc>::from))
}

/// The name of the `n`th document timestamp field (1-based).
pub(crate) fn archive_field_name(n: usize) -> String {
    format!("GSign archive timestamp {n}")
}

impl SigningWorker {
    /// `pdf` (sealed) with the validation data, and for B-LTA a document timestamp, that
    /// `archival` asks for; in `client`'s transaction (the organization CA's CRL is
    /// recorded there).
    #[tracing::instrument(skip_all, fields(org = %org))]
    pub(crate) async fn archive(
        &self,
        client: &(impl gsign_platform::database::Session + ?Sized),
        org: Uuid,
        pdf: Vec<u8>,
        archival: Archival,
    ) -> Result<Vec<u8>, Failure> {
        if archival == Archival::None {
            return Ok(pdf);
        }
        let (pdf, signatures) = signatures_of(pdf, "the sealed document").await?;
        let data = self.validation_data(client, org, &signatures).await?;
        let (with_dss, timestamps) = tokio::task::spawn_blocking(move || {
            let timestamps = signatures.iter().filter(|s| s.document_timestamp).count();
            (ltv::add_dss(&pdf, &signatures, &data), timestamps)
        })
        .await
        .map_err(anyhow::Error::from)?;
        let with_dss =
            with_dss.map_err(|e| Failure::Permanent(format!("the validation data: {e}")))?;
        if archival == Archival::ValidationData {
            return Ok(with_dss);
        }
        let tsa = self.tsa.as_ref().ok_or_else(|| {
            Failure::Retry(anyhow::Error::from(RevisionError::Timestamp(
                "B-LTA is required and no TSA is configured".into(),
            )))
        })?;
        tsa.timestamp_document(&with_dss, &archive_field_name(timestamps + 1))
            .await
            .map_err(|err| match err {
                RevisionError::Document(reason) => {
                    Failure::Permanent(format!("the document timestamp: {reason}"))
                }
                other => Failure::Retry(other.into()),
            })
    }

    /// The validation data of `signatures`, the organization CA's CRL issued now (in the HSM,
    /// recorded in `client`'s transaction and published).
    #[tracing::instrument(skip_all, fields(org = %org))]
    async fn validation_data(
        &self,
        client: &(impl gsign_platform::database::Session + ?Sized),
        org: Uuid,
        signatures: &[ltv::EmbeddedSignature],
    ) -> Result<ValidationData, Failure> {
        let own = self.seals.ca_with_fresh_crl(client, org).await?;
        validation_data(signatures, own.as_ref(), &self.revocation).await
    }
}

/// Every certificate of `signatures` with the issuers that complete its path, and for each
/// certificate below a root the CRL of its issuer: `own` (the organization CA and its fresh
/// CRL) for the certificates it issued, else fetched from the certificate's distribution
/// points.
#[tracing::instrument(skip_all)]
pub(crate) async fn validation_data(
    signatures: &[ltv::EmbeddedSignature],
    own: Option<&(Certificate, Vec<u8>)>,
    fetcher: &RevocationFetcher,
) -> Result<ValidationData, Failure> {
    let mut data = ValidationData::default();
    let mut pool: Vec<Certificate> = signatures
        .iter()
        .flat_map(|s| s.certificates.iter().cloned())
        .collect();
    pool.extend(own.map(|(ca, _)| ca.clone()));
    for certificate in &pool {
        data.add_certificate(certificate);
    }
    let mut index = 0;
    while index < data.certificates.len() {
        let certificate = data.certificates[index].clone();
        index += 1;
        if is_self_issued(&certificate) {
            continue;
        }
        let Some(issuer) = pool
            .iter()
            .find(|c| issued_by(&certificate, c).is_ok())
            .cloned()
        else {
            return Err(Failure::Permanent(format!(
                "the issuer of {} is in no signature of the document",
                certificate.tbs_certificate.subject
            )));
        };
        data.add_certificate(&issuer);
        match own {
            Some((ca, crl)) if *ca == issuer => data.add_crl(crl.clone()),
            _ => data.add_crl(fetched_crl(fetcher, &certificate, &issuer).await?),
        }
    }
    Ok(data)
}

/// The CRL of `issuer` covering `certificate`, from the first of its distribution points
/// that gives one `issuer` signed.
#[tracing::instrument(skip_all)]
async fn fetched_crl(
    fetcher: &RevocationFetcher,
    certificate: &Certificate,
    issuer: &Certificate,
) -> Result<Vec<u8>, Failure> {
    let urls = crl::distribution_urls(certificate);
    if urls.is_empty() {
        return Err(Failure::Permanent(format!(
            "{} names no CRL distribution point: its revocation status cannot be \
                 embedded (choose the level b_t for such a chain)",
            certificate.tbs_certificate.subject
        )));
    }
    let mut failures = Vec::new();
    for url in &urls {
        match fetcher.crl(url).await {
            Ok(der) => match crl::parse(&der) {
                Ok(list) if crl::check_issued_by(&list, issuer).is_ok() => return Ok(der),
                Ok(_) => failures.push(format!("{url}: not a CRL of the issuer")),
                Err(e) => failures.push(format!("{url}: {e}")),
            },
            Err(e) => failures.push(e.to_string()),
        }
    }
    Err(Failure::Retry(anyhow::Error::from(
        RevisionError::Revocation(failures.join("; then ")),
    )))
}
