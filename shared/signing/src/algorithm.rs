//! Signature algorithms and the signer abstraction.

use der::asn1::ObjectIdentifier;
use der::{Any, Decode};
use spki::AlgorithmIdentifierOwned;

/// How a key signs; a property of its certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RsaPkcs1Sha256,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt.
    RsaPssSha256,
    /// ECDSA with SHA-256 (DER `ECDSA-Sig-Value`).
    EcdsaSha256,
}

/// `sha256WithRSAEncryption` (RFC 4055).
pub const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
/// `id-RSASSA-PSS` (RFC 4055).
pub const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
/// `ecdsa-with-SHA256` (RFC 5758).
pub const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
/// `id-sha256` (RFC 5754).
pub const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");

/// RSASSA-PSS-params for SHA-256, MGF1-SHA-256, salt 32, trailer 1 (RFC 4055 section 3.1):
/// hashAlgorithm [0] sha256 (NULL parameters), maskGenAlgorithm [1] mgf1(sha256),
/// saltLength [2] 32; trailerField left at its DEFAULT.
const PSS_SHA256_PARAMS: [u8; 54] = [
    0x30, 0x34, // SEQUENCE
    0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, // [0] sha256
    0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30,
    0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
    // [1] mgf1(sha256)
    0xa2, 0x03, 0x02, 0x01, 0x20, // [2] 32
];

impl Scheme {
    /// Every scheme.
    pub const ALL: [Scheme; 3] = [
        Scheme::RsaPkcs1Sha256,
        Scheme::RsaPssSha256,
        Scheme::EcdsaSha256,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::RsaPkcs1Sha256 => "rsa-pkcs1-sha256",
            Scheme::RsaPssSha256 => "rsa-pss-sha256",
            Scheme::EcdsaSha256 => "ecdsa-sha256",
        }
    }

    /// The scheme of a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The AlgorithmIdentifier naming this scheme in a certificate or a CMS SignerInfo.
    pub fn algorithm_identifier(self) -> AlgorithmIdentifierOwned {
        match self {
            Scheme::RsaPkcs1Sha256 => AlgorithmIdentifierOwned {
                oid: SHA256_WITH_RSA,
                parameters: Some(der::asn1::Null.into()),
            },
            Scheme::RsaPssSha256 => AlgorithmIdentifierOwned {
                oid: RSASSA_PSS,
                parameters: Any::from_der(&PSS_SHA256_PARAMS).ok(),
            },
            // RFC 5758: the parameters field is absent.
            Scheme::EcdsaSha256 => AlgorithmIdentifierOwned {
                oid: ECDSA_WITH_SHA256,
                parameters: None,
            },
        }
    }
}

/// Why signing failed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The signer (HSM) failed.
    #[error("signer: {0}")]
    Signer(String),
    /// A structure could not be encoded or parsed.
    #[error("encoding: {0}")]
    Encoding(#[from] der::Error),
    /// The input is unusable (e.g. a public key of an unsupported kind).
    #[error("{0}")]
    Invalid(String),
}

/// Something that signs with one key and one scheme: the HSM in production.
pub trait RawSigner {
    /// The scheme of the key.
    fn scheme(&self) -> Scheme;
    /// Signs `message` (hashing included) and returns the signature as X.509 and CMS encode
    /// it (raw for RSA, DER `ECDSA-Sig-Value` for ECDSA).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::Encode;

    #[test]
    fn pss_parameters_parse_as_one_der_sequence_of_the_declared_length() {
        let any = Any::from_der(&PSS_SHA256_PARAMS).expect("DER");
        assert_eq!(any.to_der().expect("re-encodes"), PSS_SHA256_PARAMS);
        assert!(Scheme::RsaPssSha256
            .algorithm_identifier()
            .parameters
            .is_some());
    }
}
