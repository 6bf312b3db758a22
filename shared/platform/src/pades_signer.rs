//! One signer's PAdES revision, end to end: the incremental update with their field values,
//! the signature in the HSM, and (for B-T) an RFC 3161 timestamp from the configured TSA. What
//! the envelope's signing worker and the completion seal call.
//!
//! A timestamp is never made up: when the level asks for B-T and the TSA is unreachable,
//! slow, or answers anything but a valid token for our signature, signing fails with
//! [`RevisionError::Timestamp`]. Only an envelope that allows B-B signs without one.

use std::time::Duration;

use der::Encode;
use gsign_signing::cms::{assemble, signed_attributes};
use gsign_signing::form::FieldFill;
use gsign_signing::pades::{self, SignatureInfo};
use gsign_signing::{tsa, Scheme, SignError};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;

use crate::hsm::{Hsm, HsmError};

/// Bytes reserved for a B-B CMS (chain of two or three certificates).
const RESERVE_B_B: usize = 8 * 1024;
/// Bytes reserved when a timestamp token (with the TSA's chain) joins it.
const RESERVE_B_T: usize = 16 * 1024;

/// The PAdES baseline level of a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// No timestamp: the envelope explicitly allows it.
    BB,
    /// With a trusted timestamp over the signature value.
    BT,
}

/// The key that signs and the certificate chain that names it (signer first).
pub struct SigningKey<'a> {
    /// The open token.
    pub hsm: &'a Hsm,
    /// The private key's `CKA_ID`.
    pub key_id: Vec<u8>,
    /// The algorithm, a property of the certificate.
    pub scheme: Scheme,
    /// Signer certificate, then its issuers.
    pub chain: Vec<Certificate>,
}

/// Why a revision could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum RevisionError {
    /// The document or a field value is unusable (a clear failure for the caller to report).
    #[error("{0}")]
    Document(String),
    /// The HSM refused or failed.
    #[error("HSM: {0}")]
    Hsm(#[from] HsmError),
    /// B-T was required and no valid timestamp could be had.
    #[error("timestamp: {0}")]
    Timestamp(String),
    /// B-LT was required and a certificate's revocation data could not be had.
    #[error("revocation data: {0}")]
    Revocation(String),
}

impl From<SignError> for RevisionError {
    fn from(err: SignError) -> Self {
        Self::Document(err.to_string())
    }
}

/// An RFC 3161 client for one TSA or several in order of preference, built once per
/// container.
#[derive(Clone)]
pub struct TsaClient {
    /// The authorities, asked in this order: a failure moves on to the next.
    urls: Vec<url::Url>,
    http: reqwest::Client,
}

impl TsaClient {
    /// A client for `url` whose every request gives up after `timeout`.
    pub fn new(url: url::Url, timeout: Duration) -> Result<Self, RevisionError> {
        Self::with_fallbacks(vec![url], timeout)
    }

    /// A client for several authorities, asked in order: when one fails (unreachable, an
    /// error status, a token that does not check), the next is asked, and the failure is
    /// logged. At least one URL.
    pub fn with_fallbacks(urls: Vec<url::Url>, timeout: Duration) -> Result<Self, RevisionError> {
        if urls.is_empty() {
            return Err(RevisionError::Timestamp("no TSA URL".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| RevisionError::Timestamp(format!("client: {e}")))?;
        Ok(Self { urls, http })
    }

    /// A checked token (imprint and nonce match) for the SHA-256 `imprint`, from the first
    /// authority that gives one; when none does, every authority's failure, in order.
    pub async fn stamp(&self, imprint: &[u8; 32]) -> Result<Vec<u8>, RevisionError> {
        let mut failures = Vec::new();
        for (at, url) in self.urls.iter().enumerate() {
            match self.stamp_at(url, imprint).await {
                Ok(token) => return Ok(token),
                Err(err) => {
                    if at + 1 < self.urls.len() {
                        tracing::warn!(tsa = %url, error = %err, "timestamp authority failed; asking the next");
                    }
                    failures.push(match err {
                        RevisionError::Timestamp(detail) => detail,
                        other => other.to_string(),
                    });
                }
            }
        }
        Err(RevisionError::Timestamp(failures.join("; then ")))
    }

    /// A document timestamp (PAdES B-LTA) over `pdf` as a new field `field_name`: the new
    /// file, `pdf` followed by one incremental update.
    pub async fn timestamp_document(
        &self,
        pdf: &[u8],
        field_name: &str,
    ) -> Result<Vec<u8>, RevisionError> {
        let mut reserve = RESERVE_B_T;
        for _ in 0..2 {
            let pending = pades::begin_document_timestamp(pdf, field_name, reserve)?;
            let token = self.stamp(&pending.digest()).await?;
            if token.len() <= pending.capacity() {
                return Ok(pending.finish(&token)?);
            }
            reserve = token.len() + 4096;
        }
        Err(RevisionError::Document(
            "the document timestamp does not fit its reserved space".into(),
        ))
    }

    async fn stamp_at(&self, url: &url::Url, imprint: &[u8; 32]) -> Result<Vec<u8>, RevisionError> {
        let failed = |detail: String| RevisionError::Timestamp(detail);
        let nonce: u64 = rand::random();
        let request = tsa::request(imprint, nonce).map_err(|e| failed(e.to_string()))?;
        let response = self
            .http
            .post(url.clone())
            .header(http::header::CONTENT_TYPE, tsa::REQUEST_CONTENT_TYPE)
            .body(request)
            .send()
            .await
            .map_err(|e| failed(format!("{url} is unreachable: {e}")))?;
        if !response.status().is_success() {
            return Err(failed(format!("{url} answered {}", response.status())));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| failed(format!("reading the answer: {e}")))?;
        tsa::token(&body, imprint, nonce).map_err(|e| failed(format!("{url}: {e}")))
    }
}

/// Fetches the revocation data certificates point to (their CRL distribution points), for
/// the document security store; built once per container.
#[derive(Clone)]
pub struct RevocationFetcher {
    http: reqwest::Client,
}

/// The largest CRL fetched (a CA revoking on a national scale publishes a few MB).
const MAX_CRL_BYTES: usize = 20 << 20;

impl RevocationFetcher {
    /// A fetcher whose every request gives up after `timeout`. Redirects are not followed: a
    /// distribution point names where its CRL is.
    pub fn new(timeout: Duration) -> Result<Self, RevisionError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| RevisionError::Revocation(format!("client: {e}")))?;
        Ok(Self { http })
    }

