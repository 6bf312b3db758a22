//! Certificate revocation lists (RFC 5280 section 5) for an organization's own CA: issued by
//! its key in the HSM through a [`RawSigner`], published where the certificates it issues
//! point (their CRL distribution point), embedded in the document security store at
//! completion, and read back by the verifier.
//!
//! CRLs rather than an OCSP responder: one CRL per CA answers for every certificate it
//! issued, so the DSS of a document carries one object per CA however many signatures it
//! holds; a CRL is a static object a CDN serves (as AWS Private CA publishes them to S3), so
//! the status stays available when no function runs; and pyHanko's and Adobe's validators
//! fetch and embed CRLs as readily as OCSP answers.

use std::time::SystemTime;

use const_oid::AssociatedOid;
use der::asn1::{OctetString, Uint};
use der::{Decode, Encode};
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, CrlDistributionPoints, CrlNumber, CrlReason};
use x509_cert::serial_number::SerialNumber;
use x509_cert::Certificate;

use crate::algorithm::{RawSigner, SignError};
use crate::chain::{verify_signature, ChainProblem};
pub use crate::x509::distribution_point;
use crate::x509::{extension, key_identifier, x509_time};

/// One revoked certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// Its serial number, as the certificate carries it.
    pub serial: Vec<u8>,
    /// When it was revoked.
    pub at: SystemTime,
    /// Why (RFC 5280 5.3.1), if a reason was given.
    pub reason: Option<CrlReason>,
}

/// What a CRL states.
#[derive(Debug, Clone)]
pub struct CrlContents {
    /// The CRL number: grows with every CRL the CA issues (RFC 5280 5.2.3).
    pub number: u64,
    /// When it was issued.
    pub this_update: SystemTime,
    /// When the next one is due at the latest.
    pub next_update: SystemTime,
    /// Every certificate the CA revoked that has not expired.
    pub revoked: Vec<Revocation>,
}

/// The RFC 5280 reason of a stored reason name (`key_compromise`, `superseded`, …).
pub fn reason_from_name(name: &str) -> Option<CrlReason> {
    Some(match name {
        "unspecified" => CrlReason::Unspecified,
        "key_compromise" => CrlReason::KeyCompromise,
        "ca_compromise" => CrlReason::CaCompromise,
        "affiliation_changed" => CrlReason::AffiliationChanged,
        "superseded" => CrlReason::Superseded,
        "cessation_of_operation" => CrlReason::CessationOfOperation,
        "certificate_hold" => CrlReason::CertificateHold,
        "privilege_withdrawn" => CrlReason::PrivilegeWithdrawn,
        _ => return None,
    })
}

/// Issues a CRL of `issuer` (the CA certificate) signed by its key.
pub fn issue_crl(
    issuer: &Certificate,
    signer: &dyn RawSigner,
    contents: &CrlContents,
) -> Result<CertificateList, SignError> {
    let revoked = contents
        .revoked
        .iter()
        .map(|r| {
            Ok(RevokedCert {
                serial_number: SerialNumber::new(&r.serial)?,
                revocation_date: x509_time(r.at)?,
                crl_entry_extensions: r
                    .reason
                    .map(|reason| extension(&reason, false).map(|e| vec![e]))
                    .transpose()?,
            })
        })
        .collect::<Result<Vec<_>, SignError>>()?;
    let algorithm = signer.scheme().algorithm_identifier();
    let tbs = TbsCertList {
        version: x509_cert::Version::V2,
        signature: algorithm.clone(),
        issuer: issuer.tbs_certificate.subject.clone(),
        this_update: x509_time(contents.this_update)?,
        next_update: Some(x509_time(contents.next_update)?),
        // RFC 5280 5.1.2.6: absent, not empty, when nothing is revoked.
        revoked_certificates: (!revoked.is_empty()).then_some(revoked),
        crl_extensions: Some(vec![
            extension(
                &AuthorityKeyIdentifier {
                    key_identifier: Some(OctetString::new(key_identifier(
                        &issuer.tbs_certificate.subject_public_key_info,
                    ))?),
                    authority_cert_issuer: None,
                    authority_cert_serial_number: None,
                },
                false,
            )?,
            extension(
                &CrlNumber(Uint::new(&contents.number.to_be_bytes())?),
                false,
            )?,
        ]),
    };
    let signature = signer.sign(&tbs.to_der()?)?;
    Ok(CertificateList {
        tbs_cert_list: tbs,
        signature_algorithm: algorithm,
        signature: der::asn1::BitString::from_bytes(&signature)?,
    })
}

/// The HTTP(S) URLs of a certificate's CRL distribution points.
pub fn distribution_urls(certificate: &Certificate) -> Vec<String> {
    let Some(extensions) = &certificate.tbs_certificate.extensions else {
        return Vec::new();
    };
    extensions
        .iter()
        .filter(|e| e.extn_id == CrlDistributionPoints::OID)
        .filter_map(|e| CrlDistributionPoints::from_der(e.extn_value.as_bytes()).ok())
        .flat_map(|points| points.0)
        .filter_map(|point| match point.distribution_point {
            Some(DistributionPointName::FullName(names)) => Some(names),
            _ => None,
        })
        .flatten()
        .filter_map(|name| match name {
            GeneralName::UniformResourceIdentifier(uri) => Some(uri.to_string()),
            _ => None,
        })
        .filter(|uri| uri.starts_with("http://") || uri.starts_with("https://"))
        .collect()
}

