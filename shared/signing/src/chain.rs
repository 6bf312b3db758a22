//! Checking certificates: a signature under a public key (RSA PKCS#1 v1.5, RSA-PSS, ECDSA
//! P-256, all SHA-256; aws-lc-rs does the arithmetic), and an imported chain for one of our
//! HSM keys: same public key, each certificate signed by the next, CAs marked as CAs, every
//! certificate valid now, and a leaf whose key usage allows signing documents.

use std::time::SystemTime;

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use const_oid::AssociatedOid;
use der::asn1::ObjectIdentifier;
use der::{Decode, Encode};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};
use x509_cert::Certificate;

use crate::algorithm::{ECDSA_WITH_SHA256, RSASSA_PSS, SHA256, SHA256_WITH_RSA};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// Extended key usages that allow signing documents: emailProtection, documentSigning
/// (RFC 9336), Adobe Authentic Documents Trust, Microsoft document signing, and any.
const SIGNING_PURPOSES: [ObjectIdentifier; 5] = [
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.4"),
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.36"),
    ObjectIdentifier::new_unwrap("1.2.840.113583.1.1.5"),
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.10.3.12"),
    ObjectIdentifier::new_unwrap("2.5.29.37.0"),
];

/// Why a signature or a chain does not hold; `code` is stable for clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct ChainProblem {
    /// Machine-readable: `key_mismatch`, `bad_signature`, `not_yet_valid`, `expired`,
    /// `not_a_ca`, `usage`, `broken_chain`, `unsupported_algorithm`, `malformed`.
    pub code: &'static str,
    /// For people.
    pub detail: String,
}

fn problem(code: &'static str, detail: impl Into<String>) -> ChainProblem {
    ChainProblem {
        code,
        detail: detail.into(),
    }
}

/// Verifies `signature` over `message` by the key `spki` with the scheme `algorithm` names.
pub fn verify_signature(
    spki: &SubjectPublicKeyInfoOwned,
    algorithm: &AlgorithmIdentifierOwned,
    message: &[u8],
    signature: &[u8],
) -> Result<(), ChainProblem> {
    let key_kind = spki.algorithm.oid;
    let scheme: &'static dyn VerificationAlgorithm = match algorithm.oid {
        oid if oid == SHA256_WITH_RSA && key_kind == RSA_ENCRYPTION => {
            &signature::RSA_PKCS1_2048_8192_SHA256
        }
        oid if oid == RSASSA_PSS && key_kind == RSA_ENCRYPTION => {
            // Only SHA-256 / MGF1-SHA-256 with a 32-byte salt (what aws-lc-rs checks).
            let params = algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.to_der().ok())
                .unwrap_or_default();
            let sha256 = SHA256.as_bytes();
            if !params.windows(sha256.len()).any(|w| w == sha256) {
                return Err(problem(
                    "unsupported_algorithm",
                    "RSA-PSS with a hash other than SHA-256",
                ));
            }
            &signature::RSA_PSS_2048_8192_SHA256
        }
        oid if oid == ECDSA_WITH_SHA256 && key_kind == EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
            if curve != Some(P256) {
                return Err(problem("unsupported_algorithm", "an EC key not on P-256"));
            }
            &signature::ECDSA_P256_SHA256_ASN1
        }
        oid => {
            return Err(problem(
                "unsupported_algorithm",
                format!("signature algorithm {oid} with a {key_kind} key"),
            ))
        }
    };
    UnparsedPublicKey::new(scheme, spki.subject_public_key.raw_bytes())
        .verify(message, signature)
        .map_err(|_| problem("bad_signature", "the signature does not verify"))
}

/// Verifies that `issuer`'s key signed `certificate`.
pub fn issued_by(certificate: &Certificate, issuer: &Certificate) -> Result<(), ChainProblem> {
    if certificate.tbs_certificate.issuer != issuer.tbs_certificate.subject {
        return Err(problem(
            "broken_chain",
            format!(
                "{} was not issued by {}",
                certificate.tbs_certificate.subject, issuer.tbs_certificate.subject
            ),
        ));
    }
    let tbs = certificate
        .tbs_certificate
        .to_der()
        .map_err(|e| problem("malformed", e.to_string()))?;
    let signature = certificate
        .signature
        .as_bytes()
        .ok_or_else(|| problem("malformed", "the signature has unused bits"))?;
    verify_signature(
        &issuer.tbs_certificate.subject_public_key_info,
        &certificate.signature_algorithm,
        &tbs,
        signature,
    )
    .map_err(|p| ChainProblem {
        detail: format!("{}: {}", certificate.tbs_certificate.subject, p.detail),
        ..p
    })
}

