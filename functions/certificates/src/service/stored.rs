//! A certificate row's stored key and chain, decoded: what issuing under a CA, signing a CRL
//! and sealing with the organization's seal start from.

use gsign_platform::hsm_keys::Scheme;
use x509_cert::Certificate as X509;

use crate::error::CertificatesError;
use crate::store::Certificate;

/// An HSM key that signs, and its certificate (for issuing under it).
pub struct IssuingKey {
    /// `CKA_ID`.
    pub key_id: Vec<u8>,
    /// How it signs.
    pub scheme: Scheme,
    /// Its certificate; `None` for a self-signed issuance.
    pub certificate: Option<X509>,
}

/// The certificate and chain stored in a row, decoded.
pub fn stored_chain(row: &Certificate) -> Result<Vec<X509>, CertificatesError> {
    use der::Decode;
    let mut all = Vec::new();
    if let Some(der) = &row.certificate {
        all.push(X509::from_der(der).map_err(gsign_signing::SignError::from)?);
    }
    for der in &row.chain {
        all.push(X509::from_der(der).map_err(gsign_signing::SignError::from)?);
    }
    Ok(all)
}

/// The issuing key of a stored authority row.
pub fn issuing_key(row: &Certificate) -> Result<IssuingKey, CertificatesError> {
    Ok(IssuingKey {
        key_id: hex::decode(&row.hsm_key_id)
            .map_err(|e| anyhow::anyhow!("stored HSM key id: {e}"))?,
        scheme: row.signature_scheme,
        certificate: stored_chain(row)?.into_iter().next(),
    })
}
