//! A PAdES signature made through the HSM, judged by pyHanko, pdfsig and qpdf.

use std::process::Command;
use std::time::{Duration, SystemTime};

use gsign_platform::hsm::{Hsm, HsmConfig};
use gsign_platform::hsm_keys::{default_scheme, HsmKey, HsmSigner, KeySpec, Scheme};
use gsign_signing::pades::{self, SignatureInfo, DEFAULT_RESERVE};
use gsign_signing::x509::{issue, to_pem, Issuer, Profile, Subject};
use gsign_tests::{root, stack_env, stack_var, unique};

fn hsm() -> Hsm {
    let mut r = stack_env().reader();
    let config = HsmConfig::read(&mut r);
    let config = r.finish(|| config).expect("HSM settings");
    Hsm::open(&config).expect("the SoftHSM token opens")
}

fn subject(name: &str, key: &HsmKey, profile: Profile) -> Subject {
    let now = SystemTime::now();
    Subject {
        name: name.to_owned(),
        spki_der: key.spki_der.clone(),
        serial: uuid::Uuid::new_v4().as_bytes().to_vec(),
        not_before: now - Duration::from_secs(3600),
        not_after: now + Duration::from_secs(365 * 86_400),
        profile,
    }
}

fn run(program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn a_signature_made_in_the_hsm_is_intact_and_trusted_for_pyhanko_pdfsig_and_qpdf() {
    let hsm = hsm();
    let dir = std::env::temp_dir().join(format!("gsign-pades-{}", unique()));
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
        &subject("CN=GSign Test Root,O=GSign", &ca_key, Profile::Ca),
        &Issuer {
            certificate: None,
            signer: &ca_signer,
        },
    )
    .expect("CA");
    let ca_pem = dir.join("ca.pem");
    std::fs::write(&ca_pem, to_pem(&ca).expect("PEM")).expect("write");
    let ca_pem = ca_pem.to_string_lossy().into_owned();

    let mut keys = vec![ca_key.id.clone()];
    for (spec, input) in [
        (KeySpec::Rsa2048, "one-page.pdf"),
        (KeySpec::EcP256, "object-streams.pdf"),
        (KeySpec::Rsa2048, "linearized.pdf"),
    ] {
        let key = hsm
            .generate_signing_key(spec, &format!("signer-{}", unique()))
            .expect("key");
        keys.push(key.id.clone());
        let cert = issue(
            &subject(
                "CN=Батбаяр Өлзий,O=Говь Трейд ХХК",
                &key,
                Profile::DocumentSigner,
            ),
            &Issuer {
                certificate: Some(&ca),
                signer: &ca_signer,
            },
        )
        .expect("certificate");
        let signer = HsmSigner {
            hsm: &hsm,
            key_id: key.id.clone(),
            scheme: default_scheme(spec),
        };
        let original =
            std::fs::read(root().join("shared/pdf/fixtures").join(input)).expect("fixture");
        let signed = pades::sign(
            &original,
            &SignatureInfo {
                field_name: "Signature1".to_owned(),
                signer_name: "Батбаяр Өлзий".to_owned(),
                reason: Some("Гэрээ баталгаажуулах".to_owned()),
                time: SystemTime::now(),
            },
            &[cert, ca.clone()],
            &signer,
            DEFAULT_RESERVE,
        )
        .expect("signed");
        assert_eq!(
            &signed[..original.len()],
            &original[..],
            "{input}: earlier bytes untouched"
        );
        let file = dir.join(format!("signed-{input}"));
        std::fs::write(&file, &signed).expect("write");
        let file = file.to_string_lossy().into_owned();

        let (ok, report) = run(
            &stack_var("GSIGN_PYHANKO"),
            &[
                "sign",
                "adesverify",
                "--trust",
                &ca_pem,
                "--trust-replace",
                "--no-revocation-check",
                &file,
            ],
        );
        assert!(ok, "{spec:?} {input}: pyHanko refused:\n{report}");
        assert!(
            report.contains("INTACT:TRUSTED"),
            "{spec:?} {input}:\n{report}"
        );
        let (_, pdfsig) = run("pdfsig", &[&file]);
        assert!(
            pdfsig.contains("Signature Validation: Signature is Valid."),
            "{spec:?} {input}:\n{pdfsig}"
        );
        assert!(
            pdfsig.contains("Total document signed"),
            "{input}:\n{pdfsig}"
        );
        let (ok, check) = run("qpdf", &["--check", &file]);
        assert!(ok, "{input}: qpdf --check:\n{check}");

        // One flipped byte inside the signed range: both validators refuse.
        let mut tampered = signed.clone();
        let at = original.len() / 2;
        tampered[at] ^= 0x01;
        let bad = dir.join(format!("tampered-{input}"));
        std::fs::write(&bad, &tampered).expect("write");
        let bad = bad.to_string_lossy().into_owned();
        let (ok, report) = run(
            &stack_var("GSIGN_PYHANKO"),
            &[
                "sign",
                "adesverify",
                "--trust",
                &ca_pem,
                "--trust-replace",
                "--no-revocation-check",
                &bad,
            ],
        );
        assert!(
            !ok || !report.contains("INTACT"),
            "{input}: pyHanko accepted a tampered file:\n{report}"
        );
        let (_, pdfsig) = run("pdfsig", &[&bad]);
        assert!(
            !pdfsig.contains("Signature is Valid."),
            "{input}:\n{pdfsig}"
        );
    }
    for id in keys {
        hsm.destroy_key(&id).expect("destroyed");
    }
    let _ = std::fs::remove_dir_all(dir);
}