fn extension<T: AssociatedOid + for<'a> Decode<'a>>(
    certificate: &Certificate,
) -> Result<Option<T>, ChainProblem> {
    let Some(extensions) = &certificate.tbs_certificate.extensions else {
        return Ok(None);
    };
    extensions
        .iter()
        .find(|e| e.extn_id == T::OID)
        .map(|e| T::from_der(e.extn_value.as_bytes()))
        .transpose()
        .map_err(|e| problem("malformed", format!("extension {}: {e}", T::OID)))
}

/// Whether `certificate` is valid at `now`.
pub fn check_validity(certificate: &Certificate, now: SystemTime) -> Result<(), ChainProblem> {
    let validity = &certificate.tbs_certificate.validity;
    let subject = &certificate.tbs_certificate.subject;
    if now < validity.not_before.to_system_time() {
        return Err(problem(
            "not_yet_valid",
            format!("{subject} is not valid yet"),
        ));
    }
    if now > validity.not_after.to_system_time() {
        return Err(problem("expired", format!("{subject} has expired")));
    }
    Ok(())
}

/// Whether `certificate` is a CA that may sign certificates.
fn check_ca(certificate: &Certificate) -> Result<(), ChainProblem> {
    let subject = &certificate.tbs_certificate.subject;
    let is_ca = extension::<BasicConstraints>(certificate)?.is_some_and(|b| b.ca);
    if !is_ca {
        return Err(problem(
            "not_a_ca",
            format!("{subject} is not a CA certificate"),
        ));
    }
    if let Some(usage) = extension::<KeyUsage>(certificate)? {
        if !usage.0.contains(KeyUsages::KeyCertSign) {
            return Err(problem(
                "not_a_ca",
                format!("{subject} may not sign certificates"),
            ));
        }
    }
    Ok(())
}

/// Whether the leaf's key usage allows signing documents.
pub fn check_signing_usage(leaf: &Certificate) -> Result<(), ChainProblem> {
    if extension::<BasicConstraints>(leaf)?.is_some_and(|b| b.ca) {
        return Err(problem(
            "usage",
            "a CA certificate cannot sign documents here",
        ));
    }
    if let Some(usage) = extension::<KeyUsage>(leaf)? {
        if !(usage.0.contains(KeyUsages::DigitalSignature)
            || usage.0.contains(KeyUsages::NonRepudiation))
        {
            return Err(problem(
                "usage",
                "the key usage allows neither digitalSignature nor nonRepudiation",
            ));
        }
    }
    if let Some(purposes) = extension::<ExtendedKeyUsage>(leaf)? {
        if !purposes.0.iter().any(|p| SIGNING_PURPOSES.contains(p)) {
            return Err(problem(
                "usage",
                "the extended key usage does not include document signing",
            ));
        }
    }
    Ok(())
}

/// `id-kp-timeStamping`.
const TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");

/// What a path's end-entity certificate is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Signing documents (key usage and extended key usage as [`check_signing_usage`]).
    DocumentSigning,
    /// Signing RFC 3161 timestamps: the `timeStamping` extended key usage (RFC 3161 2.3).
    TimeStamping,
}

/// Whether the leaf may sign timestamps: not a CA, and `id-kp-timeStamping` among its
/// extended key usages.
fn check_time_stamping_usage(leaf: &Certificate) -> Result<(), ChainProblem> {
    if extension::<BasicConstraints>(leaf)?.is_some_and(|b| b.ca) {
        return Err(problem("usage", "a CA certificate cannot sign timestamps"));
    }
    let stamps = extension::<ExtendedKeyUsage>(leaf)?.is_some_and(|p| p.0.contains(&TIME_STAMPING));
    if !stamps {
        return Err(problem(
            "usage",
            "the timestamp authority's certificate lacks the timeStamping extended key usage",
        ));
    }
    Ok(())
}

/// RFC 5280 checks over a path found by name and signature (leaf first, each certificate
/// issued by the next): the leaf may serve `purpose`; every issuer is a CA allowed to sign
/// certificates, within its path length constraint; every certificate was valid at `at` (the
/// time a trusted timestamp proves, else now). Revocation is not checked here.
pub fn check_path(
    path: &[Certificate],
    at: SystemTime,
    purpose: Purpose,
) -> Result<(), ChainProblem> {
    let leaf = path
        .first()
        .ok_or_else(|| problem("broken_chain", "no certificate"))?;
    match purpose {
        Purpose::DocumentSigning => check_signing_usage(leaf)?,
        Purpose::TimeStamping => check_time_stamping_usage(leaf)?,
    }
    for certificate in path {
        check_validity(certificate, at)?;
    }
    for (depth, issuer) in path.iter().enumerate().skip(1) {
        check_ca(issuer)?;
        // The intermediate CAs between the leaf and this issuer.
        let below = depth - 1;
        let limit = extension::<BasicConstraints>(issuer)?.and_then(|b| b.path_len_constraint);
        if limit.is_some_and(|limit| below > usize::from(limit)) {
            return Err(problem(
                "path_length",
                format!(
                    "{} may not have {below} intermediate CAs below it",
                    issuer.tbs_certificate.subject
                ),
            ));
        }
    }
    Ok(())
}

