//! Our verifier next to pyHanko on a corpus of good and bad signed files: valid single and
//! multi-signer files (with form filling, timestamps and the seal), one flipped byte, a
//! FreeText annotation added after signing, a signature-wrapping edit whose digest still
//! matches, a full rewrite after signing, and garbage after the last revision.

use std::time::{Duration, SystemTime};

use gsign_platform::hsm_keys::{KeySpec, Scheme};
use gsign_platform::pades_signer::{sign_revision, Level, SigningKey, TsaClient};
use gsign_signing::form;
use gsign_signing::pades::SignatureInfo;
use gsign_signing::verify::{verify, AdesLevel, Change, Report};
use gsign_tests::attacks::{
    add_free_text, fill_after_the_last_signature, overlay_signature_widget, swap_info, swap_root,
    wrap_signature,
};
use gsign_tests::pki::{fixture, signer_values, two_signers_and_the_seal, LocalTsa, TestPki};
use lopdf::Document;
use x509_cert::Certificate;

/// What pyHanko's `adesverify` says of a file: per signature line, intact, and whether later
/// revisions were acceptable.
#[derive(Debug)]
struct PyHanko {
    ok: bool,
    lines: Vec<String>,
}

impl PyHanko {
    fn of(pki: &TestPki, file: &str) -> Self {
        let (ok, report) = pki.pyhanko(file);
        let lines = report
            .lines()
            .filter(|l| l.contains("INTACT") || l.contains("INVALID") || l.contains("TRUSTED"))
            .map(str::to_owned)
            .collect();
        Self { ok, lines }
    }

    /// Every signature intact, trusted and at most acceptably modified.
    fn all_valid(&self) -> bool {
        self.ok
            && !self.lines.is_empty()
            && self.lines.iter().all(|l| {
                l.contains("INTACT:TRUSTED")
                    && (l.contains("UNTOUCHED") || l.contains("ACCEPTABLE_MODIFICATIONS"))
                    && !l.contains("NOT_ACCEPTABLE")
            })
    }
}

fn signature_info(field: &str, name: &str) -> SignatureInfo {
    SignatureInfo {
        field_name: field.to_owned(),
        signer_name: name.to_owned(),
        reason: None,
        time: SystemTime::now(),
        locks_document: false,
    }
}

fn our_valid(report: &Report) -> bool {
    report.all_valid_and_trusted()
}

