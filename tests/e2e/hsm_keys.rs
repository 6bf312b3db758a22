//! Signing keys in the HSM (SoftHSM2 here, CloudHSM in AWS): generated in the token, never
//! readable, and signing in the encodings X.509 and CMS expect. Python's `cryptography` (an
//! independent implementation) parses our public keys and verifies our signatures.

use std::process::Command;

use gsign_platform::hsm_keys::{KeySpec, Scheme};
use gsign_tests::pki::open_hsm as hsm;

/// Verifies with Python's `cryptography`; returns its verdict line.
fn python_verifies(spki_der: &[u8], scheme: Scheme, message: &[u8], signature: &[u8]) -> String {
    let script = r#"
import sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.exceptions import InvalidSignature
spki, scheme, message, signature = (bytes.fromhex(a) if i != 1 else a for i, a in enumerate(sys.argv[1:5]))
key = serialization.load_der_public_key(spki)
try:
    if scheme == "pkcs1":
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    elif scheme == "pss":
        key.verify(signature, message, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
        key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    kind = "rsa-%d" % key.key_size if isinstance(key, rsa.RSAPublicKey) else "ec-p256"
    print("valid", kind)
except InvalidSignature:
    print("invalid")
"#;
    let scheme = match scheme {
        Scheme::RsaPkcs1Sha256 => "pkcs1",
        Scheme::RsaPssSha256 => "pss",
        Scheme::EcdsaSha256 => "ecdsa",
    };
    let out = Command::new(gsign_tests::stack_var("GSIGN_PYTHON"))
        .args(["-c", script])
        .arg(hex::encode(spki_der))
        .arg(scheme)
        .arg(hex::encode(message))
        .arg(hex::encode(signature))
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn keys_made_in_the_hsm_sign_with_every_scheme_and_others_verify_it() {
    let hsm = hsm();
    let message = "Батбаяр Өлзий signs this".as_bytes();
    for (spec, scheme, expected) in [
        (KeySpec::Rsa2048, Scheme::RsaPkcs1Sha256, "valid rsa-2048"),
        (KeySpec::Rsa2048, Scheme::RsaPssSha256, "valid rsa-2048"),
        (KeySpec::Rsa3072, Scheme::RsaPssSha256, "valid rsa-3072"),
        (KeySpec::EcP256, Scheme::EcdsaSha256, "valid ec-p256"),
    ] {
        let label = format!("test-{}", gsign_tests::unique());
        let key = hsm.generate_signing_key(spec, &label).expect("key pair");
        assert_eq!(
            hsm.public_key(&key.id).expect("public key"),
            key.spki_der,
            "found again by id"
        );
        let signature = hsm.sign(&key.id, scheme, message).expect("signature");
        assert_eq!(
            python_verifies(&key.spki_der, scheme, message, &signature),
            expected,
            "{spec:?} {scheme:?}"
        );
        let mut tampered = message.to_vec();
        tampered[0] ^= 1;
        assert_eq!(
            python_verifies(&key.spki_der, scheme, &tampered, &signature),
            "invalid",
            "{spec:?} {scheme:?}: a changed message fails"
        );
        hsm.destroy_key(&key.id).expect("destroyed");
        assert!(matches!(
            hsm.public_key(&key.id),
            Err(gsign_platform::hsm::HsmError::KeyNotFound)
        ));
    }
}

#[test]
fn private_keys_cannot_be_read_from_the_token() {
    let hsm = hsm();
    let key = hsm
        .generate_signing_key(KeySpec::EcP256, &format!("test-{}", gsign_tests::unique()))
        .expect("key pair");
    assert!(
        !hsm.private_key_is_readable(&key.id).expect("asked"),
        "the token handed out a private key value"
    );
    hsm.destroy_key(&key.id).expect("destroyed");
}

#[test]
fn an_unknown_key_id_is_a_clear_error() {
    let hsm = hsm();
    let err = hsm
        .sign(b"no such key id", Scheme::EcdsaSha256, b"x")
        .expect_err("unknown key");
    assert!(
        matches!(err, gsign_platform::hsm::HsmError::KeyNotFound),
        "{err}"
    );
}

#[test]
fn more_signers_than_sessions_wait_their_turn_in_the_pool() {
    let hsm = std::sync::Arc::new(hsm());
    let key = hsm
        .generate_signing_key(KeySpec::EcP256, &format!("test-{}", gsign_tests::unique()))
        .expect("key pair");
    // Four workers over the default pool of two sessions: none fails, none deadlocks.
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (hsm, id) = (std::sync::Arc::clone(&hsm), key.id.clone());
            std::thread::spawn(move || {
                (0..25)
                    .map(|i| {
                        hsm.sign(&id, Scheme::EcdsaSha256, format!("{w}-{i}").as_bytes())
                            .map(|_| 1)
                    })
                    .sum::<Result<u32, _>>()
            })
        })
        .collect();
    let signed: u32 = workers
        .into_iter()
        .map(|w| w.join().expect("worker").expect("signatures"))
        .sum();
    assert_eq!(signed, 100);
    hsm.destroy_key(&key.id).expect("destroyed");
}

#[test]
fn a_key_destroyed_elsewhere_is_not_found_rather_than_signed_with_a_stale_handle() {
    let (first, second) = (hsm(), hsm());
    let key = first
        .generate_signing_key(KeySpec::EcP256, &format!("test-{}", gsign_tests::unique()))
        .expect("key pair");
    // `first` caches the key's handle; `second` (another container's view) destroys the key
    // and makes a new one, which may be handed the freed handle.
    first
        .sign(&key.id, Scheme::EcdsaSha256, b"cache me")
        .expect("signature");
    second.destroy_key(&key.id).expect("destroyed");
    let other = second
        .generate_signing_key(KeySpec::EcP256, &format!("test-{}", gsign_tests::unique()))
        .expect("another key");
    let err = first
        .sign(&key.id, Scheme::EcdsaSha256, b"x")
        .expect_err("the key is gone");
    assert!(
        matches!(err, gsign_platform::hsm::HsmError::KeyNotFound),
        "{err}"
    );
    second.destroy_key(&other.id).expect("destroyed");
}
