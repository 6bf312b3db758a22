//! Verifying a detached CMS `SignedData` (RFC 5652 5.6): the message-digest attribute against
//! the signed bytes, the signature over the signed attributes with the signer's certificate,
//! the ESS signing-certificate binding, the certificate path to a trust root, and an RFC 3161
//! timestamp token in the unsigned attributes.

use std::time::SystemTime;

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_tsp::TstInfo;

use crate::algorithm::{SHA256, SHA256_WITH_RSA};
pub use crate::chain::build_path;
use crate::chain::{check_path, verify_signature, Purpose};
use crate::cms::{MESSAGE_DIGEST, SIGNING_CERTIFICATE_V2, TIME_STAMP_TOKEN};
use crate::x509::key_identifier;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SUBJECT_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
/// `id-ct-TSTInfo`.
const TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");

/// What one CMS signature says and whether it holds.
#[derive(Debug, Clone)]
pub struct CmsReport {
    /// The signed attributes' digest equals the digest of the signed bytes, and the signature
    /// over them verifies with the signer's certificate, which the ESS attribute names.
    pub intact: bool,
    /// Why not, when not.
    pub problem: Option<String>,
    /// The signer's certificate, then its issuers as far as they could be found.
    pub chain: Vec<Certificate>,
    /// The path ends at (or is) one of the trust roots and passes RFC 5280's checks (CA
    /// flags, key usages, path length, validity at the timestamp's time or now).
    pub trusted: bool,
    /// Why the path is not trusted, when it reaches a root but fails a check.
    pub path_problem: Option<String>,
    /// The signature value (what a timestamp stamps).
    pub signature_value: Vec<u8>,
    /// The timestamp, if the signature carries one.
    pub timestamp: Option<TimestampReport>,
}

/// An RFC 3161 timestamp over a signature value.
#[derive(Debug, Clone)]
pub struct TimestampReport {
    /// The TSA's signature holds and the token stamps this signature's value.
    pub intact: bool,
    /// Why not, when not.
    pub problem: Option<String>,
    /// The time the TSA asserts.
    pub time: Option<SystemTime>,
    /// The TSA's subject.
    pub authority: Option<String>,
    /// The TSA's certificate chains to a trust root and passes RFC 5280's checks at the
    /// token's time.
    pub trusted: bool,
    /// The TSA's certificate, then its issuers as far as they could be found.
    pub chain: Vec<Certificate>,
}

