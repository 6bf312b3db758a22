//! Signing keys that live in the HSM: generated there (sensitive, never extractable), found
//! again by their `CKA_ID`, asked for their public key (as DER SubjectPublicKeyInfo), and used
//! to sign. The algorithm is a property of the key: RSA keys sign PKCS#1 v1.5 or RSA-PSS
//! (SHA-256, MGF1-SHA-256, 32-byte salt), P-256 keys sign ECDSA-SHA-256.

use cryptoki::error::RvError;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use der::asn1::{BitString, ObjectIdentifier, UintRef};
use der::{Decode, Encode};
use sha2::{Digest, Sha256};

use crate::hsm::{Hsm, HsmError};

/// `rsaEncryption` (RFC 8017).
pub const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// `id-ecPublicKey` (RFC 5480).
pub const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `prime256v1` / secp256r1 (RFC 5480).
pub const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// The key pairs GSign generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    /// RSA with a 2048-bit modulus.
    Rsa2048,
    /// RSA with a 3072-bit modulus.
    Rsa3072,
    /// ECDSA on NIST P-256.
    EcP256,
}

pub use gsign_signing::Scheme;

/// The scheme a key of this kind signs with by default (RSA: PSS, which ASVS prefers).
pub fn default_scheme(spec: KeySpec) -> Scheme {
    match spec {
        KeySpec::Rsa2048 | KeySpec::Rsa3072 => Scheme::RsaPssSha256,
        KeySpec::EcP256 => Scheme::EcdsaSha256,
    }
}

/// A key in the token as a [`gsign_signing::RawSigner`] (blocking calls).
pub struct HsmSigner<'a> {
    /// The open token.
    pub hsm: &'a Hsm,
    /// The key's `CKA_ID`.
    pub key_id: Vec<u8>,
    /// How it signs.
    pub scheme: Scheme,
}

impl gsign_signing::RawSigner for HsmSigner<'_> {
    fn scheme(&self) -> Scheme {
        self.scheme
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, gsign_signing::SignError> {
        self.hsm
            .sign(&self.key_id, self.scheme, message)
            .map_err(|e| gsign_signing::SignError::Signer(e.to_string()))
    }
}

/// A key pair in the token.
#[derive(Debug, Clone)]
pub struct HsmKey {
    /// `CKA_ID` shared by the private and public halves (16 random bytes).
    pub id: Vec<u8>,
    /// DER SubjectPublicKeyInfo of the public half.
    pub spki_der: Vec<u8>,
}

#[derive(der::Sequence)]
struct RsaPublicKey<'a> {
    modulus: UintRef<'a>,
    public_exponent: UintRef<'a>,
}

#[derive(der::Sequence)]
struct EcdsaSigValue<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

fn der_error(err: der::Error) -> HsmError {
    HsmError::Encoding(err.to_string())
}

impl Hsm {
    /// Generates a key pair whose private half is a token object that is sensitive, not
    /// extractable, and may only sign. Blocking.
    pub fn generate_signing_key(&self, spec: KeySpec, label: &str) -> Result<HsmKey, HsmError> {
        let ec_params = P256.to_der().map_err(der_error)?;
        let (id, handle) = self.with_session(|session| {
            let mut id = vec![0u8; 16];
            session.generate_random_slice(&mut id)?;
            let label = label.as_bytes().to_vec();
            let common = |public: bool| {
                vec![
                    Attribute::Token(true),
                    Attribute::Id(id.clone()),
                    Attribute::Label(label.clone()),
                    Attribute::Private(!public),
                ]
            };
            let (mechanism, mut public, mut private) = match spec {
                KeySpec::Rsa2048 | KeySpec::Rsa3072 => {
                    let bits: u64 = if spec == KeySpec::Rsa2048 { 2048 } else { 3072 };
                    // Size and exponent only in the public template (CloudHSM refuses them in
                    // the private one).
                    let public = vec![
                        Attribute::ModulusBits(bits.into()),
                        Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
                        Attribute::Verify(true),
                    ];
                    (Mechanism::RsaPkcsKeyPairGen, public, Vec::new())
                }
                KeySpec::EcP256 => (
                    Mechanism::EccKeyPairGen,
                    vec![Attribute::EcParams(ec_params), Attribute::Verify(true)],
                    Vec::new(),
                ),
            };
            public.extend(common(true));
            public.extend([Attribute::Encrypt(false), Attribute::Wrap(false)]);
            private.extend(common(false));
            // A signing key signs and does nothing else, said explicitly rather than left to
            // the token's defaults.
            private.extend([
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Sign(true),
                Attribute::Decrypt(false),
                Attribute::Unwrap(false),
                Attribute::Derive(false),
            ]);
            let (public_handle, _) = session.generate_key_pair(&mechanism, &public, &private)?;
            Ok((id, public_handle))
        })?;
        let spki_der = self.with_session(|session| Ok(spki_of(session, handle)))??;
        Ok(HsmKey { id, spki_der })
    }

