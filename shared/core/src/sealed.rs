//! Sealed envelopes (seed 002), wire format `gsign-sealed/1` (docs/sealed-envelopes.md):
//! the JSON shape, the canonical bytes the sender's RSA-PSS signature covers, the AES-GCM
//! associated data, and every check that needs no key. No I/O, no cryptography here.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

string_enum!(
    /// A cryptographic key's lifecycle in the registry.
    KeyStatus {
        /// Seals, signs and opens.
        Active = "active",
        /// Replaced by a newer key: opens what it sealed, seals nothing new.
        Rotated = "rotated",
        /// Refused for everything.
        Revoked = "revoked",
    }
);

/// The format name and version, first in every envelope and in the signed bytes.
pub const FORMAT: &str = "gsign-sealed/1";
/// The payload cipher: AES-256-GCM, 96-bit IV, 128-bit tag.
pub const ALGORITHM: &str = "AES-256-GCM";
/// The key wrap: RSA-OAEP with SHA-256 and MGF1-SHA-256, empty label.
pub const KEY_ALGORITHM: &str = "RSA-OAEP-256";
/// The signature: RSA-PSS with SHA-256, MGF1-SHA-256, 32-byte salt.
pub const SIGNATURE_ALGORITHM: &str = "RSA-PSS-SHA256";
/// IV length in bytes.
pub const IV_BYTES: usize = 12;
/// Tag length in bytes.
pub const TAG_BYTES: usize = 16;
/// Largest payload, in bytes (before encryption).
pub const MAX_PAYLOAD_BYTES: usize = 4 * 1024 * 1024;

/// A sealed envelope as it travels (every binary field base64, standard alphabet, padded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Wire {
    /// [`FORMAT`].
    pub format: String,
    /// The envelope's id (a UUID, as text).
    pub id: String,
    /// [`ALGORITHM`].
    pub algorithm: String,
    /// [`KEY_ALGORITHM`].
    pub key_algorithm: String,
    /// [`SIGNATURE_ALGORITHM`].
    pub signature_algorithm: String,
    /// The receiver's key id (whose public key wrapped the AES key).
    pub receiver_public_key_id: String,
    /// The sender's key id (whose private key signed).
    pub sender_private_key_id: String,
    /// The ciphertext, without the tag.
    pub encrypted_data: String,
    /// The 12-byte IV.
    pub iv: String,
    /// The 16-byte GCM tag.
    pub auth_tag: String,
    /// The RSA-OAEP-wrapped AES key.
    pub encrypted_key: String,
    /// Text metadata, signed (keys sorted in the signed bytes).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// When it may no longer be opened (RFC 3339, UTC, whole seconds), if ever.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// The sender's signature over [`Wire::signed_bytes`].
    pub signature: String,
}

/// Why an envelope is not well formed: the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Malformed {
    /// The JSON member.
    pub field: &'static str,
    /// What is wrong.
    pub reason: String,
}

/// The decoded binary fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binary {
    /// Ciphertext without tag.
    pub ciphertext: Vec<u8>,
    /// IV.
    pub iv: Vec<u8>,
    /// Tag.
    pub tag: Vec<u8>,
    /// Wrapped AES key.
    pub wrapped_key: Vec<u8>,
    /// Signature.
    pub signature: Vec<u8>,
}

fn decode(field: &'static str, value: &str) -> Result<Vec<u8>, Malformed> {
    BASE64.decode(value).map_err(|e| Malformed {
        field,
        reason: format!("is not base64: {e}"),
    })
}