/// Checks a CA-issued certificate and its issuers (leaf's issuer first) for the HSM key whose
/// public key is `key_spki_der`, at `now`.
pub fn check_imported_chain(
    leaf: &Certificate,
    issuers: &[Certificate],
    key_spki_der: &[u8],
    now: SystemTime,
) -> Result<(), ChainProblem> {
    let leaf_key = leaf
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| problem("malformed", e.to_string()))?;
    if leaf_key != key_spki_der {
        return Err(problem(
            "key_mismatch",
            "the certificate is for another public key than this certificate's HSM key",
        ));
    }
    check_signing_usage(leaf)?;
    check_validity(leaf, now)?;
    let first = issuers.first().ok_or_else(|| {
        problem(
            "broken_chain",
            "the chain must include at least the issuing CA",
        )
    })?;
    issued_by(leaf, first)?;
    for (at, issuer) in issuers.iter().enumerate() {
        check_ca(issuer)?;
        check_validity(issuer, now)?;
        match issuers.get(at + 1) {
            Some(next) => issued_by(issuer, next)?,
            // A self-signed end must verify itself; an intermediate may end the list (the
            // root then comes from the validator's trust store).
            None if issuer.tbs_certificate.issuer == issuer.tbs_certificate.subject => {
                issued_by(issuer, issuer)?
            }
            None => {}
        }
    }
    Ok(())
}