    /// The public key of the pair with `CKA_ID` `id`, as DER SubjectPublicKeyInfo. Blocking.
    pub fn public_key(&self, id: &[u8]) -> Result<Vec<u8>, HsmError> {
        self.with_session(|session| {
            let handle = find(session, ObjectClass::PUBLIC_KEY, id)?;
            Ok(handle.map(|h| spki_of(session, h)))
        })?
        .ok_or(HsmError::KeyNotFound)?
    }

    /// Signs `message` (the HSM hashes it, except for ECDSA, where the SHA-256 digest is taken
    /// here and the HSM signs that) with the private key `id`. Returns the signature in its
    /// X.509/CMS encoding: raw for RSA, DER `ECDSA-Sig-Value` for ECDSA. Blocking.
    pub fn sign(&self, id: &[u8], scheme: Scheme, message: &[u8]) -> Result<Vec<u8>, HsmError> {
        let cached = self.cached_signing_key(id);
        match self.sign_with(id, cached, scheme, message) {
            // A cached handle whose key was destroyed elsewhere: look it up afresh, once.
            Err(HsmError::Pkcs11(cryptoki::error::Error::Pkcs11(
                RvError::KeyHandleInvalid | RvError::ObjectHandleInvalid,
                _,
            ))) if cached.is_some() => {
                self.forget_signing_key(id);
                self.sign_with(id, None, scheme, message)
            }
            other => other,
        }
    }

    fn sign_with(
        &self,
        id: &[u8],
        cached: Option<ObjectHandle>,
        scheme: Scheme,
        message: &[u8],
    ) -> Result<Vec<u8>, HsmError> {
        let raw = self
            .with_session_retrying(|session| {
                // Object handles of token objects are valid in every session of the process;
                // a cached one is used only while it still names this CKA_ID (a handle of a
                // destroyed key may be given to another object).
                let still_ours = |key| {
                    session
                        .get_attributes(key, &[AttributeType::Id])
                        .is_ok_and(|attrs| {
                            attrs
                                .iter()
                                .any(|a| matches!(a, Attribute::Id(v) if v.as_slice() == id))
                        })
                };
                let key = match cached.filter(|key| still_ours(*key)) {
                    Some(key) => key,
                    None => match find(session, ObjectClass::PRIVATE_KEY, id)? {
                        Some(key) => key,
                        None => return Ok(None),
                    },
                };
                let signature = match scheme {
                    Scheme::RsaPkcs1Sha256 => {
                        session.sign(&Mechanism::Sha256RsaPkcs, key, message)?
                    }
                    Scheme::RsaPssSha256 => session.sign(
                        &Mechanism::Sha256RsaPkcsPss(PkcsPssParams {
                            hash_alg: MechanismType::SHA256,
                            mgf: PkcsMgfType::MGF1_SHA256,
                            s_len: 32u64.into(),
                        }),
                        key,
                        message,
                    )?,
                    Scheme::EcdsaSha256 => {
                        let digest = Sha256::digest(message);
                        session.sign(&Mechanism::Ecdsa, key, &digest)?
                    }
                };
                Ok(Some((key, signature)))
            })?
            .ok_or(HsmError::KeyNotFound)
            .map(|(key, signature)| {
                self.cache_signing_key(id, key);
                signature
            })?;
        if scheme != Scheme::EcdsaSha256 {
            return Ok(raw);
        }
        // PKCS#11 returns r || s; X.509 and CMS want the DER SEQUENCE of two INTEGERs.
        let (r, s) = raw.split_at(raw.len() / 2);
        EcdsaSigValue {
            r: UintRef::new(r).map_err(der_error)?,
            s: UintRef::new(s).map_err(der_error)?,
        }
        .to_der()
        .map_err(der_error)
    }