/// `expires_at` as signed: RFC 3339 in UTC with whole seconds, `Z`; empty when none.
pub fn expiry_text(expires_at: Option<DateTime<Utc>>) -> String {
    expires_at
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// Metadata as signed: compact JSON, keys sorted (what Python's
/// `json.dumps(m, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` writes).
pub fn metadata_text(metadata: &BTreeMap<String, String>) -> String {
    serde_json::to_string(metadata).unwrap_or_else(|_| "{}".to_owned())
}

impl Wire {
    /// The names and algorithms are this format's and every binary field decodes with the
    /// right length; the decoded fields.
    pub fn check(&self) -> Result<Binary, Malformed> {
        let expect = |field: &'static str, value: &str, wanted: &str| {
            if value == wanted {
                Ok(())
            } else {
                Err(Malformed {
                    field,
                    reason: format!("must be {wanted:?}, not {value:?}"),
                })
            }
        };
        expect("format", &self.format, FORMAT)?;
        expect("algorithm", &self.algorithm, ALGORITHM)?;
        expect("key_algorithm", &self.key_algorithm, KEY_ALGORITHM)?;
        expect(
            "signature_algorithm",
            &self.signature_algorithm,
            SIGNATURE_ALGORITHM,
        )?;
        if uuid::Uuid::parse_str(&self.id).is_err() {
            return Err(Malformed {
                field: "id",
                reason: "must be a UUID".to_owned(),
            });
        }
        for (field, value) in [
            ("receiver_public_key_id", &self.receiver_public_key_id),
            ("sender_private_key_id", &self.sender_private_key_id),
        ] {
            if value.is_empty() || value.len() > 255 {
                return Err(Malformed {
                    field,
                    reason: "must be 1 to 255 characters".to_owned(),
                });
            }
        }
        let binary = Binary {
            ciphertext: decode("encrypted_data", &self.encrypted_data)?,
            iv: decode("iv", &self.iv)?,
            tag: decode("auth_tag", &self.auth_tag)?,
            wrapped_key: decode("encrypted_key", &self.encrypted_key)?,
            signature: decode("signature", &self.signature)?,
        };
        for (field, value, length) in [
            ("iv", &binary.iv, IV_BYTES),
            ("auth_tag", &binary.tag, TAG_BYTES),
        ] {
            if value.len() != length {
                return Err(Malformed {
                    field,
                    reason: format!("must be {length} bytes, not {}", value.len()),
                });
            }
        }
        if binary.ciphertext.len() > MAX_PAYLOAD_BYTES {
            return Err(Malformed {
                field: "encrypted_data",
                reason: format!("must be at most {MAX_PAYLOAD_BYTES} bytes"),
            });
        }
        if self
            .expires_at
            .is_some_and(|t| t.timestamp_subsec_nanos() != 0)
        {
            return Err(Malformed {
                field: "expires_at",
                reason: "must be whole seconds".to_owned(),
            });
        }
        Ok(binary)
    }

    /// The bytes the sender signs: the ASCII line `gsign-sealed/1`, then every other field
    /// but the signature, in this order, each as a 4-byte big-endian length and its bytes:
    /// id, algorithm, key_algorithm, signature_algorithm, receiver_public_key_id,
    /// sender_private_key_id, ciphertext, iv, tag, wrapped key (the four binary fields
    /// decoded), metadata ([`metadata_text`]), expires_at ([`expiry_text`]). Lengths make
    /// the encoding unambiguous: no field can lend bytes to its neighbour.
    pub fn signed_bytes(&self, binary: &Binary) -> Vec<u8> {
        let metadata = metadata_text(&self.metadata);
        let expiry = expiry_text(self.expires_at);
        let fields: [&[u8]; 12] = [
            self.id.as_bytes(),
            self.algorithm.as_bytes(),
            self.key_algorithm.as_bytes(),
            self.signature_algorithm.as_bytes(),
            self.receiver_public_key_id.as_bytes(),
            self.sender_private_key_id.as_bytes(),
            &binary.ciphertext,
            &binary.iv,
            &binary.tag,
            &binary.wrapped_key,
            metadata.as_bytes(),
            expiry.as_bytes(),
        ];
        let mut out = Vec::with_capacity(
            FORMAT.len() + 1 + fields.iter().map(|f| f.len() + 4).sum::<usize>(),
        );
        out.extend_from_slice(FORMAT.as_bytes());
        out.push(b'\n');
        for field in fields {
            out.extend_from_slice(&u32::try_from(field.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(field);
        }
        out
    }

    /// The AES-GCM associated data: `gsign-sealed/1:` and the envelope id, so a ciphertext
    /// cannot be moved to another envelope even before the signature is checked.
    pub fn aad(id: &str) -> Vec<u8> {
        format!("{FORMAT}:{id}").into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Wire {
        Wire {
            format: FORMAT.into(),
            id: "0193b7a0-0000-7000-8000-000000000001".into(),
            algorithm: ALGORITHM.into(),
            key_algorithm: KEY_ALGORITHM.into(),
            signature_algorithm: SIGNATURE_ALGORITHM.into(),
            receiver_public_key_id: "receiver-1".into(),
            sender_private_key_id: "sender-1".into(),
            encrypted_data: BASE64.encode(b"ciphertext"),
            iv: BASE64.encode([7u8; 12]),
            auth_tag: BASE64.encode([9u8; 16]),
            encrypted_key: BASE64.encode([1u8; 256]),
            metadata: BTreeMap::from([("b".into(), "2".into()), ("a".into(), "Өө".into())]),
            expires_at: DateTime::parse_from_rfc3339("2027-01-02T03:04:05Z")
                .ok()
                .map(|t| t.with_timezone(&Utc)),
            signature: BASE64.encode([3u8; 256]),
        }
    }

    #[test]
    fn every_field_changes_the_signed_bytes() {
        let wire = sample();
        let binary = wire.check().expect("well formed");
        let signed = wire.signed_bytes(&binary);
        assert!(signed.starts_with(b"gsign-sealed/1\n"));
        let mut changed = Vec::new();
        let mut variant = |edit: &dyn Fn(&mut Wire)| {
            let mut other = sample();
            edit(&mut other);
            let binary = other.check().expect("still well formed");
            changed.push(other.signed_bytes(&binary) != signed);
        };
        variant(&|w| w.id = "0193b7a0-0000-7000-8000-000000000002".into());
        variant(&|w| w.receiver_public_key_id = "receiver-2".into());
        variant(&|w| w.sender_private_key_id = "sender-2".into());
        variant(&|w| w.encrypted_data = BASE64.encode(b"ciphertexu"));
        variant(&|w| w.iv = BASE64.encode([8u8; 12]));
        variant(&|w| w.auth_tag = BASE64.encode([8u8; 16]));
        variant(&|w| w.encrypted_key = BASE64.encode([2u8; 256]));
        variant(&|w| {
            w.metadata.insert("a".into(), "Үү".into());
        });
        variant(&|w| w.expires_at = None);
        assert!(changed.iter().all(|c| *c), "{changed:?}");
        // The signature itself is not signed.
        let mut resigned = sample();
        resigned.signature = BASE64.encode([4u8; 256]);
        assert_eq!(
            resigned.signed_bytes(&resigned.check().expect("ok")),
            signed
        );
        assert_eq!(metadata_text(&wire.metadata), r#"{"a":"Өө","b":"2"}"#);
    }

    #[test]
    fn malformed_fields_are_named() {
        let mut wire = sample();
        wire.iv = BASE64.encode([0u8; 11]);
        assert_eq!(wire.check().expect_err("short iv").field, "iv");
        let mut wire = sample();
        wire.auth_tag = "***".into();
        assert_eq!(wire.check().expect_err("not base64").field, "auth_tag");
        let mut wire = sample();
        wire.key_algorithm = "RSA-OAEP".into();
        assert_eq!(wire.check().expect_err("algorithm").field, "key_algorithm");
        let mut wire = sample();
        wire.id = "x".into();
        assert_eq!(wire.check().expect_err("id").field, "id");
    }
}