/// The signer's certificate followed by issuers found in `pool` or `roots`, and whether the
/// path reaches a root (each link's signature verified).
pub fn build_path(
    signer: &Certificate,
    pool: &[Certificate],
    roots: &[Certificate],
) -> (Vec<Certificate>, bool) {
    let mut path = vec![signer.clone()];
    for _ in 0..8 {
        let Some(current) = path.last().cloned() else {
            break;
        };
        if roots.contains(&current) {
            return (path, true);
        }
        if let Some(root) = roots.iter().find(|r| issued_by(&current, r).is_ok()) {
            if *root != current {
                path.push(root.clone());
            }
            return (path, true);
        }
        let next = pool
            .iter()
            .find(|c| **c != current && !path.contains(c) && issued_by(&current, c).is_ok());
        match next {
            Some(next) => path.push(next.clone()),
            None => break,
        }
    }
    (path, false)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};

    use super::*;
    use crate::x509::{issue, Issuer, Profile, Subject};
    use crate::{RawSigner, Scheme, SignError};

    pub(crate) struct SoftKey(EcdsaKeyPair);

    impl SoftKey {
        pub(crate) fn new() -> Self {
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
                    .expect("key");
            Self(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref())
                    .expect("key"),
            )
        }

        fn spki(&self) -> Vec<u8> {
            self.0
                .public_key()
                .as_der()
                .expect("SPKI")
                .as_ref()
                .to_vec()
        }
    }

    impl RawSigner for SoftKey {
        fn scheme(&self) -> Scheme {
            Scheme::EcdsaSha256
        }
        fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
            Ok(self
                .0
                .sign(&SystemRandom::new(), message)
                .map_err(|e| SignError::Signer(e.to_string()))?
                .as_ref()
                .to_vec())
        }
    }

    pub(crate) fn certificate(
        name: &str,
        key: &SoftKey,
        profile: Profile,
        issuer: Option<(&Certificate, &SoftKey)>,
    ) -> Certificate {
        let now = SystemTime::now();
        issue(
            &Subject {
                name: name.to_owned(),
                spki_der: key.spki(),
                serial: vec![1, 2, 3],
                not_before: now - Duration::from_secs(60),
                not_after: now + Duration::from_secs(3600),
                profile,
                crl_url: None,
            },
            &Issuer {
                certificate: issuer.map(|(c, _)| c),
                signer: issuer.map_or(key as &dyn RawSigner, |(_, k)| k),
            },
        )
        .expect("issued")
    }

    #[test]
    fn a_chain_for_our_key_from_a_ca_passes_and_each_flaw_is_named() {
        let (root_key, leaf_key, other_key) = (SoftKey::new(), SoftKey::new(), SoftKey::new());
        let root = certificate("CN=Root", &root_key, Profile::Ca, None);
        let leaf = certificate(
            "CN=Signer",
            &leaf_key,
            Profile::DocumentSigner,
            Some((&root, &root_key)),
        );
        let now = SystemTime::now();
        check_imported_chain(&leaf, std::slice::from_ref(&root), &leaf_key.spki(), now)
            .expect("valid");

        let code = |r: Result<(), ChainProblem>| r.expect_err("refused").code;
        assert_eq!(
            code(check_imported_chain(
                &leaf,
                std::slice::from_ref(&root),
                &other_key.spki(),
                now
            )),
            "key_mismatch"
        );
        assert_eq!(
            code(check_imported_chain(&leaf, &[], &leaf_key.spki(), now)),
            "broken_chain"
        );
        // Signed by another key under the same name: the signature does not verify.
        let impostor = certificate("CN=Root", &other_key, Profile::Ca, None);
        assert_eq!(
            code(check_imported_chain(
                &leaf,
                &[impostor],
                &leaf_key.spki(),
                now
            )),
            "bad_signature"
        );
        // A document signer is not a CA.
        let not_ca = certificate("CN=Root", &root_key, Profile::DocumentSigner, None);
        let under_not_ca = certificate(
            "CN=Signer",
            &leaf_key,
            Profile::DocumentSigner,
            Some((&not_ca, &root_key)),
        );
        assert_eq!(
            code(check_imported_chain(
                &under_not_ca,
                &[not_ca],
                &leaf_key.spki(),
                now
            )),
            "not_a_ca"
        );
        // A TSA certificate's usage is time-stamping, not documents.
        let tsa = certificate(
            "CN=TSA",
            &leaf_key,
            Profile::TimeStamping,
            Some((&root, &root_key)),
        );
        assert_eq!(
            code(check_imported_chain(
                &tsa,
                std::slice::from_ref(&root),
                &leaf_key.spki(),
                now
            )),
            "usage"
        );
        assert_eq!(
            code(check_imported_chain(
                &leaf,
                std::slice::from_ref(&root),
                &leaf_key.spki(),
                now + Duration::from_secs(7200)
            )),
            "expired"
        );
    }

    #[test]
    fn a_path_is_trusted_only_through_cas_that_may_sign_certificates_while_every_certificate_was_valid(
    ) {
        let (root_key, signer_key, victim_key, ca_key) = (
            SoftKey::new(),
            SoftKey::new(),
            SoftKey::new(),
            SoftKey::new(),
        );
        let root = certificate("CN=Root", &root_key, Profile::Ca, None);
        let signer = certificate(
            "CN=Signer",
            &signer_key,
            Profile::DocumentSigner,
            Some((&root, &root_key)),
        );
        let roots = std::slice::from_ref(&root);
        let now = SystemTime::now();
        let (path, reaches) = build_path(&signer, &[], roots);
        assert!(reaches);
        check_path(&path, now, Purpose::DocumentSigning).expect("a CA's signer");

        // An end-entity certificate issuing "CN=Victim": the path reaches the root by name
        // and signature, and fails the CA check.
        let victim = certificate(
            "CN=Victim",
            &victim_key,
            Profile::DocumentSigner,
            Some((&signer, &signer_key)),
        );
        let (path, reaches) = build_path(&victim, std::slice::from_ref(&signer), roots);
        assert!(reaches && path.len() == 3);
        let code = |r: Result<(), ChainProblem>| r.expect_err("refused").code;
        assert_eq!(
            code(check_path(&path, now, Purpose::DocumentSigning)),
            "not_a_ca"
        );

        // The root allows no intermediate CA below it (pathLen 0).
        let intermediate = certificate(
            "CN=Intermediate",
            &ca_key,
            Profile::Ca,
            Some((&root, &root_key)),
        );
        let below = certificate(
            "CN=Below",
            &victim_key,
            Profile::DocumentSigner,
            Some((&intermediate, &ca_key)),
        );
        let (path, _) = build_path(&below, std::slice::from_ref(&intermediate), roots);
        assert_eq!(
            code(check_path(&path, now, Purpose::DocumentSigning)),
            "path_length"
        );

        // Validity at the time that counts: after expiry the same path fails, and before it
        // (a timestamp's time) it holds.
        let later = now + Duration::from_secs(2 * 3600);
        let (path, _) = build_path(&signer, &[], roots);
        assert_eq!(
            code(check_path(&path, later, Purpose::DocumentSigning)),
            "expired"
        );
        // A document signer cannot sign timestamps.
        assert_eq!(code(check_path(&path, now, Purpose::TimeStamping)), "usage");
    }
}
