//! Secrets that prove who someone is, and how they are kept: passwords (argon2id, OWASP
//! parameters), opaque tokens for refresh, email verification, reset and invitation (256 random
//! bits, stored as SHA-256), API keys (`gsk_<prefix>_<secret>`, looked up by prefix, compared in
//! constant time) and short-lived access tokens (JWT, HS256 only, `exp`/`aud`/`iss`/`typ`
//! checked before any claim is trusted).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm as ArgonAlgorithm, Argon2, Params, Version};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// argon2id with OWASP's first recommended setting: 19 MiB, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    // The parameters are constants within argon2's bounds.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(ArgonAlgorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string (salt and parameters included). CPU-bound (~20 ms):
/// call it from `spawn_blocking`.
pub fn hash_password(password: &SecretString) -> Result<String, CredentialError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|_| CredentialError::Hashing)?;
    argon2()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| CredentialError::Hashing)
}

/// Whether `password` matches the stored PHC `hash`. CPU-bound: call from `spawn_blocking`.
pub fn verify_password(password: &SecretString, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        argon2()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok()
    })
}

/// Hex SHA-256, the stored form of every token and key.
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time equality of two stored hashes.
pub fn hashes_match(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn random_base64(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

/// A freshly made opaque token: give `secret` to its owner once, store `hash`.
pub struct NewToken {
    /// The token itself (256 random bits, base64url).
    pub secret: SecretString,
    /// Its SHA-256, the only form stored.
    pub hash: String,
}

/// A new opaque token (refresh, email verification, password reset, invitation).
pub fn new_token() -> NewToken {
    let secret = random_base64(32);
    NewToken {
        hash: sha256_hex(&secret),
        secret: SecretString::from(secret),
    }
}

/// The marker that starts every API key, so leaked keys are recognisable by scanners.
pub const API_KEY_MARKER: &str = "gsk_";

/// A freshly made API key.
pub struct NewApiKey {
    /// `gsk_<prefix>_<secret>`: shown once.
    pub key: SecretString,
    /// The lookup prefix (public, shown in lists).
    pub prefix: String,
    /// SHA-256 of the whole key.
    pub hash: String,
}

/// A new API key: a 12-hex-digit prefix (48 bits, for lookup; hex, so it never contains the
/// `_` separator) and 256 bits of secret.
pub fn new_api_key() -> NewApiKey {
    let mut prefix = [0u8; 6];
    rand::rng().fill_bytes(&mut prefix);
    let prefix = hex::encode(prefix);
    let key = format!("{API_KEY_MARKER}{prefix}_{}", random_base64(32));
    NewApiKey {
        hash: sha256_hex(&key),
        prefix,
        key: SecretString::from(key),
    }
}

/// The lookup prefix of something that looks like an API key.
pub fn api_key_prefix(candidate: &str) -> Option<&str> {
    let rest = candidate.strip_prefix(API_KEY_MARKER)?;
    let (prefix, secret) = rest.split_once('_')?;
    let is_hex = prefix.bytes().all(|b| b.is_ascii_hexdigit());
    (prefix.len() == 12 && is_hex && secret.len() == 43).then_some(prefix)
}

/// Failures of credential handling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// The password hasher failed (it does not, short of memory exhaustion).
    #[error("password hashing failed")]
    Hashing,
    /// The token is not a valid access token: bad signature, wrong algorithm, expired, wrong
    /// audience, issuer or type. Deliberately one variant: callers learn nothing more.
    #[error("invalid access token")]
    InvalidToken,
    /// The signing key is too short.
    #[error("the access-token signing key must be at least 32 bytes")]
    WeakKey,
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user.
    pub sub: String,
    /// The user's organization.
    pub org: String,
    /// The user's role when the token was issued.
    pub role: String,
    /// The session family (revocation unit).
    pub sid: String,
    /// Always `access`: a refresh or other token can never pass as an access token.
    pub typ: String,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Token id.
    pub jti: String,
}

/// Issues and verifies access tokens with one HMAC key.
pub struct AccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    audience: String,
    /// Lifetime of an access token in seconds.
    pub ttl_seconds: i64,
}