#[tokio::test(flavor = "multi_thread")]
async fn our_verifier_and_pyhanko_agree_on_every_file_of_the_corpus() {
    let mut pki = TestPki::new();
    let tsa = LocalTsa::start(&pki).await;
    let tsa_client =
        TsaClient::new(tsa.url.parse().expect("url"), Duration::from_secs(10)).expect("client");
    let roots: Vec<Certificate> = vec![pki.ca.clone()];
    let (rsa, rsa_chain) = pki.signer(KeySpec::Rsa2048, "CN=Signer One,O=GSign");
    let (ec, ec_chain) = pki.signer(KeySpec::EcP256, "CN=Батбаяр Өлзий,O=GSign");
    let key = |id: &[u8], scheme, chain: &[Certificate]| SigningKey {
        hsm: &pki.hsm,
        key_id: id.to_vec(),
        scheme,
        chain: chain.to_vec(),
    };

    let mut corpus: Vec<(&str, Vec<u8>, bool)> = Vec::new();
    let single = sign_revision(
        &fixture("one-page.pdf"),
        &signature_info("Signature1", "Signer One"),
        &[],
        &key(&rsa.id, Scheme::RsaPssSha256, &rsa_chain),
        Level::BT,
        Some(&tsa_client),
    )
    .await
    .expect("single");
    corpus.push(("single B-T", single.clone(), true));

    // Two signers filling their fields on a prepared document with object streams.
    let fields = two_signers_and_the_seal();
    let prepared = form::prepare(&fixture("object-streams.pdf"), &fields).expect("prepared");
    let first = sign_revision(
        &prepared,
        &signature_info("signer-1-signature", "One"),
        &signer_values(1, None),
        &key(&rsa.id, Scheme::RsaPkcs1Sha256, &rsa_chain),
        Level::BB,
        None,
    )
    .await
    .expect("first");
    let second = sign_revision(
        &first,
        &signature_info("signer-2-signature", "Батбаяр Өлзий"),
        &signer_values(2, Some("Батбаяр Өлзий")),
        &key(&ec.id, Scheme::EcdsaSha256, &ec_chain),
        Level::BB,
        None,
    )
    .await
    .expect("second");
    let sealed = sign_revision(
        &second,
        // The seal locks every field, as completion's does.
        &SignatureInfo {
            locks_document: true,
            ..signature_info("gsign-seal", "GSign")
        },
        &[],
        &key(&rsa.id, Scheme::RsaPssSha256, &rsa_chain),
        Level::BT,
        Some(&tsa_client),
    )
    .await
    .expect("sealed");
    corpus.push(("two signers and the seal", sealed.clone(), true));

    let mut flipped = single.clone();
    flipped[fixture("one-page.pdf").len() / 2] ^= 0x01;
    corpus.push(("one flipped byte", flipped, false));
    corpus.push(("FreeText after signing", add_free_text(&sealed), false));
    corpus.push(("signature wrapping", wrap_signature(&single), false));
    let mut rewritten = Document::load_mem(&single).expect("load");
    let mut full = Vec::new();
    rewritten.save_to(&mut full).expect("rewrite");
    corpus.push(("full rewrite after signing", full, false));
    let mut garbage = single.clone();
    garbage.extend_from_slice(b"\n% trailing bytes no revision accounts for\n1 0 obj (x) endobj\n");
    // Bytes no revision accounts for: readers ignore them, so pyHanko accepts the signature;
    // we refuse to vouch for a file whose end nobody can explain.
    corpus.push(("bytes after the last revision", garbage, false));
    // Incremental saving attacks on the sealed document.
    corpus.push(("trailer /Info swapped", swap_info(&sealed), false));
    corpus.push(("trailer /Root swapped", swap_root(&sealed), false));
    corpus.push((
        "unsigned signature widget over the page",
        overlay_signature_widget(&sealed),
        false,
    ));
    corpus.push((
        "a field filled after the last signature",
        fill_after_the_last_signature(&sealed, "signer-1-title"),
        false,
    ));
    // Where we refuse what pyHanko accepts: bytes no revision explains (readers ignore them),
    // and a trailer /Info pointing elsewhere after the seal (pyHanko's policy lets document
    // information change in any update; ours refuses every trailer change after a
    // signature). The other incremental attacks on the sealed document are refused by both:
    // the seal locks the document with permissions 1 (`FieldKind::Seal`).
    let stricter_than_pyhanko = ["bytes after the last revision", "trailer /Info swapped"];

    for (name, bytes, expected_valid) in &corpus {
        let safe: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let file = pki.write(&format!("corpus-{safe}.pdf"), bytes);
        let ours = verify(bytes, &roots);
        let theirs = PyHanko::of(&pki, &file);
        assert_eq!(
            our_valid(&ours),
            *expected_valid,
            "{name}: our verdict\n{ours:#?}\npyHanko: {theirs:#?}"
        );
        assert_eq!(
            theirs.all_valid(),
            *expected_valid || stricter_than_pyhanko.contains(name),
            "{name}: pyHanko's verdict\n{theirs:#?}\nours: {ours:#?}"
        );
        if *expected_valid {
            // The same signatures, and the same view of what came after each.
            assert_eq!(
                ours.signatures.len(),
                theirs.lines.len(),
                "{name}: {theirs:#?}"
            );
            for (signature, line) in ours.signatures.iter().zip(&theirs.lines) {
                // pyHanko: UNTOUCHED when the signature covers the whole file, else
                // ACCEPTABLE_MODIFICATIONS (what we call signature-only or form filling).
                let extended = line.contains("ACCEPTABLE_MODIFICATIONS");
                assert_eq!(
                    !signature.covers_whole_file, extended,
                    "{name}: {} covers the whole file: {} vs pyHanko {line}",
                    signature.field, signature.covers_whole_file
                );
                assert_ne!(signature.later_changes, Some(Change::Modified), "{name}");
                assert_eq!(
                    signature.timestamp.is_some(),
                    line.contains("TIMESTAMP_TOKEN<INTACT:TRUSTED>"),
                    "{name}: {line}"
                );
            }
        }
    }

    // What our report says in detail about the bad ones.
    let report = |name: &str| {
        let (_, bytes, _) = corpus.iter().find(|(n, _, _)| *n == name).expect("case");
        verify(bytes, &roots)
    };
    let sealed_report = report("two signers and the seal");
    let changes: Vec<Option<Change>> = sealed_report
        .signatures
        .iter()
        .map(|s| s.later_changes)
        .collect();
    assert_eq!(
        changes,
        [Some(Change::FormFilling), Some(Change::SignatureOnly), None],
        "{sealed_report:#?}"
    );
    assert!(sealed_report.signatures[2].covers_whole_file);
    // The signers signed at B-B, the seal at B-T (its timestamp from the trusted TSA).
    let levels: Vec<Option<AdesLevel>> = sealed_report.signatures.iter().map(|s| s.level).collect();
    assert_eq!(
        levels,
        [
            Some(AdesLevel::BB),
            Some(AdesLevel::BB),
            Some(AdesLevel::BT)
        ]
    );
    assert_eq!(report("one flipped byte").signatures[0].level, None);
    assert_eq!(sealed_report.bytes_after_last_signature, 0);
    assert!(!report("one flipped byte").signatures[0].intact);
    let free_text = report("FreeText after signing");
    assert!(free_text
        .signatures
        .iter()
        .all(|s| s.intact && s.later_changes == Some(Change::Modified)));
    assert!(free_text.bytes_after_last_signature > 0);
    let wrapped = report("signature wrapping");
    assert!(!wrapped.signatures[0].well_formed, "{wrapped:#?}");
    let garbage = report("bytes after the last revision");
    // Readers never see bytes without a revision around them; they are reported, and no
    // signature of such a file is called valid.
    assert!(garbage.bytes_after_last_signature > 0);
    assert!(!garbage.problems.is_empty(), "{garbage:#?}");
    assert!(garbage.signatures.iter().all(|s| s.intact && !s.valid));
    // Each incremental attack is refused for its own reason, in the revision it added.
    for (name, reason) in [
        ("trailer /Info swapped", "the trailer's /Info changed"),
        ("trailer /Root swapped", "the trailer's /Root changed"),
        (
            "unsigned signature widget over the page",
            "a visible signature widget that nothing signs",
        ),
        (
            "a field filled after the last signature",
            "filled after the last signature",
        ),
    ] {
        let attacked = report(name);
        let last = attacked.revisions.last().expect("revisions");
        assert_eq!(last.change, Some(Change::Modified), "{name}: {attacked:#?}");
        assert!(
            last.details.iter().any(|d| d.contains(reason)),
            "{name}: {:?}",
            last.details
        );
        assert!(
            attacked.signatures.iter().all(|s| s.intact && !s.valid),
            "{name}"
        );
    }
}