    /// The DER CRL at `url` (checking it is the issuer's is the caller's part).
    pub async fn crl(&self, url: &str) -> Result<Vec<u8>, RevisionError> {
        let failed = |detail: String| RevisionError::Revocation(detail);
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| failed(format!("{url} is unreachable: {e}")))?;
        if !response.status().is_success() {
            return Err(failed(format!("{url} answered {}", response.status())));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_CRL_BYTES as u64)
        {
            return Err(failed(format!(
                "{url}: the CRL is over {MAX_CRL_BYTES} bytes"
            )));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| failed(format!("reading {url}: {e}")))?;
        if body.len() > MAX_CRL_BYTES {
            return Err(failed(format!(
                "{url}: the CRL is over {MAX_CRL_BYTES} bytes"
            )));
        }
        Ok(body.to_vec())
    }
}

/// Signs `pdf` for one signer: fills `fills`, signs the field `info.field_name` in the HSM,
/// and timestamps the signature when `level` is B-T (through `tsa`, which must then be
/// configured). Returns the new file: the input's bytes followed by one incremental update.
pub async fn sign_revision(
    pdf: &[u8],
    info: &SignatureInfo,
    fills: &[FieldFill],
    key: &SigningKey<'_>,
    level: Level,
    tsa: Option<&TsaClient>,
) -> Result<Vec<u8>, RevisionError> {
    let tsa = match (level, tsa) {
        (Level::BT, None) => {
            return Err(RevisionError::Timestamp(
                "B-T is required and no TSA is configured".into(),
            ))
        }
        (Level::BT, Some(tsa)) => Some(tsa),
        (Level::BB, _) => None,
    };
    let mut reserve = if tsa.is_some() {
        RESERVE_B_T
    } else {
        RESERVE_B_B
    };
    // A CMS larger than the reserve (a long chain, a TSA with a big chain) gets one retry
    // with room to spare; the digest changes with the reserve, so everything is redone.
    for _ in 0..2 {
        let pending = pades::begin(pdf, info, fills, reserve)?;
        let signer_cert = key
            .chain
            .first()
            .ok_or_else(|| RevisionError::Document("no signer certificate".into()))?;
        let attributes = signed_attributes(&pending.digest(), signer_cert)?;
        let signature = key.hsm.sign(
            &key.key_id,
            key.scheme,
            &attributes.to_der().map_err(SignError::from)?,
        )?;
        let token = match tsa {
            Some(tsa) => Some(tsa.stamp(&Sha256::digest(&signature).into()).await?),
            None => None,
        };
        let cms = assemble(
            attributes,
            signature,
            key.scheme,
            &key.chain,
            token.as_deref(),
        )?;
        if cms.len() <= pending.capacity() {
            return Ok(pending.finish(&cms)?);
        }
        reserve = cms.len() + 4096;
    }
    Err(RevisionError::Document(
        "the signature does not fit its reserved space".into(),
    ))
}
