//! The CMS `SignedData` of a PAdES signature (ETSI EN 319 142-1, `ETSI.CAdES.detached`;
//! RFC 5652): detached (no eContent), signed attributes content-type, message-digest and ESS
//! signing-certificate-v2 (RFC 5035), and deliberately no signing-time (PAdES puts the claimed
//! time in the signature dictionary's `/M`).

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, Encode};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;
use x509_cert::Certificate;

use crate::algorithm::{RawSigner, SignError, SHA256};

/// `id-data`.
pub const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
/// `id-signedData`.
pub const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// `id-contentType`.
pub const CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
/// `id-messageDigest`.
pub const MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
/// `id-aa-signingCertificateV2` (RFC 5035).
pub const SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");

/// `ESSCertIDv2` with `hashAlgorithm` at its DEFAULT (SHA-256) and no `issuerSerial`.
#[derive(der::Sequence)]
struct EssCertIdV2 {
    cert_hash: OctetString,
}

/// `SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2 }`.
#[derive(der::Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, SignError> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value])?,
    })
}

fn sha256_algorithm() -> AlgorithmIdentifierOwned {
    // RFC 5754 section 2: the parameters are absent.
    AlgorithmIdentifierOwned {
        oid: SHA256,
        parameters: None,
    }
}

/// `id-aa-timeStampToken` (RFC 3161 appendix A): the unsigned attribute of PAdES B-T.
pub const TIME_STAMP_TOKEN: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");

/// The signed attributes over content whose SHA-256 is `digest`, for the signer whose
/// certificate is `signer_cert`. Their DER ([`SetOfVec::to_der`], tag SET OF) is what the key
/// signs (RFC 5652 5.4), not the `[0] IMPLICIT` form they take inside `SignerInfo`.
pub fn signed_attributes(
    digest: &[u8; 32],
    signer_cert: &Certificate,
) -> Result<SetOfVec<Attribute>, SignError> {
    let cert_hash = Sha256::digest(signer_cert.to_der()?);
    Ok(SetOfVec::try_from(vec![
        attribute(CONTENT_TYPE, Any::encode_from(&ID_DATA)?)?,
        attribute(
            MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(digest.to_vec())?)?,
        )?,
        attribute(
            SIGNING_CERTIFICATE_V2,
            Any::encode_from(&SigningCertificateV2 {
                certs: vec![EssCertIdV2 {
                    cert_hash: OctetString::new(cert_hash.to_vec())?,
                }],
            })?,
        )?,
    ])?)
}

/// Assembles the DER `ContentInfo(SignedData)` from the signed attributes, the signature over
/// them, and optionally an RFC 3161 timestamp token over that signature (PAdES B-T). `chain`
/// starts with the signer's certificate; all of it is included for validators.
pub fn assemble(
    signed_attrs: SetOfVec<Attribute>,
    signature: Vec<u8>,
    scheme: crate::Scheme,
    chain: &[Certificate],
    timestamp_token: Option<&[u8]>,
) -> Result<Vec<u8>, SignError> {
    let signer_cert = chain
        .first()
        .ok_or_else(|| SignError::Invalid("no signer certificate".to_owned()))?;
    let unsigned_attrs = match timestamp_token {
        Some(token) => Some(SetOfVec::try_from(vec![attribute(
            TIME_STAMP_TOKEN,
            Any::from_der(token)?,
        )?])?),
        None => None,
    };
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: signer_cert.tbs_certificate.issuer.clone(),
            serial_number: signer_cert.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: sha256_algorithm(),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: scheme.algorithm_identifier(),
        signature: OctetString::new(signature)?,
        unsigned_attrs,
    };
    let certificates = chain
        .iter()
        .cloned()
        .map(CertificateChoices::Certificate)
        .collect::<Vec<_>>();
    let signed_data = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![sha256_algorithm()])?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: None,
        },
        certificates: Some(CertificateSet(SetOfVec::try_from(certificates)?)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info])?),
    };
    Ok(ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&signed_data)?,
    }
    .to_der()?)
}

/// A DER `ContentInfo(SignedData)` over content whose SHA-256 is `digest`, signed by `signer`
/// whose certificate is `chain[0]`, without a timestamp (PAdES B-B).
pub fn detached_signed_data(
    digest: &[u8; 32],
    chain: &[Certificate],
    signer: &dyn RawSigner,
) -> Result<Vec<u8>, SignError> {
    let signer_cert = chain
        .first()
        .ok_or_else(|| SignError::Invalid("no signer certificate".to_owned()))?;
    let attrs = signed_attributes(digest, signer_cert)?;
    let signature = signer.sign(&attrs.to_der()?)?;
    assemble(attrs, signature, signer.scheme(), chain, None)
}
