//! The certificate routes end to end, through the local runner, Postgres and SoftHSM: the
//! organization's CA and seal on first use, CSRs for an external CA (played by `openssl`) and
//! their checked chains, the default, revocation (the HSM key is destroyed), tenancy. OpenSSL
//! judges what we issue, and pyHanko a signature made with a certificate from the API.

use std::process::Command;
use std::time::SystemTime;

use gsign_platform::hsm::HsmError;
use gsign_platform::pades_signer::{sign_revision, Level, SigningKey};
use gsign_signing::pades::SignatureInfo;
use gsign_signing::x509::parse_pem_bundle;
use gsign_signing::Scheme;
use gsign_tests::pki::open_hsm;
use gsign_tests::{root, stack_var, start_app, unique, Tenant, TestDatabase, TestStack};
use serde_json::{json, Value};

fn id(value: &Value) -> String {
    value["id"].as_str().expect("id").to_owned()
}

struct Dir(std::path::PathBuf);

impl Dir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("gsign-cert-api-{}", unique()));
        std::fs::create_dir_all(&dir).expect("dir");
        Self(dir)
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write");
        path.to_string_lossy().into_owned()
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "openssl {args:?}:\n{text}");
    text
}

/// Splits a PEM bundle into its certificates' PEM blocks.
fn pem_blocks(bundle: &str) -> Vec<String> {
    bundle
        .split_inclusive("-----END CERTIFICATE-----\n")
        .filter(|b| b.contains("BEGIN CERTIFICATE"))
        .map(str::to_owned)
        .collect()
}

