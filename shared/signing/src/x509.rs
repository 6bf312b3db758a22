//! X.509 certificates issued by keys that never leave the HSM (RFC 5280): the organization's
//! CA certificate (self-signed) and the signing certificates that CA issues. The TBS structure
//! is built here, its DER is signed by a [`RawSigner`], and the result assembled.

use std::str::FromStr;
use std::time::{Duration, SystemTime};

use const_oid::AssociatedOid;
use der::asn1::{BitString, GeneralizedTime, Ia5String, OctetString, UtcTime};
use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::certificate::{Certificate, TbsCertificate, Version};
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CrlDistributionPoints, ExtendedKeyUsage, KeyUsage,
    KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use crate::algorithm::{RawSigner, SignError};

/// `id-kp-timeStamping` (RFC 5280), for a TSA's certificate.
pub const TIME_STAMPING: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");

/// What a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// A CA: signs certificates and CRLs (basicConstraints cA, pathLen 0).
    Ca,
    /// A document signer: digitalSignature + nonRepudiation (contentCommitment).
    DocumentSigner,
    /// A time-stamping authority: digitalSignature, critical EKU timeStamping (RFC 3161).
    TimeStamping,
}

/// The subject side of a certificate to issue.
#[derive(Debug, Clone)]
pub struct Subject {
    /// Distinguished name, RFC 4514 text, e.g. `CN=Батбаяр Өлзий,O=Говь Трейд ХХК`.
    pub name: String,
    /// The subject's public key (DER SubjectPublicKeyInfo), e.g. from the HSM.
    pub spki_der: Vec<u8>,
    /// Serial number bytes (positive; 16 random bytes recommended).
    pub serial: Vec<u8>,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
    /// Purpose.
    pub profile: Profile,
    /// Where the issuer publishes its CRL (the CRL distribution point), for a certificate
    /// issued by a CA that publishes one; `None` for a root or an unpublished issuer.
    pub crl_url: Option<String>,
}

/// The issuer: its certificate (for a CA-issued one) and its signer.
pub struct Issuer<'a> {
    /// `None` for a self-signed certificate.
    pub certificate: Option<&'a Certificate>,
    /// The issuer's key.
    pub signer: &'a dyn RawSigner,
}

/// RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
pub(crate) fn x509_time(t: SystemTime) -> Result<Time, SignError> {
    let year_2050 = SystemTime::UNIX_EPOCH + Duration::from_secs(2_524_608_000);
    Ok(if t < year_2050 {
        Time::UtcTime(UtcTime::from_system_time(t)?)
    } else {
        Time::GeneralTime(GeneralizedTime::from_system_time(t)?)
    })
}

/// A key identifier: the first 160 bits of the SHA-256 of the subjectPublicKey bits
/// (RFC 7093 section 2, method 1).
pub fn key_identifier(spki: &SubjectPublicKeyInfoOwned) -> Vec<u8> {
    Sha256::digest(spki.subject_public_key.raw_bytes())[..20].to_vec()
}

pub(crate) fn extension<T: AssociatedOid + Encode>(
    value: &T,
    critical: bool,
) -> Result<Extension, SignError> {
    Ok(Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

/// Issues a certificate for `subject`, signed by `issuer` (or self-signed).
pub fn issue(subject: &Subject, issuer: &Issuer<'_>) -> Result<Certificate, SignError> {
    let spki = SubjectPublicKeyInfoOwned::from_der(&subject.spki_der)?;
    let subject_name = Name::from_str(&subject.name)
        .map_err(|e| SignError::Invalid(format!("subject name {:?}: {e}", subject.name)))?;
    let (issuer_name, issuer_key_id) = match issuer.certificate {
        Some(cert) => (
            cert.tbs_certificate.subject.clone(),
            key_identifier(&cert.tbs_certificate.subject_public_key_info),
        ),
        None => (subject_name.clone(), key_identifier(&spki)),
    };
    if subject.serial.is_empty() || subject.serial.len() > 20 {
        return Err(SignError::Invalid(
            "serial must be 1 to 20 bytes".to_owned(),
        ));
    }
    // A positive INTEGER: clear the top bit rather than grow past 20 bytes.
    let mut serial = subject.serial.clone();
    serial[0] &= 0x7f;
    let mut extensions = vec![
        extension(
            &SubjectKeyIdentifier(OctetString::new(key_identifier(&spki))?),
            false,
        )?,
        extension(
            &AuthorityKeyIdentifier {
                key_identifier: Some(OctetString::new(issuer_key_id)?),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            },
            false,
        )?,
    ];
    match subject.profile {
        Profile::Ca => {
            extensions.push(extension(
                &BasicConstraints {
                    ca: true,
                    path_len_constraint: Some(0),
                },
                true,
            )?);
            extensions.push(extension(
                &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign),
                true,
            )?);
        }
        Profile::DocumentSigner => {
            extensions.push(extension(
                &BasicConstraints {
                    ca: false,
                    path_len_constraint: None,
                },
                true,
            )?);
            extensions.push(extension(
                &KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation),
                true,
            )?);
        }
        Profile::TimeStamping => {
            extensions.push(extension(
                &KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation),
                true,
            )?);
            extensions.push(extension(&ExtendedKeyUsage(vec![TIME_STAMPING]), true)?);
        }
    }
    if let Some(url) = &subject.crl_url {
        extensions.push(distribution_point(url)?);
    }
    let algorithm = issuer.signer.scheme().algorithm_identifier();
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&serial)?,
        signature: algorithm.clone(),
        issuer: issuer_name,
        validity: Validity {
            not_before: x509_time(subject.not_before)?,
            not_after: x509_time(subject.not_after)?,
        },
        subject: subject_name,
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    };
    let signature = issuer.signer.sign(&tbs.to_der()?)?;
    Ok(Certificate {
        tbs_certificate: tbs,
        signature_algorithm: algorithm,
        signature: BitString::from_bytes(&signature)?,
    })
}

