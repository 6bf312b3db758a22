//! The test kit for signatures: the local SoftHSM token, certificate subjects, a test PKI made
//! through the project's own code (root CA and signers in the HSM), a local RFC 3161 TSA
//! (`openssl ts -reply` behind a tiny HTTP server), signer field sets, and the external tools.

use std::time::{Duration, SystemTime};

use gsign_platform::hsm::{Hsm, HsmConfig};
use gsign_signing::x509::{Profile, Subject};

/// The local stack's SoftHSM token, opened (a pool of `HSM_POOL_SIZE` sessions).
pub fn open_hsm() -> Hsm {
    let mut r = crate::stack_env().reader();
    let config = HsmConfig::read(&mut r);
    let config = r.finish(|| config).expect("HSM settings");
    Hsm::open(&config).expect("the SoftHSM token opens")
}

/// A subject valid from an hour ago for a year, with a random 16-byte serial.
pub fn subject(name: &str, spki_der: Vec<u8>, profile: Profile) -> Subject {
    let now = SystemTime::now();
    Subject {
        name: name.to_owned(),
        spki_der,
        serial: uuid::Uuid::new_v4().as_bytes().to_vec(),
        not_before: now - Duration::from_secs(3600),
        not_after: now + Duration::from_secs(365 * 86_400),
        profile,
        crl_url: None,
    }
}

// ---------------------------------------------------------------- the test PKI and TSA

use std::path::PathBuf;
use std::process::Command;

use gsign_platform::hsm_keys::{HsmKey, HsmSigner, KeySpec, Scheme};
use gsign_signing::form::{FieldFill, FieldKind, FieldSpec, FieldValue};
use gsign_signing::pades::{self, SignatureInfo, DEFAULT_RESERVE};
use gsign_signing::x509::{issue, to_pem, Issuer};
use x509_cert::Certificate;

use crate::{root, stack_var, unique};

/// A test PKI made through the project's own code: a root CA and signers, keys in SoftHSM.
/// Its keys and files are removed when it is dropped.
pub struct TestPki {
    /// The token.
    pub hsm: Hsm,
    /// Scratch files, removed on drop.
    pub dir: PathBuf,
    /// The root certificate.
    pub ca: Certificate,
    /// The root's key.
    pub ca_key: HsmKey,
    /// Path of the root's PEM.
    pub ca_pem: String,
    /// Every key made, destroyed on drop.
    pub keys: Vec<Vec<u8>>,
}

impl TestPki {
    /// A new root CA in the HSM.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
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
    pub fn signer(&mut self, spec: KeySpec, name: &str) -> (HsmKey, Vec<Certificate>) {
        self.signer_naming_crl(spec, name, None)
    }