async fn count(stack: &TestStack, who: &Tenant, query: &str) -> usize {
    let (status, page) = stack
        .call(who, "GET", &format!("/v1/certificates?{query}"), None)
        .await;
    assert_eq!(status, 200, "{page}");
    page["data"].as_array().expect("data").len()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_organization_ca_issues_certificates_that_openssl_verifies_and_pyhanko_trusts() {
    let db = TestDatabase::migrated().await;
    let stack = start_app(&db, &[]).await;
    let member = Tenant::create(&db, "member").await;
    let dir = Dir::new();

    let (status, first) = stack.call(&member,
        "POST",
        "/v1/certificates",
        Some(json!({
            "label": "Гарын үсэг",
            "key_type": "ec-p256",
            "subject": {"common_name": "Батбаяр Өлзий", "organization": "Говь Трейд ХХК", "country": "MN"},
        })),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["status"], "active");
    assert_eq!(first["type"], "corporate");
    assert_eq!(
        first["is_default"], true,
        "a person's first certificate is the default"
    );
    assert_eq!(first["subject_cn"], "Батбаяр Өлзий");
    assert_eq!(first["issuer_cn"], "Говь Трейд ХХК Signing CA");
    assert_eq!(first["signature_algorithm"], "ecdsa-sha256");
    let blocks = pem_blocks(first["certificate_pem"].as_str().expect("PEM"));
    assert_eq!(blocks.len(), 2, "the certificate, then the organization CA");
    let leaf = dir.write("leaf.pem", &blocks[0]);
    let ca = dir.write("ca.pem", &blocks[1]);
    let verified = openssl(&[
        "verify",
        "-x509_strict",
        "-purpose",
        "any",
        "-CAfile",
        &ca,
        &leaf,
    ]);
    assert!(verified.contains(": OK"), "{verified}");
    let text = openssl(&["x509", "-in", &leaf, "-noout", "-text", "-nameopt", "utf8"]);
    assert!(
        text.contains("Digital Signature, Non Repudiation"),
        "{text}"
    );

    // The CA and the seal were made once, on first use.
    let (_, second) = stack.call(&member,
        "POST",
        "/v1/certificates",
        Some(
            json!({"label": "RSA", "key_type": "rsa-3072", "subject": {"common_name": "Батбаяр"}}),
        ),
    )
    .await;
    assert_eq!(second["status"], "active", "{second}");
    assert_eq!(second["is_default"], false);
    assert_eq!(second["signature_algorithm"], "rsa-pss-sha256");
    assert_eq!(count(&stack, &member, "purpose=ca").await, 1);
    assert_eq!(count(&stack, &member, "purpose=seal").await, 1);
    assert_eq!(count(&stack, &member, "user_id=me").await, 2);
    // An API key is no person: `me` is refused, not widened to everyone's certificates.
    let owner = member.colleague(&db, "owner").await;
    let (status, key) = stack
        .call(
            &owner,
            "POST",
            "/v1/api-keys",
            Some(json!({"name": "ci", "scopes": ["certificates:read"]})),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    let integration = Tenant {
        bearer: format!("Bearer {}", key["key"].as_str().expect("the key, once")),
        ..owner
    };
    let (status, problem) = stack
        .call(&integration, "GET", "/v1/certificates?user_id=me", None)
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/user_id");

    // The default moves.
    let (status, moved) = stack
        .call(
            &member,
            "POST",
            &format!("/v1/certificates/{}/default", id(&second)),
            None,
        )
        .await;
    assert_eq!(
        (status, &moved["is_default"]),
        (200, &json!(true)),
        "{moved}"
    );
    let (_, again) = stack
        .call(
            &member,
            "GET",
            &format!("/v1/certificates/{}", id(&first)),
            None,
        )
        .await;
    assert_eq!(again["is_default"], false);

    // The PEM download.
    let response = reqwest::Client::new()
        .get(format!(
            "{}/v1/certificates/{}?format=pem",
            stack.url,
            id(&first)
        ))
        .header("authorization", &member.bearer)
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/pem-certificate-chain"
    );
    let downloaded = response.text().await.expect("PEM");
    assert_eq!(
        parse_pem_bundle(&downloaded).expect("certificates").len(),
        2
    );

    // A signature made with this certificate's HSM key is trusted under the organization CA.
    let client = db.connect().await;
    let key_id: String = client
        .query_one(
            "SELECT hsm_key_id FROM certificates WHERE id = $1",
            &[&first["id"]
                .as_str()
                .expect("id")
                .parse::<uuid::Uuid>()
                .expect("uuid")],
        )
        .await
        .expect("row")
        .get(0);
    let hsm = open_hsm();
    let pdf = std::fs::read(root().join("shared/pdf/fixtures/one-page.pdf")).expect("fixture");
    let signed = sign_revision(
        &pdf,
        &SignatureInfo {
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
            chain: parse_pem_bundle(&downloaded).expect("chain"),
        },
        Level::BB,
        None,
    )
    .await
    .expect("signed");
    let file = dir.write("signed.pdf", "");
    std::fs::write(&file, &signed).expect("write");
    let out = Command::new(stack_var("GSIGN_PYHANKO"))
        .args([
            "sign",
            "adesverify",
            "--trust",
            &ca,
            "--trust-replace",
            "--no-revocation-check",
            &file,
        ])
        .output()
        .expect("pyhanko");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && report.contains("INTACT:TRUSTED"),
        "{report}"
    );

    // Other tenants see nothing; viewers and API-less people cannot create.
    let stranger = Tenant::create(&db, "owner").await;
    let (status, _) = stack
        .call(
            &stranger,
            "GET",
            &format!("/v1/certificates/{}", id(&first)),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = stack
        .call(
            &stranger,
            "POST",
            &format!("/v1/certificates/{}/revoke", id(&first)),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let viewer = member.colleague(&db, "viewer").await;
    let (status, problem) = stack
        .call(
            &viewer,
            "POST",
            "/v1/certificates",
            Some(json!({"label": "x", "subject": {"common_name": "x"}})),
        )
        .await;
    assert_eq!(status, 403, "{problem}");

    // Revocation: a colleague may not, an admin may; the key is gone from the HSM.
    let colleague = member.colleague(&db, "member").await;
    let revoke = format!("/v1/certificates/{}/revoke", id(&first));
    let (status, _) = stack
        .call(
            &colleague,
            "POST",
            &revoke,
            Some(json!({"reason": "superseded"})),
        )
        .await;
    assert_eq!(status, 403);
    let admin = member.colleague(&db, "admin").await;
    let (status, revoked) = stack
        .call(
            &admin,
            "POST",
            &revoke,
            Some(json!({"reason": "key_compromise"})),
        )
        .await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["revocation_reason"], "key_compromise");
    let (status, problem) = stack.call(&admin, "POST", &revoke, None).await;
    assert_eq!(
        (status, &problem["type"]),
        (
            409,
            &json!("https://gsign.dev/problems/certificate-revoked")
        ),
        "{problem}"
    );
    let (status, _) = stack
        .call(
            &member,
            "POST",
            &format!("/v1/certificates/{}/default", id(&first)),
            None,
        )
        .await;
    assert_eq!(status, 409);
    let key = hex::decode(
        client
            .query_one(
                "SELECT hsm_key_id FROM certificates WHERE id = $1",
                &[&first["id"]
                    .as_str()
                    .expect("id")
                    .parse::<uuid::Uuid>()
                    .expect("uuid")],
            )
            .await
            .expect("row")
            .get::<_, String>(0),
    )
    .expect("hex");
    assert!(matches!(hsm.public_key(&key), Err(HsmError::KeyNotFound)));
    // The organization's CA and seal are not revoked through this route.
    let (_, cas) = stack
        .call(&admin, "GET", "/v1/certificates?purpose=ca", None)
        .await;
    let (status, _) = stack
        .call(
            &admin,
            "POST",
            &format!("/v1/certificates/{}/revoke", id(&cas["data"][0])),
            None,
        )
        .await;
    assert_eq!(status, 409);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_csr_for_an_external_ca_becomes_active_only_with_a_chain_that_holds() {
    let db = TestDatabase::migrated().await;
    let stack = start_app(&db, &[]).await;
    let member = Tenant::create(&db, "member").await;
    let dir = Dir::new();

    let create_csr = |label: &'static str| {
        let (stack, member) = (&stack, &member);
        async move {
            let (status, pending) = stack.call(member,
                "POST",
                "/v1/certificates",
                Some(json!({
                    "label": label, "issuance": "csr", "key_type": "rsa-2048",
                    "subject": {"common_name": "Батбаяр Өлзий", "organization": "Говь Трейд ХХК"},
                })),
            )
            .await;
            assert_eq!(status, 201, "{pending}");
            pending
        }
    };
    let pending = create_csr("External").await;
    assert_eq!(pending["status"], "pending");
    assert_eq!(pending["type"], "ca_issued");
    assert!(pending["certificate_pem"].is_null());
    let csr = dir.write("request.csr", pending["csr_pem"].as_str().expect("CSR"));
    let checked = openssl(&[
        "req", "-in", &csr, "-verify", "-noout", "-subject", "-nameopt", "utf8",
    ]);
    assert!(checked.contains("Батбаяр Өлзий"), "{checked}");

    // The external CA: openssl with its own root.
    let ca_key = dir.path("ca.key");
    let ca = dir.path("ca.pem");
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &ca_key,
        "-out",
        &ca,
        "-days",
        "30",
        "-subj",
        "/CN=External Test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    let extensions = dir.write(
        "leaf.ext",
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n",
    );
    let sign = |csr: &str, out: &str| {
        openssl(&[
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            out,
            "-days",
            "10",
            "-sha256",
            "-extfile",
            &extensions,
        ]);
        std::fs::read_to_string(out).expect("certificate")
    };
    let leaf = sign(&csr, &dir.path("leaf.pem"));
    let ca_pem = std::fs::read_to_string(&ca).expect("CA");
    let chain_path = format!("/v1/certificates/{}/chain", id(&pending));

    // A certificate for another key is refused.
    let other = create_csr("Other").await;
    let other_csr = dir.write("other.csr", other["csr_pem"].as_str().expect("CSR"));
    let other_leaf = sign(&other_csr, &dir.path("other.pem"));
    let (status, problem) = stack
        .call(
            &member,
            "PUT",
            &chain_path,
            Some(json!({"certificate": other_leaf, "chain": ca_pem})),
        )
        .await;
    assert_eq!(
        (status, &problem["reason"]),
        (422, &json!("key_mismatch")),
        "{problem}"
    );
    // Without its issuer, the chain does not hold.
    let (status, problem) = stack
        .call(
            &member,
            "PUT",
            &chain_path,
            Some(json!({"certificate": leaf})),
        )
        .await;
    assert_eq!(
        (status, &problem["reason"]),
        (422, &json!("broken_chain")),
        "{problem}"
    );
    // An issuer that did not sign it.
    let impostor = dir.path("impostor.pem");
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &dir.path("impostor.key"),
        "-out",
        &impostor,
        "-days",
        "30",
        "-subj",
        "/CN=External Test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    let (status, problem) = stack.call(&member,
        "PUT",
        &chain_path,
        Some(
            json!({"certificate": leaf, "chain": std::fs::read_to_string(&impostor).expect("pem")}),
        ),
    )
    .await;
    assert_eq!(
        (status, &problem["reason"]),
        (422, &json!("bad_signature")),
        "{problem}"
    );
    // Someone else's CSR cannot be completed by a colleague.
    let colleague = member.colleague(&db, "admin").await;
    let (status, _) = stack
        .call(
            &colleague,
            "PUT",
            &chain_path,
            Some(json!({"certificate": leaf, "chain": ca_pem})),
        )
        .await;
    assert_eq!(status, 403);

    // The real chain, as one bundle: active, qualified as asked, and the default.
    let (status, active) = stack
        .call(
            &member,
            "PUT",
            &chain_path,
            Some(json!({"certificate": format!("{leaf}{ca_pem}"), "eidas": true})),
        )
        .await;
    assert_eq!(status, 200, "{active}");
    assert_eq!(active["status"], "active");
    assert_eq!(active["type"], "eidas");
    assert_eq!(active["issuer_cn"], "External Test CA");
    assert_eq!(active["is_default"], true);
    let (status, problem) = stack
        .call(
            &member,
            "PUT",
            &chain_path,
            Some(json!({"certificate": leaf, "chain": ca_pem})),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    // An external CSR made no organization CA.
    assert_eq!(count(&stack, &member, "purpose=ca").await, 0);
    stack.stop().await;
}

