//! PAdES signatures made through the HSM, judged by pyHanko, pdfsig and qpdf.

use std::time::{Duration, SystemTime};

use gsign_platform::hsm_keys::{default_scheme, HsmSigner, KeySpec, Scheme};
use gsign_platform::pades_signer::{sign_revision, Level, SigningKey, TsaClient};
use gsign_signing::form::{self, FieldKind, FieldSpec};
use gsign_signing::pades::{self, SignatureInfo, DEFAULT_RESERVE};
use gsign_signing::verify::Change;
use gsign_tests::pki::{
    dark_pixels, fixture, run, signer_fields, signer_values, LocalTsa, TestPki,
};

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
        let fields: Vec<FieldSpec> = (0..3)
            .map(|i| FieldSpec {
                name: format!("signer-{}", i + 1),
                kind: FieldKind::Signature,
                page: 1,
                x: 50.0 + 170.0 * i as f32,
                y: 50.0,
                width: 150.0,
                height: 50.0,
            })
            .collect();
        let mut pdf = form::prepare(&fixture(input), &fields).expect("prepared");
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
                locks_document: false,
            },
            &[],
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
        locks_document: false,
    };
    // The stages as the signing worker runs them: revision, HSM signature, timestamp, embed.
    let pending = pades::begin(&original, &info, &[], 16 * 1024).expect("revision");
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