    /// Destroys both halves of the pair `id` (key rotation, and tests that must leave the
    /// token as they found it). Blocking.
    pub fn destroy_key(&self, id: &[u8]) -> Result<(), HsmError> {
        self.forget_signing_key(id);
        self.with_session(|session| {
            for class in [ObjectClass::PRIVATE_KEY, ObjectClass::PUBLIC_KEY] {
                if let Some(handle) = find(session, class, id)? {
                    session.destroy_object(handle)?;
                }
            }
            Ok(())
        })
    }

    /// Asks the token for the private key's value: it must refuse (the test of "keys never
    /// leave the HSM"). Returns whether a value came back. Blocking.
    pub fn private_key_is_readable(&self, id: &[u8]) -> Result<bool, HsmError> {
        self.with_session(|session| {
            let Some(key) = find(session, ObjectClass::PRIVATE_KEY, id)? else {
                return Ok(false);
            };
            let attrs = match session.get_attributes(key, &[AttributeType::Value]) {
                Ok(attrs) => attrs,
                Err(_) => return Ok(false),
            };
            Ok(attrs
                .iter()
                .any(|a| matches!(a, Attribute::Value(v) if !v.is_empty())))
        })
    }
}

pub(crate) fn find(
    session: &Session,
    class: ObjectClass,
    id: &[u8],
) -> Result<Option<ObjectHandle>, cryptoki::error::Error> {
    Ok(session
        .find_objects(&[Attribute::Class(class), Attribute::Id(id.to_vec())])?
        .into_iter()
        .next())
}

/// DER SubjectPublicKeyInfo of a public-key object.
pub(crate) fn spki_of(session: &Session, handle: ObjectHandle) -> Result<Vec<u8>, HsmError> {
    let attrs = session.get_attributes(
        handle,
        &[
            AttributeType::KeyType,
            AttributeType::Modulus,
            AttributeType::PublicExponent,
            AttributeType::EcPoint,
        ],
    )?;
    let mut key_type = None;
    let (mut modulus, mut exponent, mut point) = (None, None, None);
    for attr in attrs {
        match attr {
            Attribute::KeyType(t) => key_type = Some(t),
            Attribute::Modulus(m) => modulus = Some(m),
            Attribute::PublicExponent(e) => exponent = Some(e),
            Attribute::EcPoint(p) => point = Some(p),
            _ => {}
        }
    }
    let (algorithm, parameters, key_bits) = match key_type {
        Some(KeyType::RSA) => {
            let (Some(n), Some(e)) = (modulus, exponent) else {
                return Err(HsmError::Encoding("RSA key without modulus".to_owned()));
            };
            let key = RsaPublicKey {
                modulus: UintRef::new(&n).map_err(der_error)?,
                public_exponent: UintRef::new(&e).map_err(der_error)?,
            }
            .to_der()
            .map_err(der_error)?;
            (RSA_ENCRYPTION, Some(der::asn1::Null.into()), key)
        }
        Some(KeyType::EC) => {
            let Some(point) = point else {
                return Err(HsmError::Encoding("EC key without point".to_owned()));
            };
            // CKA_EC_POINT is the DER OCTET STRING holding the uncompressed point.
            let octets = der::asn1::OctetString::from_der(&point)
                .map(|o| o.as_bytes().to_vec())
                .unwrap_or(point);
            (EC_PUBLIC_KEY, Some(P256.into()), octets)
        }
        other => {
            return Err(HsmError::Encoding(format!(
                "unsupported key type {other:?}"
            )))
        }
    };
    spki::SubjectPublicKeyInfoOwned {
        algorithm: spki::AlgorithmIdentifierOwned {
            oid: algorithm,
            parameters,
        },
        subject_public_key: BitString::from_bytes(&key_bits).map_err(der_error)?,
    }
    .to_der()
    .map_err(der_error)
}