/// `POST /v1/verify` with an uploaded PDF: the answer.
async fn verify_upload(stack: &TestStack, who: &Tenant, pdf: &[u8]) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/verify", stack.url))
        .header("authorization", &who.bearer)
        .header("content-type", "application/pdf")
        .body(pdf.to_vec())
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_revoked_after_it_signed_keeps_timestamped_signatures_and_fails_the_rest() {
    let db = TestDatabase::migrated().await;
    let pki = gsign_tests::pki::TestPki::new();
    let tsa = gsign_tests::pki::LocalTsa::start(&pki).await;
    // The verifier trusts the TSA's root: only a trusted timestamp proves when a signature
    // was made.
    let stack = start_app(
        &db,
        &[
            ("TsaUrl", tsa.url.clone()),
            (
                "TrustRootsPem",
                std::fs::read_to_string(&pki.ca_pem).expect("root"),
            ),
        ],
    )
    .await;
    let admin = Tenant::create(&db, "admin").await;
    let (status, created) = stack
        .call(
            &admin,
            "POST",
            "/v1/certificates",
            Some(json!({
                "label": "Signing",
                "key_type": "ec-p256",
                "subject": {"common_name": "Oyunaa", "organization": "Говь Трейд ХХК"},
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let client = db.connect().await;
    let row = client
        .query_one(
            "SELECT c.hsm_key_id, ca.id FROM certificates c JOIN certificates ca \
             ON ca.organization_id = c.organization_id AND ca.purpose = 'ca' WHERE c.id = $1",
            &[&id(&created).parse::<uuid::Uuid>().expect("uuid")],
        )
        .await
        .expect("row");
    let (key_id, ca_id): (String, uuid::Uuid) = (row.get(0), row.get(1));
    let chain = parse_pem_bundle(created["certificate_pem"].as_str().expect("PEM")).expect("chain");
    // The CA published its first CRL when it was made: the distribution point answers.
    let crl_url = format!("{}/pki/crls/{ca_id}.crl", stack.url);
    let first_crl = reqwest::get(&crl_url).await.expect("CRL");
    assert_eq!(first_crl.status(), 200);
    assert_eq!(first_crl.headers()["content-type"], "application/pkix-crl");

    // Two documents signed while the certificate is good: one timestamped (proof of when),
    // one not.
    let hsm = open_hsm();
    let tsa_client = gsign_platform::pades_signer::TsaClient::new(
        tsa.url.parse().expect("url"),
        std::time::Duration::from_secs(10),
    )
    .expect("client");
    let pdf = std::fs::read(root().join("shared/pdf/fixtures/one-page.pdf")).expect("fixture");
    let mut signed = Vec::new();
    for level in [Level::BT, Level::BB] {
        signed.push(
            sign_revision(
                &pdf,
                &SignatureInfo {
                    field_name: "Signature1".to_owned(),
                    signer_name: "Oyunaa".to_owned(),
                    reason: None,
                    time: SystemTime::now(),
                    locks_document: false,
                },
                &[],
                &SigningKey {
                    hsm: &hsm,
                    key_id: hex::decode(&key_id).expect("hex"),
                    scheme: Scheme::EcdsaSha256,
                    chain: chain.clone(),
                },
                level,
                Some(&tsa_client),
            )
            .await
            .expect("signed"),
        );
    }
    for document in &signed {
        let verdict = verify_upload(&stack, &admin, document).await;
        assert_eq!(verdict["valid"], true, "{verdict}");
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    let (status, revoked) = stack
        .call(
            &admin,
            "POST",
            &format!("/v1/certificates/{}/revoke", id(&created)),
            Some(json!({"reason": "key_compromise"})),
        )
        .await;
    assert_eq!(status, 200, "{revoked}");
    // The CRL lists it at once (openssl reads it).
    let dir = Dir::new();
    let crl_file = dir.path("org.crl");
    std::fs::write(
        &crl_file,
        reqwest::get(&crl_url)
            .await
            .expect("CRL")
            .bytes()
            .await
            .expect("bytes"),
    )
    .expect("write");
    let text = openssl(&["crl", "-inform", "DER", "-in", &crl_file, "-noout", "-text"]);
    let serial = revoked["serial_number"]
        .as_str()
        .expect("serial")
        .to_ascii_uppercase();
    assert!(
        text.to_ascii_uppercase()
            .replace(':', "")
            .contains(serial.trim_start_matches('0')),
        "{serial} not in\n{text}"
    );
    assert!(text.contains("Key Compromise"), "{text}");

    // Ours: the timestamp proves the first signature predates the revocation; nothing proves
    // the second does, so it is refused.
    let proven = verify_upload(&stack, &admin, &signed[0]).await;
    assert_eq!(proven["valid"], true, "{proven}");
    let unproven = verify_upload(&stack, &admin, &signed[1]).await;
    assert_eq!(unproven["valid"], false, "{unproven}");
    let problem = unproven["signatures"][0]["trust_problem"]
        .as_str()
        .unwrap_or_default();
    assert!(problem.contains("revoked"), "{unproven}");

    // pyHanko agrees, fetching the CRL from the distribution point the certificate names.
    let ca_pem = dir.write(
        "ca.pem",
        &gsign_signing::x509::to_pem(&chain[1]).expect("PEM"),
    );
    for (document, expected) in signed.iter().zip([true, false]) {
        let file = dir.path(&format!("signed-{expected}.pdf"));
        std::fs::write(&file, document).expect("write");
        let out = Command::new(stack_var("GSIGN_PYHANKO"))
            .args([
                "sign",
                "adesverify",
                "--trust",
                &ca_pem,
                "--trust",
                &pki.ca_pem,
                "--trust-replace",
                &file,
            ])
            .output()
            .expect("pyhanko");
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.success(), expected, "{report}");
    }
    stack.stop().await;
}
