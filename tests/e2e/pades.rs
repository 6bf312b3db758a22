//! PAdES signatures made through the HSM, judged by pyHanko, pdfsig and qpdf.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, SystemTime};

use gsign_platform::hsm::Hsm;
use gsign_platform::hsm_keys::{default_scheme, HsmKey, HsmSigner, KeySpec, Scheme};
use gsign_signing::pades::{self, SignatureField, SignatureInfo, DEFAULT_RESERVE};
use gsign_signing::x509::{issue, to_pem, Issuer, Profile, Subject};
use gsign_tests::pki::{open_hsm, subject};
use gsign_tests::{root, stack_var, unique};
use x509_cert::Certificate;

/// A test PKI made through the project's own code: a root CA and signers, keys in SoftHSM.
/// Its keys and files are removed when it is dropped.
struct TestPki {
    hsm: Hsm,
    dir: PathBuf,
    ca: Certificate,
    ca_key: HsmKey,
    ca_pem: String,
    keys: Vec<Vec<u8>>,
}

impl TestPki {
    fn new() -> Self {
        let hsm = open_hsm();
        let dir = std::env::temp_dir().join(format!("gsign-pades-{}", unique()));
        std::fs::create_dir_all(&dir).expect("dir");
        let ca_key = hsm
            .generate_signing_key(KeySpec::Rsa3072, &format!("ca-{}", unique()))
            .expect("CA key");
        let ca = issue(
            &subject(
                "CN=GSign Test Root,O=GSign",
                ca_key.spki_der.clone(),
                Profile::Ca,
            ),
            &Issuer {
                certificate: None,
                signer: &HsmSigner {
                    hsm: &hsm,
                    key_id: ca_key.id.clone(),
                    scheme: Scheme::RsaPkcs1Sha256,
                },
            },
        )
        .expect("CA");
        let ca_pem = dir.join("ca.pem");
        std::fs::write(&ca_pem, to_pem(&ca).expect("PEM")).expect("write");
        Self {
            keys: vec![ca_key.id.clone()],
            ca_pem: ca_pem.to_string_lossy().into_owned(),
            hsm,
            dir,
            ca,
            ca_key,
        }
    }

    /// A signer's key and certificate (its chain: itself, then the root).
    fn signer(&mut self, spec: KeySpec, name: &str) -> (HsmKey, Vec<Certificate>) {
        let key = self
            .hsm
            .generate_signing_key(spec, &format!("signer-{}", unique()))
            .expect("key");
        self.keys.push(key.id.clone());
        let cert = issue(
            &subject(name, key.spki_der.clone(), Profile::DocumentSigner),
            &Issuer {
                certificate: Some(&self.ca),
                signer: &HsmSigner {
                    hsm: &self.hsm,
                    key_id: self.ca_key.id.clone(),
                    scheme: Scheme::RsaPkcs1Sha256,
                },
            },
        )
        .expect("certificate");
        (key, vec![cert, self.ca.clone()])
    }

    fn sign(
        &self,
        pdf: &[u8],
        field: &str,
        key: &HsmKey,
        scheme: Scheme,
        chain: &[Certificate],
    ) -> Vec<u8> {
        pades::sign(
            pdf,
            &SignatureInfo {
                field_name: field.to_owned(),
                signer_name: "Батбаяр Өлзий".to_owned(),
                reason: Some("Гэрээ баталгаажуулах".to_owned()),
                time: SystemTime::now(),
            },
            chain,
            &HsmSigner {
                hsm: &self.hsm,
                key_id: key.id.clone(),
                scheme,
            },
            DEFAULT_RESERVE,
        )
        .expect("signed")
    }