/// Checks that `issuer` signed `crl` and that it speaks for `issuer`.
pub fn check_issued_by(crl: &CertificateList, issuer: &Certificate) -> Result<(), ChainProblem> {
    if crl.tbs_cert_list.issuer != issuer.tbs_certificate.subject {
        return Err(ChainProblem {
            code: "broken_chain",
            detail: format!(
                "a CRL of {} is not {}'s",
                crl.tbs_cert_list.issuer, issuer.tbs_certificate.subject
            ),
        });
    }
    let tbs = crl.tbs_cert_list.to_der().map_err(|e| ChainProblem {
        code: "malformed",
        detail: e.to_string(),
    })?;
    let signature = crl.signature.as_bytes().ok_or_else(|| ChainProblem {
        code: "malformed",
        detail: "the CRL's signature has unused bits".into(),
    })?;
    verify_signature(
        &issuer.tbs_certificate.subject_public_key_info,
        &crl.signature_algorithm,
        &tbs,
        signature,
    )
}

/// Whether `crl` speaks for time `at`: issued before it, and not past its next update.
pub fn covers(crl: &CertificateList, at: SystemTime) -> bool {
    let this_update = crl.tbs_cert_list.this_update.to_system_time();
    let next_update = crl.tbs_cert_list.next_update.map(|t| t.to_system_time());
    this_update <= at && next_update.is_none_or(|next| at <= next)
}

/// When `crl` says `certificate` was revoked, if it does.
pub fn revoked_at(crl: &CertificateList, certificate: &Certificate) -> Option<SystemTime> {
    crl.tbs_cert_list
        .revoked_certificates
        .as_ref()?
        .iter()
        .find(|r| r.serial_number == certificate.tbs_certificate.serial_number)
        .map(|r| r.revocation_date.to_system_time())
}

/// Parses a DER CRL.
pub fn parse(der: &[u8]) -> Result<CertificateList, SignError> {
    Ok(CertificateList::from_der(der)?)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::chain::tests::{certificate, SoftKey};
    use crate::x509::Profile;

    #[test]
    fn a_crl_names_what_its_ca_revoked_and_verifies_only_under_that_ca() {
        let (ca_key, leaf_key, other_key) = (SoftKey::new(), SoftKey::new(), SoftKey::new());
        let ca = certificate("CN=Org CA", &ca_key, Profile::Ca, None);
        let other_ca = certificate("CN=Other CA", &other_key, Profile::Ca, None);
        let leaf = certificate(
            "CN=Signer",
            &leaf_key,
            Profile::DocumentSigner,
            Some((&ca, &ca_key)),
        );
        let now = SystemTime::now();
        let revoked_when = now - Duration::from_secs(30);
        let empty = issue_crl(
            &ca,
            &ca_key,
            &CrlContents {
                number: 1,
                this_update: now,
                next_update: now + Duration::from_secs(86_400),
                revoked: Vec::new(),
            },
        )
        .expect("an empty CRL");
        assert!(empty.tbs_cert_list.revoked_certificates.is_none());
        assert_eq!(revoked_at(&empty, &leaf), None);
        let listing = issue_crl(
            &ca,
            &ca_key,
            &CrlContents {
                number: 2,
                this_update: now,
                next_update: now + Duration::from_secs(86_400),
                revoked: vec![Revocation {
                    serial: leaf.tbs_certificate.serial_number.as_bytes().to_vec(),
                    at: revoked_when,
                    reason: reason_from_name("key_compromise"),
                }],
            },
        )
        .expect("a CRL");
        let parsed = parse(&listing.to_der().expect("DER")).expect("parses back");
        check_issued_by(&parsed, &ca).expect("the CA signed it");
        assert!(check_issued_by(&parsed, &other_ca).is_err());
        let at = revoked_at(&parsed, &leaf).expect("listed");
        let seconds = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .expect("after 1970")
                .as_secs()
        };
        assert_eq!(seconds(at), seconds(revoked_when));
        assert!(covers(&parsed, now + Duration::from_secs(60)));
        assert!(!covers(&parsed, now - Duration::from_secs(60)));
        assert!(!covers(&parsed, now + Duration::from_secs(2 * 86_400)));
    }

    #[test]
    fn the_distribution_point_round_trips_and_refuses_non_ascii() {
        let extension = distribution_point("http://127.0.0.1:4600/pki/crls/x.crl").expect("ext");
        let key = SoftKey::new();
        let mut cert = certificate("CN=Leaf", &key, Profile::DocumentSigner, None);
        cert.tbs_certificate.extensions = Some(vec![extension]);
        assert_eq!(
            distribution_urls(&cert),
            vec!["http://127.0.0.1:4600/pki/crls/x.crl".to_owned()]
        );
        assert!(distribution_point("http://пример/x.crl").is_err());
    }
}
