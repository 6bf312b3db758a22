//! An organization's CA and its signers' certificates, issued by keys in the HSM. Judged by
//! others: OpenSSL verifies the chain (key usage and basic constraints included) and Python's
//! `cryptography` checks the signatures and reads names in any script.

use std::process::Command;

use gsign_platform::hsm_keys::{default_scheme, HsmSigner, KeySpec, Scheme};
use gsign_signing::x509::{issue, to_pem, Issuer, Profile};
use gsign_tests::pki::{open_hsm as hsm, subject};
use gsign_tests::{stack_var, unique};

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.to_string_lossy().into_owned()
}

#[test]
fn an_organization_ca_in_the_hsm_issues_signer_certificates_that_openssl_and_cryptography_accept() {
    let hsm = hsm();
    let dir = std::env::temp_dir().join(format!("gsign-certs-{}", unique()));
    std::fs::create_dir_all(&dir).expect("dir");
    let ca_key = hsm
        .generate_signing_key(KeySpec::Rsa3072, &format!("ca-{}", unique()))
        .expect("CA key");
    let ca_signer = HsmSigner {
        hsm: &hsm,
        key_id: ca_key.id.clone(),
        scheme: Scheme::RsaPkcs1Sha256,
    };
    let ca = issue(
        &subject(
            "CN=Говь Трейд ХХК Root CA,O=Говь Трейд ХХК",
            ca_key.spki_der.clone(),
            Profile::Ca,
        ),
        &Issuer {
            certificate: None,
            signer: &ca_signer,
        },
    )
    .expect("CA certificate");
    let ca_pem = write(&dir, "ca.pem", &to_pem(&ca).expect("PEM"));

    let mut keys = vec![ca_key.id.clone()];
    for spec in [KeySpec::Rsa2048, KeySpec::EcP256] {
        let key = hsm
            .generate_signing_key(spec, &format!("signer-{}", unique()))
            .expect("signer key");
        keys.push(key.id.clone());
        let leaf = issue(
            &subject(
                "CN=Батбаяр Өлзий,O=Говь Трейд ХХК",
                key.spki_der.clone(),
                Profile::DocumentSigner,
            ),
            &Issuer {
                certificate: Some(&ca),
                signer: &ca_signer,
            },
        )
        .expect("signer certificate");
        let leaf_pem = write(&dir, "leaf.pem", &to_pem(&leaf).expect("PEM"));

        let verify = Command::new("openssl")
            .args([
                "verify",
                "-x509_strict",
                "-purpose",
                "any",
                "-CAfile",
                &ca_pem,
                &leaf_pem,
            ])
            .output()
            .expect("openssl runs");
        assert!(
            verify.status.success(),
            "{spec:?}: {}{}",
            String::from_utf8_lossy(&verify.stdout),
            String::from_utf8_lossy(&verify.stderr)
        );

        let script = r#"
import sys
from cryptography import x509
from cryptography.x509.oid import NameOID
ca = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
leaf = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
ca.verify_directly_issued_by(ca)
leaf.verify_directly_issued_by(ca)
assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
ku = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
assert ku.digital_signature and ku.content_commitment and not ku.key_cert_sign
aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
assert aki == ski
print(leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
"#;
        let out = Command::new(stack_var("GSIGN_PYTHON"))
            .args(["-c", script, &ca_pem, &leaf_pem])
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "{spec:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Батбаяр Өлзий");
        assert_eq!(
            default_scheme(spec) == Scheme::EcdsaSha256,
            spec == KeySpec::EcP256
        );
    }
    for id in keys {
        hsm.destroy_key(&id).expect("destroyed");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_ca_that_signs_with_pss_or_ecdsa_is_accepted_too() {
    let hsm = hsm();
    for (spec, scheme) in [
        (KeySpec::Rsa2048, Scheme::RsaPssSha256),
        (KeySpec::EcP256, Scheme::EcdsaSha256),
    ] {
        let key = hsm
            .generate_signing_key(spec, &format!("ca-{}", unique()))
            .expect("key");
        let signer = HsmSigner {
            hsm: &hsm,
            key_id: key.id.clone(),
            scheme,
        };
        let ca = issue(
            &subject("CN=Test CA", key.spki_der.clone(), Profile::Ca),
            &Issuer {
                certificate: None,
                signer: &signer,
            },
        )
        .expect("certificate");
        let dir = std::env::temp_dir().join(format!("gsign-certs-{}", unique()));
        std::fs::create_dir_all(&dir).expect("dir");
        let pem = write(&dir, "ca.pem", &to_pem(&ca).expect("PEM"));
        let verify = Command::new("openssl")
            .args(["verify", "-x509_strict", "-CAfile", &pem, &pem])
            .output()
            .expect("openssl runs");
        assert!(
            verify.status.success(),
            "{scheme:?}: {}",
            String::from_utf8_lossy(&verify.stderr)
        );
        hsm.destroy_key(&key.id).expect("destroyed");
        let _ = std::fs::remove_dir_all(dir);
    }
}