    fn write(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, bytes).expect("write");
        path.to_string_lossy().into_owned()
    }

    /// pyHanko's `adesverify` against our root: (exit ok, one line per signature).
    fn pyhanko(&self, file: &str) -> (bool, String) {
        run(
            &stack_var("GSIGN_PYHANKO"),
            &[
                "sign",
                "adesverify",
                "--trust",
                &self.ca_pem,
                "--trust-replace",
                "--no-revocation-check",
                file,
            ],
        )
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        for id in &self.keys {
            let _ = self.hsm.destroy_key(id);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
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

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(root().join("shared/pdf/fixtures").join(name)).expect("fixture")
}

#[test]
fn a_signature_made_in_the_hsm_is_intact_and_trusted_for_pyhanko_pdfsig_and_qpdf() {
    let mut pki = TestPki::new();
    for (spec, input) in [
        (KeySpec::Rsa2048, "one-page.pdf"),
        (KeySpec::EcP256, "object-streams.pdf"),
        (KeySpec::Rsa2048, "linearized.pdf"),
    ] {
        let (key, chain) = pki.signer(spec, "CN=Батбаяр Өлзий,O=Говь Трейд ХХК");
        let original = fixture(input);
        let signed = pki.sign(&original, "Signature1", &key, default_scheme(spec), &chain);
        assert_eq!(
            &signed[..original.len()],
            &original[..],
            "{input}: earlier bytes untouched"
        );
        let file = pki.write(&format!("signed-{input}"), &signed);

        let (ok, report) = pki.pyhanko(&file);
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
        tampered[original.len() / 2] ^= 0x01;
        let bad = pki.write(&format!("tampered-{input}"), &tampered);
        let (ok, report) = pki.pyhanko(&bad);
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
}

#[test]
fn three_signers_in_turn_on_a_prepared_document_keep_every_earlier_signature_valid() {
    let mut pki = TestPki::new();
    for input in ["one-page.pdf", "object-streams.pdf"] {
        let fields: Vec<SignatureField> = (0..3)
            .map(|i| SignatureField {
                name: format!("signer-{}", i + 1),
                page: 1,
                rect: [
                    50.0 + 170.0 * i as f32,
                    50.0,
                    200.0 + 170.0 * i as f32,
                    100.0,
                ],
            })
            .collect();
        let mut pdf = pades::prepare(&fixture(input), &fields).expect("prepared");
        for (i, (spec, scheme)) in [
            (KeySpec::Rsa2048, Scheme::RsaPkcs1Sha256),
            (KeySpec::EcP256, Scheme::EcdsaSha256),
            (KeySpec::Rsa3072, Scheme::RsaPssSha256),
        ]
        .into_iter()
        .enumerate()
        {
            let (key, chain) = pki.signer(spec, &format!("CN=Signer {},O=Говь Трейд ХХК", i + 1));
            let next = pki.sign(&pdf, &format!("signer-{}", i + 1), &key, scheme, &chain);
            assert_eq!(
                &next[..pdf.len()],
                &pdf[..],
                "{input}: revision {i} untouched"
            );
            pdf = next;
        }
        let file = pki.write(&format!("three-{input}"), &pdf);
        let (ok, report) = pki.pyhanko(&file);
        assert!(ok, "{input}: pyHanko refused:\n{report}");
        let lines: Vec<&str> = report.lines().filter(|l| l.contains("INTACT")).collect();
        assert_eq!(lines.len(), 3, "{input}:\n{report}");
        for line in &lines {
            assert!(line.contains("INTACT:TRUSTED"), "{input}:\n{report}");
            assert!(
                line.contains("UNTOUCHED") || line.contains("ACCEPTABLE_MODIFICATIONS"),
                "{input}: a later revision was not an acceptable change:\n{report}"
            );
        }
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.contains("ACCEPTABLE_MODIFICATIONS"))
                .count(),
            2,
            "{input}: the first two signers see acceptable modifications:\n{report}"
        );
        let (_, pdfsig) = run("pdfsig", &[&file]);
        assert_eq!(
            pdfsig.matches("Signature is Valid.").count(),
            3,
            "{input}:\n{pdfsig}"
        );
        let (ok, check) = run("qpdf", &["--check", &file]);
        assert!(ok, "{input}: qpdf --check:\n{check}");

        // Signing a field twice is refused, not silently re-signed.
        let (key, chain) = pki.signer(KeySpec::EcP256, "CN=Late");
        let again = pades::sign(
            &pdf,
            &SignatureInfo {
                field_name: "signer-1".to_owned(),
                signer_name: "Late".to_owned(),
                reason: None,
                time: SystemTime::now(),
            },
            &chain,
            &HsmSigner {
                hsm: &pki.hsm,
                key_id: key.id.clone(),
                scheme: Scheme::EcdsaSha256,
            },
            DEFAULT_RESERVE,
        );
        assert!(again.is_err(), "{input}: a signed field was signed again");
    }
}

/// A local RFC 3161 TSA on 127.0.0.1: `openssl ts -reply` behind a tiny HTTP server, with a
/// certificate (critical EKU timeStamping) that the test root issued. Stops when dropped.
struct LocalTsa {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl LocalTsa {
    async fn start(pki: &TestPki) -> Self {
        let dir = pki.dir.join("tsa");
        std::fs::create_dir_all(&dir).expect("dir");
        let key = dir.join("tsa.key").to_string_lossy().into_owned();
        let (ok, out) = run(
            "openssl",
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &key,
            ],
        );
        assert!(ok, "{out}");
        let spki = dir.join("tsa.spki").to_string_lossy().into_owned();
        let (ok, out) = run(
            "openssl",
            &[
                "pkey", "-in", &key, "-pubout", "-outform", "DER", "-out", &spki,
            ],
        );
        assert!(ok, "{out}");
        let now = SystemTime::now();
        let cert = issue(
            &Subject {
                name: "CN=GSign Test TSA,O=GSign".to_owned(),
                spki_der: std::fs::read(&spki).expect("spki"),
                serial: uuid::Uuid::new_v4().as_bytes().to_vec(),
                not_before: now - Duration::from_secs(3600),
                not_after: now + Duration::from_secs(86_400),
                profile: Profile::TimeStamping,
            },
            &Issuer {
                certificate: Some(&pki.ca),
                signer: &HsmSigner {
                    hsm: &pki.hsm,
                    key_id: pki.ca_key.id.clone(),
                    scheme: Scheme::RsaPkcs1Sha256,
                },
            },
        )
        .expect("TSA certificate");
        std::fs::write(dir.join("tsa.pem"), to_pem(&cert).expect("PEM")).expect("write");
        std::fs::write(dir.join("serial"), "01\n").expect("serial");
        let config = format!(
            "[ tsa ]\ndefault_tsa = local\n[ local ]\ndir = {}\nserial = $dir/serial\n\
             crypto_device = builtin\nsigner_cert = $dir/tsa.pem\ncerts = {}\nsigner_key = $dir/tsa.key\n\
             signer_digest = sha256\ndefault_policy = 1.3.6.1.4.1.99999.1\ndigests = sha256\n\
             accuracy = secs:1\nordering = yes\ntsa_name = no\ness_cert_id_chain = no\n\
             ess_cert_id_alg = sha256\n",
            dir.display(),
            pki.ca_pem
        );
        std::fs::write(dir.join("openssl.cnf"), config).expect("config");