/// PEM of a certificate.
pub fn to_pem(certificate: &Certificate) -> Result<String, SignError> {
    use der::EncodePem;
    Ok(certificate.to_pem(der::pem::LineEnding::LF)?)
}

/// A PKCS#10 certificate request (RFC 2986) for the key `spki_der` under `name` (RFC 4514
/// text), signed by that key, as PEM: what an external CA needs to issue its certificate.
pub fn certificate_request(
    name: &str,
    spki_der: &[u8],
    signer: &dyn RawSigner,
) -> Result<String, SignError> {
    use der::EncodePem;
    use x509_cert::request::{CertReq, CertReqInfo, Version as RequestVersion};
    let info = CertReqInfo {
        version: RequestVersion::V1,
        subject: Name::from_str(name)
            .map_err(|e| SignError::Invalid(format!("subject name {name:?}: {e}")))?,
        public_key: SubjectPublicKeyInfoOwned::from_der(spki_der)?,
        attributes: Default::default(),
    };
    let signature = signer.sign(&info.to_der()?)?;
    let request = CertReq {
        info,
        algorithm: signer.scheme().algorithm_identifier(),
        signature: BitString::from_bytes(&signature)?,
    };
    Ok(request.to_pem(der::pem::LineEnding::LF)?)
}

/// The certificates of a PEM bundle, in order.
pub fn parse_pem_bundle(pem: &str) -> Result<Vec<Certificate>, SignError> {
    // x509-cert 0.2.5's `load_pem_chain` underflows (a panic in debug builds) on text that is
    // empty once its trailing line breaks are cut: refuse that first.
    if pem.trim().is_empty() {
        return Err(SignError::Invalid(
            "no certificate in the PEM text".to_owned(),
        ));
    }
    let certificates = Certificate::load_pem_chain(pem.as_bytes())?;
    if certificates.is_empty() {
        return Err(SignError::Invalid(
            "no certificate in the PEM text".to_owned(),
        ));
    }
    Ok(certificates)
}

/// The first common name of a distinguished name, if any.
pub fn common_name(name: &Name) -> Option<String> {
    name.0.iter().flat_map(|rdn| rdn.0.iter()).find_map(|atv| {
        (atv.oid == const_oid::db::rfc4519::CN).then(|| {
            der::asn1::Utf8StringRef::try_from(&atv.value)
                .map(|s| s.as_str().to_owned())
                .or_else(|_| {
                    der::asn1::PrintableStringRef::try_from(&atv.value)
                        .map(|s| s.as_str().to_owned())
                })
                .unwrap_or_else(|_| atv.value.value().iter().map(|&b| char::from(b)).collect())
        })
    })
}

/// The CRL distribution point extension naming `url` (RFC 5280 4.2.1.13).
pub fn distribution_point(url: &str) -> Result<Extension, SignError> {
    let uri = Ia5String::new(url)
        .map_err(|_| SignError::Invalid(format!("CRL URL {url:?} is not ASCII")))?;
    extension(
        &CrlDistributionPoints(vec![DistributionPoint {
            distribution_point: Some(DistributionPointName::FullName(vec![
                GeneralName::UniformResourceIdentifier(uri),
            ])),
            reasons: None,
            crl_issuer: None,
        }]),
        false,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn blank_or_broken_pem_text_is_an_error_not_a_panic() {
        for text in [
            "",
            "\n",
            "\r\n\r\n",
            "  \n",
            "x",
            "-----BEGIN CERTIFICATE-----\n",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        ] {
            assert!(super::parse_pem_bundle(text).is_err(), "{text:?}");
        }
    }
}