mod route {
    //! `POST /v1/verify` through the local runner: uploads and stored documents, trust per
    //! organization, hostile files.

    use std::time::{Duration, SystemTime};

    use gsign_platform::pades_signer::{sign_revision, Level, SigningKey};
    use gsign_signing::x509::parse_pem_bundle;
    use gsign_signing::Scheme;
    use gsign_tests::pki::{fixture, open_hsm};
    use gsign_tests::{eventually, start_app, Tenant, TestDatabase, TestStack};
    use serde_json::{json, Value};

    #[tokio::test(flavor = "multi_thread")]
    async fn with_fetching_allowed_an_external_chain_is_checked_against_the_crl_it_names() {
        let db = TestDatabase::migrated().await;
        let mut pki = gsign_tests::pki::TestPki::new();
        let tsa = gsign_tests::pki::LocalTsa::start(&pki).await;
        // An external CA (the test root, trusted by the deployment) whose signer names the
        // CRL the TSA's server publishes.
        let (key, chain) = pki.signer_naming_crl(
            gsign_platform::hsm_keys::KeySpec::EcP256,
            "CN=External Signer,O=Elsewhere",
            Some(tsa.crl_url()),
        );
        let signed = pki.sign(
            &fixture("one-page.pdf"),
            "Signature1",
            &key,
            Scheme::EcdsaSha256,
            &chain,
        );
        let root_pem = std::fs::read_to_string(&pki.ca_pem).expect("root");
        for (fetch, expected_valid) in [("false", true), ("true", false)] {
            let stack = start_app(
                &db,
                &[
                    ("TrustRootsPem", root_pem.clone()),
                    ("VerifyFetchRevocation", fetch.to_owned()),
                    ("WebhookAllowLoopback", "true".to_owned()),
                ],
            )
            .await;
            let member = Tenant::create(&db, "member").await;
            // Before the revocation: the CRL lists nothing.
            tsa.publish_root_crl(&pki, &[]);
            let (status, answer) = post(&stack, &member, "application/pdf", signed.clone()).await;
            assert_eq!(status, 200, "{answer}");
            assert_eq!(answer["valid"], true, "{answer}");
            if fetch == "false" {
                assert_eq!(
                    answer["signatures"][0]["revocation_sources"],
                    json!([tsa.crl_url()]),
                    "unchecked, and where to check: {answer}"
                );
            }
            tsa.publish_root_crl(
                &pki,
                &[chain[0].tbs_certificate.serial_number.as_bytes().to_vec()],
            );
            let (status, answer) = post(&stack, &member, "application/pdf", signed.clone()).await;
            assert_eq!(status, 200, "{answer}");
            assert_eq!(answer["valid"], expected_valid, "fetch={fetch}: {answer}");
            if !expected_valid {
                let problem = answer["signatures"][0]["trust_problem"]
                    .as_str()
                    .unwrap_or_default();
                assert!(problem.contains("revoked"), "{answer}");
            }
            stack.stop().await;
        }
    }