#[tokio::test(flavor = "multi_thread")]
async fn three_signers_fill_their_fields_then_the_seal_closes_the_document() {
    let mut pki = TestPki::new();
    let tsa = LocalTsa::start(&pki).await;
    let tsa_client =
        TsaClient::new(tsa.url.parse().expect("url"), Duration::from_secs(10)).expect("TSA client");
    let signers = [
        (KeySpec::Rsa2048, Scheme::RsaPkcs1Sha256, None),
        (KeySpec::EcP256, Scheme::EcdsaSha256, Some("Батбаяр Өлзий")),
        (KeySpec::Rsa3072, Scheme::RsaPssSha256, None),
    ];
    let keys: Vec<_> = signers
        .iter()
        .enumerate()
        .map(|(i, (spec, _, _))| {
            pki.signer(*spec, &format!("CN=Signer {},O=Говь Трейд ХХК", i + 1))
        })
        .collect();
    let (seal_key, seal_chain) = pki.signer(KeySpec::Rsa3072, "CN=GSign Seal,O=Говь Трейд ХХК");

    // Each input shape, and a document whose pages 2 and 3 are rotated (90 and 270).
    for (input, pages) in [
        ("one-page.pdf", [1, 1, 1]),
        ("object-streams.pdf", [1, 1, 1]),
        ("linearized.pdf", [1, 1, 1]),
        ("three-pages-rotated.pdf", [1, 2, 3]),
    ] {
        let mut fields: Vec<FieldSpec> = (0..3)
            .flat_map(|i| signer_fields(i + 1, pages[i], 60.0 + 90.0 * i as f32))
            .collect();
        fields.push(FieldSpec {
            name: "gsign-seal".to_owned(),
            kind: FieldKind::Seal,
            page: 1,
            x: 0.0,
            y: 0.0,
            width: 0.0,
            height: 0.0,
        });
        let prepared = form::prepare(&fixture(input), &fields).expect("prepared");
        let mut pdf = prepared.clone();
        for (i, ((_, scheme, typed), (key, chain))) in signers.iter().zip(&keys).enumerate() {
            let n = i + 1;
            let next = sign_revision(
                &pdf,
                &SignatureInfo {
                    field_name: format!("signer-{n}-signature"),
                    signer_name: typed.unwrap_or("Signer").to_owned(),
                    reason: None,
                    time: SystemTime::now(),
                    locks_document: false,
                },
                &signer_values(n, *typed),
                &SigningKey {
                    hsm: &pki.hsm,
                    key_id: key.id.clone(),
                    scheme: *scheme,
                    chain: chain.clone(),
                },
                Level::BT,
                Some(&tsa_client),
            )
            .await
            .unwrap_or_else(|e| panic!("{input}: signer {n}: {e}"));
            assert_eq!(
                &next[..pdf.len()],
                &pdf[..],
                "{input}: revision {n} appends"
            );
            pdf = next;
        }
        let sealed = sign_revision(
            &pdf,
            &SignatureInfo {
                field_name: "gsign-seal".to_owned(),
                signer_name: "GSign".to_owned(),
                reason: Some("Envelope completed".to_owned()),
                time: SystemTime::now(),
                locks_document: true,
            },
            &[],
            &SigningKey {
                hsm: &pki.hsm,
                key_id: seal_key.id.clone(),
                scheme: Scheme::RsaPssSha256,
                chain: seal_chain.clone(),
            },
            Level::BT,
            Some(&tsa_client),
        )
        .await
        .expect("sealed");
        let file = pki.write(&format!("sealed-{input}"), &sealed);

        let (ok, report) = pki.pyhanko(&file);
        assert!(ok, "{input}: pyHanko refused:\n{report}");
        let lines: Vec<&str> = report.lines().filter(|l| l.contains(":INTACT")).collect();
        assert_eq!(lines.len(), 4, "{input}:\n{report}");
        for line in &lines {
            assert!(line.contains("INTACT:TRUSTED"), "{input}:\n{report}");
            assert!(
                line.contains("TIMESTAMP_TOKEN<INTACT:TRUSTED>"),
                "{input}:\n{report}"
            );
        }
        for line in &lines[..3] {
            assert!(
                line.contains("ACCEPTABLE_MODIFICATIONS"),
                "{input}: an earlier signature saw more than form filling:\n{report}"
            );
        }
        let (_, pdfsig) = run("pdfsig", &[&file]);
        assert_eq!(
            pdfsig.matches("Signature is Valid.").count(),
            4,
            "{input}:\n{pdfsig}"
        );
        let last = pdfsig.rsplit("Signature #").next().unwrap_or_default();
        assert!(last.contains("Total document signed"), "{input}:\n{pdfsig}");
        let (ok, check) = run("qpdf", &["--check", &file]);
        assert!(ok, "{input}: qpdf --check:\n{check}");

        // Our verifier agrees: all valid and trusted, and it names what came after each.
        let ours = gsign_signing::verify::verify(&sealed, std::slice::from_ref(&pki.ca));
        assert!(ours.all_valid_and_trusted(), "{input}: {ours:#?}");
        let later: Vec<_> = ours.signatures.iter().map(|s| s.later_changes).collect();
        assert_eq!(
            later,
            [
                Some(Change::FormFilling),
                Some(Change::FormFilling),
                Some(Change::SignatureOnly),
                None
            ],
            "{input}: {ours:#?}"
        );
        assert!(ours
            .signatures
            .iter()
            .all(|s| s.timestamp.as_ref().is_some_and(|t| t.intact && t.trusted)));

        // The typed name is in an embedded subset with a ToUnicode map, and reads back.
        let (ok, fonts) = run("pdffonts", &[&file]);
        assert!(ok, "{fonts}");
        let dejavu = fonts
            .lines()
            .find(|l| l.contains("+DejaVuSans"))
            .unwrap_or_else(|| panic!("{input}: no embedded DejaVu subset:\n{fonts}"));
        let columns: Vec<&str> = dejavu.split_whitespace().collect();
        assert!(
            columns.ends_with(&["yes", "yes", "yes"][..])
                || columns.windows(3).any(|w| w == ["yes", "yes", "yes"]),
            "{input}: emb/sub/uni not all yes: {dejavu}"
        );
        let page = pages[1].to_string();
        let (ok, text) = run("pdftotext", &["-f", &page, "-l", &page, &file, "-"]);
        assert!(ok, "{text}");
        assert!(
            text.contains("Батбаяр Өлзий"),
            "{input}: text reads:\n{text}"
        );

        // Rendered upright, signer 2's typed-signature box gains ink once signed.
        let ink = |pdf_path: &str, name: &str| {
            let prefix = pki.dir.join(name).to_string_lossy().into_owned();
            let (ok, out) = run(
                "pdftoppm",
                &[
                    "-f",
                    &page,
                    "-l",
                    &page,
                    "-r",
                    "72",
                    "-gray",
                    "-singlefile",
                    "-x",
                    "30",
                    "-y",
                    "150",
                    "-W",
                    "170",
                    "-H",
                    "50",
                    pdf_path,
                    &prefix,
                ],
            );
            assert!(ok, "{out}");
            dark_pixels(&std::fs::read(format!("{prefix}.pgm")).expect("rendered box"))
        };
        let blank = pki.write(&format!("blank-{input}"), &prepared);
        let (before, after) = (
            ink(&blank, &format!("before-{input}")),
            ink(&file, &format!("after-{input}")),
        );
        assert!(
            after > before + 150,
            "{input}: the typed name left no ink ({before} -> {after} dark pixels)"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_working_tsa_b_t_signing_fails_and_only_b_b_goes_ahead() {
    let mut pki = TestPki::new();
    let (key, chain) = pki.signer(KeySpec::EcP256, "CN=Signer,O=GSign");
    let signing_key = SigningKey {
        hsm: &pki.hsm,
        key_id: key.id.clone(),
        scheme: Scheme::EcdsaSha256,
        chain,
    };
    let info = SignatureInfo {
        field_name: "Signature1".to_owned(),
        signer_name: "Signer".to_owned(),
        reason: None,
        time: SystemTime::now(),
        locks_document: false,
    };
    let pdf = fixture("one-page.pdf");
    // A port nobody listens on, and a TSA that answers with an error page.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("address");
    let broken = axum::Router::new().route(
        "/",
        axum::routing::post(|| async { (http::StatusCode::SERVICE_UNAVAILABLE, "busy") }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let broken_url = format!("http://{}/", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, broken).await });
    for url in [format!("http://{closed}/"), broken_url] {
        let client =
            TsaClient::new(url.parse().expect("url"), Duration::from_secs(5)).expect("client");
        let refused = sign_revision(&pdf, &info, &[], &signing_key, Level::BT, Some(&client)).await;
        assert!(
            matches!(
                refused,
                Err(gsign_platform::pades_signer::RevisionError::Timestamp(_))
            ),
            "{url}: {refused:?}"
        );
    }
    let unconfigured = sign_revision(&pdf, &info, &[], &signing_key, Level::BT, None).await;
    assert!(matches!(
        unconfigured,
        Err(gsign_platform::pades_signer::RevisionError::Timestamp(_))
    ));
    let b_b = sign_revision(&pdf, &info, &[], &signing_key, Level::BB, None)
        .await
        .expect("B-B is allowed without a TSA");
    let file = pki.write("b-b.pdf", &b_b);
    let (ok, report) = pki.pyhanko(&file);
    assert!(ok && report.contains("INTACT:TRUSTED"), "{report}");
    assert!(!report.contains("TIMESTAMP_TOKEN"), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_tsa_hands_over_to_the_next_in_order_and_all_failing_says_why_for_each() {
    let mut pki = TestPki::new();
    let (key, chain) = pki.signer(KeySpec::EcP256, "CN=Signer,O=GSign");
    let signing_key = SigningKey {
        hsm: &pki.hsm,
        key_id: key.id.clone(),
        scheme: Scheme::EcdsaSha256,
        chain,
    };
    let info = SignatureInfo {
        field_name: "Signature1".to_owned(),
        signer_name: "Signer".to_owned(),
        reason: None,
        time: SystemTime::now(),
        locks_document: false,
    };
    let pdf = fixture("one-page.pdf");
    let down = LocalTsa::start(&pki).await;
    down.set_in_service(false);
    let up = LocalTsa::start(&pki).await;
    let urls =
        |list: &[&str]| -> Vec<url::Url> { list.iter().map(|u| u.parse().expect("url")).collect() };

    let client = TsaClient::with_fallbacks(urls(&[&down.url, &up.url]), Duration::from_secs(5))
        .expect("client");
    let signed = sign_revision(&pdf, &info, &[], &signing_key, Level::BT, Some(&client))
        .await
        .expect("the second authority stamps");
    let file = pki.write("failover.pdf", &signed);
    let (ok, report) = pki.pyhanko(&file);
    assert!(
        ok && report.contains("TIMESTAMP_TOKEN<INTACT:TRUSTED>"),
        "{report}"
    );

    let client = TsaClient::with_fallbacks(urls(&[&down.url, &down.url]), Duration::from_secs(5))
        .expect("client");
    let refused = sign_revision(&pdf, &info, &[], &signing_key, Level::BT, Some(&client)).await;
    let Err(gsign_platform::pades_signer::RevisionError::Timestamp(why)) = refused else {
        panic!("{refused:?}");
    };
    assert_eq!(
        why.matches(&down.url).count(),
        2,
        "each failure named: {why}"
    );
}

#[test]
fn a_document_signed_elsewhere_takes_gsign_fields_in_an_update_that_keeps_its_signatures() {
    let mut pki = TestPki::new();
    let (other_party, dir) = pki.signed_elsewhere();
    for (input, earlier) in [("signed-once.pdf", 1), ("signed-twice.pdf", 2)] {
        let signed = std::fs::read(dir.join(input)).expect("input");
        let fields = [
            FieldSpec {
                name: "signer-1".to_owned(),
                kind: FieldKind::Signature,
                page: 1,
                x: 50.0,
                y: 50.0,
                width: 150.0,
                height: 50.0,
            },
            FieldSpec {
                name: "gsign-seal".to_owned(),
                kind: FieldKind::Seal,
                page: 1,
                x: 0.0,
                y: 0.0,
                width: 0.0,
                height: 0.0,
            },
        ];
        // A text field would be a change the earlier signatures do not permit.
        let company = FieldSpec {
            name: "company".to_owned(),
            kind: FieldKind::Text,
            page: 1,
            x: 50.0,
            y: 150.0,
            width: 150.0,
            height: 20.0,
        };
        let refused = form::prepare(&signed, &[fields[0].clone(), company])
            .expect_err("signature fields only");
        assert!(
            refused.to_string().contains("only signature fields"),
            "{refused}"
        );
        let prepared = form::prepare(&signed, &fields).expect("prepared");
        assert_eq!(
            &prepared[..signed.len()],
            &signed[..],
            "{input}: the signed bytes are kept, the fields come in an update"
        );
        let (key, chain) = pki.signer(KeySpec::EcP256, "CN=GSign Signer,O=Говь Трейд ХХК");
        let pdf = pki.sign(&prepared, "signer-1", &key, Scheme::EcdsaSha256, &chain);
        let file = pki.write(&format!("elsewhere-{input}"), &pdf);
        let (ok, report) = run(
            &gsign_tests::stack_var("GSIGN_PYHANKO"),
            &[
                "sign",
                "adesverify",
                "--trust",
                &pki.ca_pem,
                "--trust",
                &other_party,
                "--trust-replace",
                "--no-revocation-check",
                &file,
            ],
        );
        assert!(ok, "{input}: pyHanko refused:\n{report}");
        let lines: Vec<&str> = report.lines().filter(|l| l.contains("INTACT")).collect();
        assert_eq!(lines.len(), earlier + 1, "{input}:\n{report}");
        for line in &lines {
            assert!(line.contains("INTACT:TRUSTED"), "{input}:\n{report}");
            assert!(
                line.contains("UNTOUCHED") || line.contains("ACCEPTABLE_MODIFICATIONS"),
                "{input}: a later revision was not an acceptable change:\n{report}"
            );
        }
        // GSign's own verifier agrees: every signature valid, the new fields acceptable.
        let verdict = gsign_signing::verify::verify(&pdf, &[]);
        assert_eq!(verdict.signatures.len(), earlier + 1, "{verdict:?}");
        for signature in &verdict.signatures {
            assert!(
                signature.intact && signature.later_changes != Some(Change::Modified),
                "{input}: {signature:?}\n{:?}",
                verdict.revisions
            );
        }
        let (_, pdfsig) = run("pdfsig", &[&file]);
        assert_eq!(
            pdfsig.matches("Signature is Valid.").count(),
            earlier + 1,
            "{input}:\n{pdfsig}"
        );
        let (ok, check) = run("qpdf", &["--check", &file]);
        assert!(ok, "{input}: qpdf --check:\n{check}");
    }

    // Certified documents take no new fields: P=1 allows no change, P=2 no new visible
    // signature field (pyHanko's rule after a certification, stricter than Acrobat's).
    let signature = FieldSpec {
        name: "signer-1".to_owned(),
        kind: FieldKind::Signature,
        page: 1,
        x: 50.0,
        y: 50.0,
        width: 150.0,
        height: 50.0,
    };
    for (input, level) in [
        ("certified-no-changes.pdf", "DocMDP P=1"),
        ("certified-form-filling.pdf", "DocMDP P=2"),
    ] {
        let certified = std::fs::read(dir.join(input)).expect("input");
        let refused = form::prepare(&certified, std::slice::from_ref(&signature))
            .expect_err("no field may be added to a certified document");
        assert!(refused.to_string().contains(level), "{input}: {refused}");
    }
}