    /// [`TestPki::signer`] whose certificate names `crl_url` as its CRL distribution point.
    pub fn signer_naming_crl(
        &mut self,
        spec: KeySpec,
        name: &str,
        crl_url: Option<String>,
    ) -> (HsmKey, Vec<Certificate>) {
        let key = self
            .hsm
            .generate_signing_key(spec, &format!("signer-{}", unique()))
            .expect("key");
        self.keys.push(key.id.clone());
        let cert = issue(
            &Subject {
                crl_url,
                ..subject(name, key.spki_der.clone(), Profile::DocumentSigner)
            },
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

    /// One B-B signature of `field` (created on page 1 if the document has none).
    pub fn sign(
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
                locks_document: false,
            },
            &[],
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

    /// Writes `bytes` into the scratch directory; returns the path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, bytes).expect("write");
        path.to_string_lossy().into_owned()
    }

    /// Documents another party signed with pyHanko (`tests/interop/signed_elsewhere.py`:
    /// signed once, twice, certified with DocMDP P=1 and P=2), in this PKI's folder: (the
    /// other party's certificate, the folder).
    pub fn signed_elsewhere(&self) -> (String, std::path::PathBuf) {
        let dir = self.dir.clone();
        let (ok, out) = run(
            &stack_var("GSIGN_PYTHON"),
            &[
                &root()
                    .join("tests/interop/signed_elsewhere.py")
                    .to_string_lossy(),
                &root()
                    .join("shared/pdf/fixtures/one-page.pdf")
                    .to_string_lossy(),
                &dir.to_string_lossy(),
            ],
        );
        assert!(ok, "{out}");
        (
            dir.join("other-party.pem").to_string_lossy().into_owned(),
            dir,
        )
    }

    /// pyHanko's `adesverify` against our root: (exit ok, one line per signature).
    pub fn pyhanko(&self, file: &str) -> (bool, String) {
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

/// Runs `program`: (exit success, stdout + stderr).
pub fn run(program: &str, args: &[&str]) -> (bool, String) {
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

/// A file of `shared/pdf/fixtures`.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(root().join("shared/pdf/fixtures").join(name)).expect("fixture")
}

/// A local RFC 3161 TSA on 127.0.0.1: `openssl ts -reply` behind a tiny HTTP server, with a
/// certificate (critical EKU timeStamping) that the test root issued. Stops when dropped.
pub struct LocalTsa {
    /// Where to POST requests.
    pub url: String,
    dir: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    in_service: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl LocalTsa {
    /// Starts the TSA on a free port, its certificate valid for a day.
    pub async fn start(pki: &TestPki) -> Self {
        Self::start_valid_for(pki, Duration::from_secs(86_400)).await
    }

    /// Starts the TSA on a free port, its certificate valid for `validity` from now.
    pub async fn start_valid_for(pki: &TestPki, validity: Duration) -> Self {
        // A directory per TSA: several may serve one PKI, each with its own key and certificate.
        let dir = pki.dir.join(format!("tsa-{}", crate::unique()));
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
        // Bound first: the certificate names the CRL this server serves.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let url = format!("http://{address}/");
        let now = SystemTime::now();
        let root_signer = HsmSigner {
            hsm: &pki.hsm,
            key_id: pki.ca_key.id.clone(),
            scheme: Scheme::RsaPkcs1Sha256,
        };
        let cert = issue(
            &Subject {
                name: "CN=GSign Test TSA,O=GSign".to_owned(),
                spki_der: std::fs::read(&spki).expect("spki"),
                serial: uuid::Uuid::new_v4().as_bytes().to_vec(),
                not_before: now - Duration::from_secs(3600),
                not_after: now + validity,
                profile: Profile::TimeStamping,
                crl_url: Some(format!("http://{address}/{}", gsign_local::tsa::CRL_FILE)),
            },
            &Issuer {
                certificate: Some(&pki.ca),
                signer: &root_signer,
            },
        )
        .expect("TSA certificate");
        // The test root's CRL: nothing revoked, issued an hour ago, good for a week.
        let crl = gsign_signing::crl::issue_crl(
            &pki.ca,
            &root_signer,
            &gsign_signing::crl::CrlContents {
                number: 1,
                this_update: now - Duration::from_secs(3600),
                next_update: now + Duration::from_secs(7 * 86_400),
                revoked: Vec::new(),
            },
        )
        .expect("the test root's CRL");
        std::fs::write(
            dir.join(gsign_local::tsa::CRL_FILE),
            der::Encode::to_der(&crl).expect("DER"),
        )
        .expect("write");
        std::fs::write(dir.join("tsa.pem"), to_pem(&cert).expect("PEM")).expect("write");
        gsign_local::tsa::configure(
            &dir,
            &dir.join("tsa.key"),
            &dir.join("tsa.pem"),
            std::path::Path::new(&pki.ca_pem),
        )
        .expect("config");
        let in_service = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let app = gsign_local::tsa::router(dir.clone(), std::sync::Arc::clone(&in_service));
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
            dir,
            stop: Some(stop),
            in_service,
        }
    }

    /// Where this TSA serves its issuer's CRL (what its certificate names).
    pub fn crl_url(&self) -> String {
        format!("{}{}", self.url, gsign_local::tsa::CRL_FILE)
    }

    /// Serves a CRL of the test root listing `revoked` (serial numbers) instead of the
    /// empty one, issued now.
    pub fn publish_root_crl(&self, pki: &TestPki, revoked: &[Vec<u8>]) {
        let now = SystemTime::now();
        let crl = gsign_signing::crl::issue_crl(
            &pki.ca,
            &HsmSigner {
                hsm: &pki.hsm,
                key_id: pki.ca_key.id.clone(),
                scheme: Scheme::RsaPkcs1Sha256,
            },
            &gsign_signing::crl::CrlContents {
                number: 2,
                this_update: now,
                next_update: now + Duration::from_secs(7 * 86_400),
                revoked: revoked
                    .iter()
                    .map(|serial| gsign_signing::crl::Revocation {
                        serial: serial.clone(),
                        at: now - Duration::from_secs(60),
                        reason: None,
                    })
                    .collect(),
            },
        )
        .expect("CRL");
        std::fs::write(
            self.dir.join(gsign_local::tsa::CRL_FILE),
            der::Encode::to_der(&crl).expect("DER"),
        )
        .expect("write");
    }

    /// Takes the TSA out of service (it answers 503) or back.
    pub fn set_in_service(&self, on: bool) {
        self.in_service
            .store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// The token for `imprint`, over HTTP like any TSA client.
    pub async fn stamp(&self, imprint: &[u8; 32]) -> Vec<u8> {
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

/// A random nonce.
pub fn rand_nonce() -> u64 {
    u64::from_be_bytes(
        uuid::Uuid::new_v4().as_bytes()[..8]
            .try_into()
            .expect("8 bytes"),
    )
}

/// A drawn signature as a signature pad sends it: a blue stroke on a transparent background.
pub fn drawn_signature_png(seed: f32) -> Vec<u8> {
    let (width, height) = (300u32, 100u32);
    let mut rgba = vec![0u8; (width * height * 4) as usize];
    for x in 10..290 {
        let t = x as f32 / 40.0 + seed;
        let y = (50.0 + 30.0 * t.sin() * (t * 0.7).cos()) as i64;
        for dy in -2..=2 {
            let row = (y + dy).clamp(0, i64::from(height) - 1) as u32;
            let at = ((row * width + x) * 4) as usize;
            rgba[at..at + 4].copy_from_slice(&[20, 40, 160, 255]);
        }
    }
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().expect("header");
    writer.write_image_data(&rgba).expect("pixels");
    writer.finish().expect("png");
    bytes
}

/// Two signers' fields on page 1 and the completion seal's field, as completion prepares a
/// document for two people.
pub fn two_signers_and_the_seal() -> Vec<FieldSpec> {
    let mut fields = signer_fields(1, 1, 60.0);
    fields.extend(signer_fields(2, 1, 150.0));
    fields.push(FieldSpec {
        name: "gsign-seal".into(),
        kind: FieldKind::Seal,
        page: 1,
        x: 0.0,
        y: 0.0,
        width: 0.0,
        height: 0.0,
    });
    fields
}

/// The fields of signer `n` (1-based) on `page`: a signature, initials, text, a date and a
/// check box, in a row from `top` points below the top of the displayed page.
pub fn signer_fields(n: usize, page: u32, top: f32) -> Vec<FieldSpec> {
    let field = |kind, suffix: &str, x: f32, width: f32, height: f32| FieldSpec {
        name: format!("signer-{n}-{suffix}"),
        kind,
        page,
        x,
        y: top,
        width,
        height,
    };
    vec![
        field(FieldKind::Signature, "signature", 30.0, 170.0, 50.0),
        field(FieldKind::Initials, "initials", 210.0, 50.0, 30.0),
        field(FieldKind::Text, "title", 270.0, 120.0, 20.0),
        field(FieldKind::Date, "date", 400.0, 80.0, 20.0),
        field(FieldKind::Checkbox, "agree", 490.0, 16.0, 16.0),
    ]
}

pub fn signer_values(n: usize, typed_name: Option<&str>) -> Vec<FieldFill> {
    let fill = |suffix: &str, value| FieldFill {
        name: format!("signer-{n}-{suffix}"),
        value,
    };
    let signature = match typed_name {
        Some(name) => FieldValue::Text(name.to_owned()),
        None => FieldValue::Drawing {
            png: drawn_signature_png(n as f32),
            text: String::new(),
        },
    };
    vec![
        fill("signature", signature),
        fill(
            "initials",
            FieldValue::Drawing {
                png: drawn_signature_png(n as f32 * 3.0),
                text: format!("S{n}"),
            },
        ),
        fill("title", FieldValue::Text(format!("Захирал {n}"))),
        fill("date", FieldValue::Text("2026-11-28".to_owned())),
        fill("agree", FieldValue::Checked(true)),
    ]
}

/// How many pixels of a binary PGM are dark.
pub fn dark_pixels(pgm: &[u8]) -> usize {
    // Header: "P5\n<w> <h>\n<max>\n", then one byte per pixel.
    let mut newlines = 0;
    let start = pgm
        .iter()
        .position(|&b| {
            newlines += usize::from(b == b'\n');
            newlines == 3
        })
        .map_or(pgm.len(), |at| at + 1);
    pgm[start..].iter().filter(|&&v| v < 100).count()
}