fn certificates(signed_data: &SignedData) -> Vec<Certificate> {
    signed_data
        .certificates
        .as_ref()
        .map(|set| {
            set.0
                .iter()
                .filter_map(|choice| match choice {
                    CertificateChoices::Certificate(c) => Some(c.clone()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn signer_certificate<'a>(info: &SignerInfo, pool: &'a [Certificate]) -> Option<&'a Certificate> {
    pool.iter().find(|c| match &info.sid {
        SignerIdentifier::IssuerAndSerialNumber(id) => {
            c.tbs_certificate.issuer == id.issuer
                && c.tbs_certificate.serial_number == id.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            let declared = c
                .tbs_certificate
                .extensions
                .iter()
                .flatten()
                .find(|e| e.extn_id == SUBJECT_KEY_IDENTIFIER)
                .and_then(|e| OctetString::from_der(e.extn_value.as_bytes()).ok());
            match declared {
                Some(declared) => declared.as_bytes() == ski.0.as_bytes(),
                None => {
                    key_identifier(&c.tbs_certificate.subject_public_key_info) == ski.0.as_bytes()
                }
            }
        }
    })
}

fn attribute(info: &SignerInfo, oid: ObjectIdentifier) -> Option<&x509_cert::attr::Attribute> {
    info.signed_attrs.as_ref()?.iter().find(|a| a.oid == oid)
}

/// The signature algorithm as certificates name it: CMS may say `rsaEncryption` with the
/// digest algorithm alongside.
fn effective_algorithm(info: &SignerInfo) -> AlgorithmIdentifierOwned {
    if info.signature_algorithm.oid == RSA_ENCRYPTION {
        AlgorithmIdentifierOwned {
            oid: SHA256_WITH_RSA,
            parameters: None,
        }
    } else {
        info.signature_algorithm.clone()
    }
}

/// Checks the signer info against `digest` (SHA-256 of the signed content); `Err` says why
/// it does not hold.
fn check_signer(info: &SignerInfo, digest: &[u8], signer: &Certificate) -> Result<(), String> {
    if info.digest_alg.oid != SHA256 {
        return Err(format!(
            "digest algorithm {} is not supported",
            info.digest_alg.oid
        ));
    }
    let signed = info
        .signed_attrs
        .as_ref()
        .ok_or("the signature has no signed attributes")?;
    let claimed = attribute(info, MESSAGE_DIGEST)
        .and_then(|a| a.values.get(0))
        .and_then(|v| v.decode_as::<OctetString>().ok())
        .ok_or("no message-digest attribute")?;
    if claimed.as_bytes() != digest {
        return Err("the signed bytes do not match the signature's digest".into());
    }
    let message = signed.to_der().map_err(|e| e.to_string())?;
    verify_signature(
        &signer.tbs_certificate.subject_public_key_info,
        &effective_algorithm(info),
        &message,
        info.signature.as_bytes(),
    )
    .map_err(|p| p.detail)?;
    if let Some(ess) = attribute(info, SIGNING_CERTIFICATE_V2) {
        let der = signer.to_der().map_err(|e| e.to_string())?;
        let hash = Sha256::digest(&der);
        let bound = ess
            .values
            .get(0)
            .and_then(|v| v.to_der().ok())
            .is_some_and(|bytes| bytes.windows(hash.len()).any(|w| w == hash.as_slice()));
        if !bound {
            return Err("the signing-certificate attribute names another certificate".into());
        }
    }
    Ok(())
}

/// Verifies the detached CMS `der` over content whose SHA-256 is `digest`, with `roots` as
/// the trust anchors.
pub fn verify_detached(der: &[u8], digest: &[u8; 32], roots: &[Certificate]) -> CmsReport {
    let fail = |problem: String| CmsReport {
        intact: false,
        problem: Some(problem),
        chain: Vec::new(),
        trusted: false,
        path_problem: None,
        signature_value: Vec::new(),
        timestamp: None,
    };
    let signed_data = match ContentInfo::from_der(der)
        .map_err(|e| e.to_string())
        .and_then(|ci| {
            ci.content
                .decode_as::<SignedData>()
                .map_err(|e| e.to_string())
        }) {
        Ok(sd) => sd,
        Err(e) => return fail(format!("the CMS does not parse: {e}")),
    };
    let infos: Vec<&SignerInfo> = signed_data.signer_infos.0.iter().collect();
    let [info] = infos[..] else {
        return fail(format!(
            "{} signer infos; a PDF signature has one",
            infos.len()
        ));
    };
    let pool = certificates(&signed_data);
    let Some(signer) = signer_certificate(info, &pool) else {
        return fail("the signer's certificate is not in the signature".into());
    };
    let (chain, reaches_root) = build_path(signer, &pool, roots);
    let result = check_signer(info, digest, signer);
    let signature_value = info.signature.as_bytes().to_vec();
    let timestamp = info
        .unsigned_attrs
        .as_ref()
        .and_then(|attrs| attrs.iter().find(|a| a.oid == TIME_STAMP_TOKEN))
        .and_then(|a| a.values.get(0))
        .map(|token| match token.to_der() {
            Ok(der) => verify_timestamp(&der, &Sha256::digest(&signature_value), roots),
            Err(e) => TimestampReport {
                intact: false,
                problem: Some(e.to_string()),
                time: None,
                authority: None,
                trusted: false,
                chain: Vec::new(),
            },
        });
    // The certificates must have been valid when the signature was made: the time a trusted,
    // intact timestamp proves, else now (an expired certificate with no proof of time fails).
    let at = timestamp
        .as_ref()
        .filter(|t| t.intact && t.trusted)
        .and_then(|t| t.time)
        .unwrap_or_else(SystemTime::now);
    let path_problem = if reaches_root {
        check_path(&chain, at, Purpose::DocumentSigning)
            .err()
            .map(|p| format!("the signer's certificate path: {}", p.detail))
    } else {
        None
    };
    CmsReport {
        intact: result.is_ok(),
        problem: result.err(),
        trusted: reaches_root && path_problem.is_none(),
        chain,
        path_problem,
        signature_value,
        timestamp,
    }
}

/// Verifies an RFC 3161 token (a CMS `ContentInfo`) stamping `imprint`.
pub fn verify_timestamp(token: &[u8], imprint: &[u8], roots: &[Certificate]) -> TimestampReport {
    let mut report = TimestampReport {
        intact: false,
        problem: None,
        time: None,
        authority: None,
        trusted: false,
        chain: Vec::new(),
    };
    let parsed = ContentInfo::from_der(token)
        .map_err(|e| e.to_string())
        .and_then(|ci| {
            ci.content
                .decode_as::<SignedData>()
                .map_err(|e| e.to_string())
        });
    let signed_data = match parsed {
        Ok(sd) => sd,
        Err(e) => {
            report.problem = Some(format!("the token does not parse: {e}"));
            return report;
        }
    };
    let content = &signed_data.encap_content_info;
    let econtent = content
        .econtent
        .as_ref()
        .and_then(|any| any.decode_as::<OctetString>().ok());
    let (Some(econtent), true) = (econtent, content.econtent_type == TST_INFO) else {
        report.problem = Some("the token carries no TSTInfo".into());
        return report;
    };
    let tst = match TstInfo::from_der(econtent.as_bytes()) {
        Ok(tst) => tst,
        Err(e) => {
            report.problem = Some(format!("TSTInfo: {e}"));
            return report;
        }
    };
    report.time = Some(tst.gen_time.to_system_time());
    let infos: Vec<&SignerInfo> = signed_data.signer_infos.0.iter().collect();
    let pool = certificates(&signed_data);
    let signer = infos
        .first()
        .and_then(|info| signer_certificate(info, &pool));
    let (Some(info), Some(signer)) = (infos.first(), signer) else {
        report.problem = Some("the TSA's certificate is not in the token".into());
        return report;
    };
    report.authority = Some(signer.tbs_certificate.subject.to_string());
    let (path, reaches_root) = build_path(signer, &pool, roots);
    report.chain = path.clone();
    let at = tst.gen_time.to_system_time();
    report.trusted = reaches_root
        && match check_path(&path, at, Purpose::TimeStamping) {
            Ok(()) => true,
            Err(p) => {
                report.problem = Some(format!("the timestamp authority's path: {}", p.detail));
                false
            }
        };
    if tst.message_imprint.hashed_message.as_bytes() != imprint {
        report.problem = Some("the token stamps another signature".into());
        return report;
    }
    let digest = Sha256::digest(econtent.as_bytes());
    match check_signer(info, &digest, signer) {
        Ok(()) => report.intact = true,
        Err(problem) => report.problem = Some(problem),
    }
    report
}