impl AccessTokens {
    /// A signer/verifier for `key` (>= 32 bytes).
    pub fn new(
        key: &SecretString,
        issuer: &str,
        audience: &str,
        ttl_seconds: i64,
    ) -> Result<Self, CredentialError> {
        let bytes = key.expose_secret().as_bytes();
        if bytes.len() < 32 {
            return Err(CredentialError::WeakKey);
        }
        Ok(Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl_seconds,
        })
    }

    /// Signs an access token for `sub` of `org` with `role` in session `sid`, issued `now`.
    pub fn issue(
        &self,
        sub: &str,
        org: &str,
        role: &str,
        sid: &str,
        now: i64,
    ) -> Result<String, CredentialError> {
        let claims = AccessClaims {
            sub: sub.to_owned(),
            org: org.to_owned(),
            role: role.to_owned(),
            sid: sid.to_owned(),
            typ: "access".to_owned(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + self.ttl_seconds,
            jti: random_base64(12),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| CredentialError::InvalidToken)
    }

    /// Verifies signature (HS256 only), `exp` (no leeway beyond 30 s), `iss`, `aud` and
    /// `typ`, in that order, before returning any claim.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, CredentialError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = 30;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &validation)
            .map_err(|_| CredentialError::InvalidToken)?;
        if data.claims.typ != "access" {
            return Err(CredentialError::InvalidToken);
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> AccessTokens {
        AccessTokens::new(
            &SecretString::from("k".repeat(32)),
            "https://gsign.dev",
            "gsign-api",
            900,
        )
        .expect("strong key")
    }

    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default()
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify_only_themselves() {
        let password = SecretString::from("correct horse battery staple".to_owned());
        let hash = hash_password(&password).expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password(&password, &hash));
        assert!(!verify_password(
            &SecretString::from("Correct horse battery staple".to_owned()),
            &hash
        ));
        assert!(!verify_password(&password, "not a phc string"));
    }

    #[test]
    fn tokens_are_random_256_bit_and_stored_only_as_sha256() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a.secret.expose_secret(), b.secret.expose_secret());
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(a.secret.expose_secret())
                .map(|v| v.len()),
            Ok(32)
        );
        assert_eq!(a.hash, sha256_hex(a.secret.expose_secret()));
        assert_eq!(a.hash.len(), 64);
    }

    #[test]
    fn api_keys_carry_a_lookup_prefix_and_hash_as_a_whole() {
        let key = new_api_key();
        let text = key.key.expose_secret();
        assert_eq!(api_key_prefix(text), Some(key.prefix.as_str()));
        assert!(hashes_match(&key.hash, &sha256_hex(text)));
        assert!(!hashes_match(&key.hash, &sha256_hex(&format!("{text}x"))));
        assert_eq!(api_key_prefix("gsk_short_x"), None);
        assert_eq!(api_key_prefix("eyJhbGciOi.x.y"), None);
    }

    #[test]
    fn access_tokens_round_trip_and_refuse_tampering() {
        let t = tokens();
        let token = t
            .issue("user", "org", "admin", "sess", now())
            .expect("issue");
        let claims = t.verify(&token).expect("valid");
        assert_eq!(
            (claims.sub.as_str(), claims.role.as_str()),
            ("user", "admin")
        );
        let mut tampered = token.clone();
        tampered.pop();
        tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(t.verify(&tampered), Err(CredentialError::InvalidToken));
    }

    #[test]
    fn expired_tokens_and_other_audiences_are_refused() {
        let t = tokens();
        let old = t
            .issue("u", "o", "member", "s", now() - 3600)
            .expect("issue");
        assert_eq!(t.verify(&old), Err(CredentialError::InvalidToken));
        let other = AccessTokens::new(
            &SecretString::from("k".repeat(32)),
            "https://gsign.dev",
            "another",
            900,
        )
        .expect("key");
        let foreign = other.issue("u", "o", "member", "s", now()).expect("issue");
        assert_eq!(t.verify(&foreign), Err(CredentialError::InvalidToken));
    }

    #[test]
    fn unsigned_and_other_algorithm_tokens_are_refused() {
        // {"alg":"none"} with valid-looking claims.
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let claims = URL_SAFE_NO_PAD.encode(
            format!(
                r#"{{"sub":"u","org":"o","role":"owner","sid":"s","typ":"access","iss":"https://gsign.dev","aud":"gsign-api","iat":0,"exp":{},"jti":"x"}}"#,
                now() + 600
            )
            .as_bytes(),
        );
        assert_eq!(
            tokens().verify(&format!("{header}.{claims}.")),
            Err(CredentialError::InvalidToken)
        );
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &serde_json::json!({"sub":"u","typ":"access","iss":"https://gsign.dev","aud":"gsign-api","exp": now() + 600}),
            &EncodingKey::from_secret("k".repeat(32).as_bytes()),
        )
        .expect("encode");
        assert_eq!(tokens().verify(&hs512), Err(CredentialError::InvalidToken));
    }

    #[test]
    fn short_signing_keys_are_refused() {
        assert!(matches!(
            AccessTokens::new(&SecretString::from("short".to_owned()), "i", "a", 60),
            Err(CredentialError::WeakKey)
        ));
    }
}