        let app = axum::Router::new().route(
            "/",
            axum::routing::post(move |body: axum::body::Bytes| {
                let dir = dir.clone();
                async move {
                    let id = unique();
                    let query = dir.join(format!("{id}.tsq"));
                    let reply = dir.join(format!("{id}.tsr"));
                    std::fs::write(&query, &body).expect("query");
                    let status = tokio::process::Command::new("openssl")
                        .args(["ts", "-reply", "-config"])
                        .arg(dir.join("openssl.cnf"))
                        .arg("-queryfile")
                        .arg(&query)
                        .arg("-out")
                        .arg(&reply)
                        .output()
                        .await
                        .expect("openssl ts");
                    assert!(
                        status.status.success(),
                        "{}",
                        String::from_utf8_lossy(&status.stderr)
                    );
                    (
                        [(
                            http::header::CONTENT_TYPE,
                            gsign_signing::tsa::RESPONSE_CONTENT_TYPE,
                        )],
                        std::fs::read(&reply).expect("reply"),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("address"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            url,
            stop: Some(stop),
        }
    }

    /// The token for `imprint`, over HTTP like any TSA client.
    async fn stamp(&self, imprint: &[u8; 32]) -> Vec<u8> {
        let nonce: u64 = rand_nonce();
        let request = gsign_signing::tsa::request(imprint, nonce).expect("request");
        let response = reqwest::Client::new()
            .post(&self.url)
            .header("content-type", gsign_signing::tsa::REQUEST_CONTENT_TYPE)
            .body(request)
            .send()
            .await
            .expect("the TSA answers")
            .bytes()
            .await
            .expect("body");
        gsign_signing::tsa::token(&response, imprint, nonce).expect("a valid token")
    }
}

impl Drop for LocalTsa {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn rand_nonce() -> u64 {
    u64::from_be_bytes(
        uuid::Uuid::new_v4().as_bytes()[..8]
            .try_into()
            .expect("8 bytes"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timestamped_signature_is_pades_b_t_for_pyhanko() {
    use der::Encode;
    use sha2::Digest;
    let mut pki = TestPki::new();
    let tsa = LocalTsa::start(&pki).await;
    let (key, chain) = pki.signer(KeySpec::EcP256, "CN=Батбаяр Өлзий,O=Говь Трейд ХХК");
    let original = fixture("one-page.pdf");
    let info = SignatureInfo {
        field_name: "Signature1".to_owned(),
        signer_name: "Батбаяр Өлзий".to_owned(),
        reason: None,
        time: SystemTime::now(),
    };
    // The stages as the signing worker runs them: revision, HSM signature, timestamp, embed.
    let pending = pades::begin(&original, &info, 16 * 1024).expect("revision");
    let attrs =
        gsign_signing::cms::signed_attributes(&pending.digest(), &chain[0]).expect("attributes");
    let signature = pki
        .hsm
        .sign(&key.id, Scheme::EcdsaSha256, &attrs.to_der().expect("DER"))
        .expect("signature");
    let imprint: [u8; 32] = sha2::Sha256::digest(&signature).into();
    let token = tsa.stamp(&imprint).await;
    let cms =
        gsign_signing::cms::assemble(attrs, signature, Scheme::EcdsaSha256, &chain, Some(&token))
            .expect("CMS");
    let signed = pending.finish(&cms).expect("signed");
    let file = pki.write("b-t.pdf", &signed);

    let (ok, report) = pki.pyhanko(&file);
    assert!(ok, "pyHanko refused:\n{report}");
    assert!(report.contains("INTACT:TRUSTED"), "{report}");
    assert!(
        report.contains("TIMESTAMP_TOKEN<INTACT:TRUSTED>"),
        "{report}"
    );
    let (ok, check) = run("qpdf", &["--check", &file]);
    assert!(ok, "{check}");

    // A token for another digest is refused before it can reach a document.
    let other = gsign_signing::tsa::token(&[0u8; 8], &imprint, 1);
    assert!(other.is_err());
}