    async fn post(
        stack: &TestStack,
        who: &Tenant,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/v1/verify", stack.url))
            .header("authorization", &who.bearer)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("the runner answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A PDF signed with a certificate the organization's CA issued through the API.
    async fn signed_by_the_organization(
        db: &TestDatabase,
        stack: &TestStack,
        who: &Tenant,
    ) -> Vec<u8> {
        let (status, certificate) = stack
            .call(
                who,
                "POST",
                "/v1/certificates",
                Some(json!({"label": "Mine", "subject": {"common_name": "Батбаяр Өлзий"}})),
            )
            .await;
        assert_eq!(status, 201, "{certificate}");
        let id: uuid::Uuid = certificate["id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("uuid");
        let key_id: String = db
            .connect()
            .await
            .query_one("SELECT hsm_key_id FROM certificates WHERE id = $1", &[&id])
            .await
            .expect("row")
            .get(0);
        let hsm = open_hsm();
        sign_revision(
            &fixture("one-page.pdf"),
            &gsign_signing::pades::SignatureInfo {
                field_name: "Signature1".to_owned(),
                signer_name: "Батбаяр Өлзий".to_owned(),
                reason: None,
                time: SystemTime::now(),
                locks_document: false,
            },
            &[],
            &SigningKey {
                hsm: &hsm,
                key_id: hex::decode(key_id).expect("hex"),
                scheme: Scheme::EcdsaSha256,
                chain: parse_pem_bundle(certificate["certificate_pem"].as_str().expect("PEM"))
                    .expect("chain"),
            },
            Level::BB,
            None,
        )
        .await
        .expect("signed")
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn uploads_and_stored_documents_are_verified_against_the_callers_own_ca() {
        let db = TestDatabase::migrated().await;
        let stack = start_app(&db, &[("VerifyTimeoutMs", "5000".to_owned())]).await;
        let owner = Tenant::create(&db, "owner").await;
        let signed = signed_by_the_organization(&db, &stack, &owner).await;

        let (status, report) = post(&stack, &owner, "application/pdf", signed.clone()).await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["valid"], true, "{report}");
        assert_eq!(report["signature_count"], 1);
        let signature = &report["signatures"][0];
        assert_eq!(signature["intact"], true);
        assert_eq!(signature["trusted"], true);
        assert_eq!(signature["covers_whole_file"], true);
        assert_eq!(signature["signer_name"], "Батбаяр Өлзий");
        assert_eq!(report["bytes_after_last_signature"], 0);

        // Another organization does not trust this one's CA: intact, not trusted.
        let stranger = Tenant::create(&db, "viewer").await;
        let (status, report) = post(&stack, &stranger, "application/pdf", signed.clone()).await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["valid"], false);
        assert_eq!(report["signatures"][0]["intact"], true);
        assert_eq!(report["signatures"][0]["trusted"], false);

        // One flipped byte.
        let mut tampered = signed.clone();
        tampered[200] ^= 0x01;
        let (_, report) = post(&stack, &owner, "application/pdf", tampered).await;
        assert_eq!(report["signatures"][0]["intact"], false, "{report}");

        // A stored document, by reference: upload it like any document first.
        let (status, created) = stack.call(
            &owner,
            "POST",
            "/v1/documents",
            Some(json!({"file_name": "signed.pdf", "content_type": "application/pdf", "size": signed.len()})),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        let upload = &created["upload"];
        let mut put = reqwest::Client::new().put(upload["url"].as_str().expect("url"));
        for (name, value) in upload["headers"].as_object().expect("headers") {
            if name != "content-length" {
                put = put.header(name, value.as_str().expect("value"));
            }
        }
        assert!(put
            .body(signed.clone())
            .send()
            .await
            .expect("S3")
            .status()
            .is_success());
        let id = created["id"].as_str().expect("id").to_owned();
        eventually(Duration::from_secs(90), "ingest", || async {
            let (_, doc) = stack
                .call(&owner, "GET", &format!("/v1/documents/{id}"), None)
                .await;
            (doc["status"] == "ready").then_some(())
        })
        .await;
        let (status, report) = stack
            .call(
                &owner,
                "POST",
                "/v1/verify",
                Some(json!({"document_id": id})),
            )
            .await;
        assert_eq!((status, &report["valid"]), (200, &json!(true)), "{report}");
        // Other tenants' documents are not found.
        let (status, _) = stack
            .call(
                &stranger,
                "POST",
                "/v1/verify",
                Some(json!({"document_id": id})),
            )
            .await;
        assert_eq!(status, 404);

        // Hostile or foreign bytes get a 4xx with a reason, never a 500.
        for (name, expected) in [("deep-nesting.pdf", 422), ("xref-w000-huge-index.pdf", 422)] {
            let (status, problem) = post(&stack, &owner, "application/pdf", fixture(name)).await;
            if status == 200 {
                assert_eq!(problem["valid"], false, "{name}: {problem}");
                assert_eq!(problem["signature_count"], 0, "{name}: {problem}");
            } else {
                assert_eq!(status, expected, "{name}: {problem}");
            }
        }
        let (status, problem) = post(&stack, &owner, "application/pdf", b"GIF89a".to_vec()).await;
        assert_eq!(
            (status, &problem["type"]),
            (422, &json!("https://gsign.dev/problems/not-a-pdf"))
        );
        let (status, _) = post(&stack, &owner, "text/plain", b"hello".to_vec()).await;
        assert_eq!(status, 415);
        let (status, unsigned) =
            post(&stack, &owner, "application/pdf", fixture("one-page.pdf")).await;
        assert_eq!(
            (status, &unsigned["signature_count"]),
            (200, &json!(0)),
            "{unsigned}"
        );
        assert_eq!(unsigned["valid"], false);
        stack.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_document_two_others_signed_goes_out_keeps_their_signatures_and_a_locked_one_is_refused(
    ) {
        use gsign_tests::envelopes::{
            consent_and_sign, drawn, envelope_when, fetch, organization_ca, send_envelope,
            stack_with_tsa,
        };
        use gsign_tests::pki::{run, LocalTsa, TestPki};
        let db = TestDatabase::migrated().await;
        let pki = TestPki::new();
        let tsa = LocalTsa::start(&pki).await;
        let stack = stack_with_tsa(&db, &tsa).await;
        let owner = Tenant::create(&db, "owner").await;
        let (other_party, dir) = pki.signed_elsewhere();

        let twice = std::fs::read(dir.join("signed-twice.pdf")).expect("input");
        let document = stack
            .upload_ready_pdf(&owner, "signed-by-two-others.pdf", twice)
            .await;
        // Ingest recorded what it carries.
        let (_, uploaded) = stack
            .call(&owner, "GET", &format!("/v1/documents/{document}"), None)
            .await;
        assert_eq!(uploaded["signatures"], 2, "{uploaded}");
        assert_eq!(uploaded["certification"], Value::Null, "{uploaded}");
        let signer = format!("third-{}@example.com", gsign_tests::unique());
        let (base, _) = send_envelope(
            &stack,
            &owner,
            &document,
            "sequential",
            &[(&signer, "Third Signer", "signer", 1)],
            |_| Vec::new(),
        )
        .await;
        let token = gsign_tests::mailed_token(&signer, "/sign").await;
        let (status, signed) =
            consent_and_sign(&stack, &token, json!({"signature": drawn()})).await;
        assert_eq!(status, 202, "{signed}");
        envelope_when(&stack, &owner, &base, "completed", |e| {
            e["status"] == "completed"
        })
        .await;
        let (status, link) = stack
            .call(
                &owner,
                "GET",
                &format!("{base}/download?variant=final"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{link}");
        let file = pki.write("after-two-others.pdf", &fetch(&link).await);
        let org_ca = organization_ca(&db, owner.org, &pki).await;
        let (ok, report) = run(
            &gsign_tests::stack_var("GSIGN_PYHANKO"),
            &[
                "sign",
                "adesverify",
                "--trust",
                &org_ca,
                "--trust",
                &pki.ca_pem,
                "--trust",
                &other_party,
                "--trust-replace",
                "--no-revocation-check",
                &file,
            ],
        );
        assert!(ok, "pyHanko refused:\n{report}");
        let lines: Vec<&str> = report.lines().filter(|l| l.contains(":INTACT")).collect();
        // The two earlier signatures, the GSign signer and the seal.
        assert_eq!(lines.len(), 4, "{report}");
        assert!(
            lines.iter().all(|l| l.contains("INTACT:TRUSTED")),
            "{report}"
        );
        assert!(
            lines[..3]
                .iter()
                .all(|l| l.contains("ACCEPTABLE_MODIFICATIONS")),
            "every earlier signature sees only acceptable changes:\n{report}"
        );
        let (ok, qpdf) = run("qpdf", &["--check", &file]);
        assert!(ok, "{qpdf}");

        // Certified with no changes allowed: refused at send, saying why; still a draft.
        let locked = std::fs::read(dir.join("certified-no-changes.pdf")).expect("input");
        let document = stack
            .upload_ready_pdf(&owner, "certified.pdf", locked)
            .await;
        let (status, envelope) = stack
            .call(
                &owner,
                "POST",
                "/v1/envelopes",
                Some(json!({"document_id": document})),
            )
            .await;
        assert_eq!(status, 201, "{envelope}");
        let base = format!("/v1/envelopes/{}", envelope["id"].as_str().expect("id"));
        let (status, recipient) = stack
            .call(
                &owner,
                "POST",
                &format!("{base}/recipients"),
                Some(json!({"email": format!("second-{}@example.com", gsign_tests::unique()), "name": "Second"})),
            )
            .await;
        assert_eq!(status, 201, "{recipient}");
        let (status, set) = stack
            .call(
                &owner,
                "PUT",
                &format!("{base}/fields"),
                Some(
                    json!({"fields": [{"recipient_id": recipient["id"], "type": "signature",
                    "page": 1, "x": 300.0, "y": 650.0, "width": 150.0, "height": 40.0}]}),
                ),
            )
            .await;
        assert_eq!(status, 200, "{set}");
        // The draft's checklist says so before anyone presses send.
        let (_, uploaded) = stack
            .call(&owner, "GET", &format!("/v1/documents/{document}"), None)
            .await;
        assert_eq!(uploaded["certification"], 1, "{uploaded}");
        let (_, draft) = stack.call(&owner, "GET", &base, None).await;
        assert_eq!(
            draft["send_problems"][0]["pointer"], "/document_id",
            "{draft}"
        );
        let (status, problem) = stack
            .call(&owner, "POST", &format!("{base}/send"), None)
            .await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["errors"][0]["pointer"], "/document_id", "{problem}");
        assert!(
            problem["errors"][0]["detail"]
                .as_str()
                .is_some_and(|d| d.contains("DocMDP P=1")),
            "{problem}"
        );
        let (_, draft) = stack.call(&owner, "GET", &base, None).await;
        assert_eq!(draft["status"], "draft", "{draft}");
        stack.stop().await;
    }
}

/// pyHanko's verdict on a file of the committed corpus (its own root, no revocation data:
/// the corpus certificates name no distribution point).
fn pyhanko_on_corpus(roots: &str, file: &str) -> PyHanko {
    let (ok, report) = gsign_tests::pki::run(
        &gsign_tests::stack_var("GSIGN_PYHANKO"),
        &[
            "sign",
            "adesverify",
            "--trust",
            roots,
            "--trust-replace",
            "--no-revocation-check",
            file,
        ],
    );
    let lines = report
        .lines()
        .filter(|l| l.contains("INTACT") || l.contains("INVALID") || l.contains("TRUSTED"))
        .map(str::to_owned)
        .collect();
    PyHanko { ok, lines }
}

#[test]
fn the_committed_attack_corpus_agrees_with_pyhanko() {
    let dir = gsign_tests::root().join("shared/signing/tests/corpus");
    let roots_file = dir.join("roots.pem");
    let roots = gsign_signing::x509::parse_pem_bundle(
        &std::fs::read_to_string(&roots_file).expect("roots.pem"),
    )
    .expect("roots");
    let manifest: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(dir.join("corpus.json")).expect("corpus.json"),
    )
    .expect("manifest");
    let mut table = vec![
        "| file | ours | pyHanko | agree |".to_owned(),
        "|---|---|---|---|".to_owned(),
    ];
    let verdict = |valid: bool| if valid { "valid" } else { "refused" };
    for entry in &manifest {
        let file = entry["file"].as_str().expect("file");
        let path = dir.join(file);
        let ours = verify(&std::fs::read(&path).expect("file"), &roots).all_valid_and_trusted();
        let theirs =
            pyhanko_on_corpus(&roots_file.to_string_lossy(), &path.to_string_lossy()).all_valid();
        assert_eq!(ours, entry["valid"], "{file}: our verdict");
        assert_eq!(theirs, entry["pyhanko_valid"], "{file}: pyHanko's verdict");
        table.push(format!(
            "| {file} | {} | {} | {} |",
            verdict(ours),
            verdict(theirs),
            if ours == theirs {
                "yes"
            } else {
                "no: we are stricter"
            }
        ));
    }
    println!("{}", table.join("\n"));
}
