//! Document packs end to end through the local runner: a clause library and templates, a
//! pack of three generated documents judged by qpdf, pdffonts, pdftotext and a rendered page,
//! determinism, a new clause version, issue, every signer signing through their links, the
//! pack `signed` with its sign events, pyHanko on the signed PDFs, retention; then gates,
//! schema errors, void, regenerate and other tenants.

use gsign_tests::envelopes::{
    by_link, consent_and_sign, drawn, fetch, organization_ca, pyhanko, stack_with_tsa,
};
use gsign_tests::packs::{clause, sale_library, sale_signers, sale_variables, template};
use gsign_tests::pki::{dark_pixels, run, LocalTsa, TestPki};
use gsign_tests::{eventually, mailed_token_about, Tenant, TestDatabase};
use serde_json::{json, Value};
use sha2::Digest as _;

fn pointers(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["pointer"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn slug(problem: &Value) -> &str {
    problem["type"]
        .as_str()
        .unwrap_or_default()
        .rsplit('/')
        .next()
        .unwrap_or_default()
}

fn shas(pack: &Value) -> Vec<String> {
    pack["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .map(|d| d["render_pdf_sha256"].as_str().expect("sha").to_owned())
        .collect()
}

/// qpdf, pdffonts and pdftotext on a generated PDF; its text.
fn judge(pki: &TestPki, name: &str, pdf: &[u8]) -> String {
    let file = pki.write(name, pdf);
    let (ok, report) = run("qpdf", &["--check", &file]);
    assert!(
        ok && report.contains("No syntax or stream encoding errors"),
        "{name}: {report}"
    );
    let (ok, fonts) = run("pdffonts", &[&file]);
    assert!(ok, "{fonts}");
    let rows: Vec<&str> = fonts
        .lines()
        .skip(2)
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(!rows.is_empty(), "{fonts}");
    for row in rows {
        let columns: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            columns[columns.len() - 5],
            "yes",
            "{name}: a font is not embedded:\n{fonts}"
        );
    }
    let (ok, text) = run("pdftotext", &["-layout", &file, "-"]);
    assert!(ok, "{text}");
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pack_of_three_is_generated_issued_signed_by_everyone_and_validates() {
    let db = TestDatabase::migrated().await;
    let pki = TestPki::new();
    let tsa = LocalTsa::start(&pki).await;
    let stack = stack_with_tsa(&db, &tsa).await;
    let admin = Tenant::create(&db, "admin").await;
    let library = sale_library(&stack, &admin, 130).await;
    let suffix = gsign_tests::unique();
    let signers = sale_signers(&suffix);
    let request = |reference: &str| {
        json!({
            "reference": reference,
            "city": "UB",
            "templates": [library.sale, library.general_terms, library.receipt],
            "variables": sale_variables(),
            "signer_map": signers,
        })
    };

    // Generated: three documents, judged by others' tools.
    let (status, pack) = stack
        .call(
            &admin,
            "POST",
            "/v1/doc-packs",
            Some(request(&format!("deal-{suffix}"))),
        )
        .await;
    assert_eq!(status, 201, "{pack}");
    assert_eq!(pack["status"], "draft");
    let pack_id = pack["id"].as_str().expect("id").to_owned();
    let documents = pack["documents"].as_array().expect("documents").clone();
    assert_eq!(documents.len(), 3);
    assert!(
        documents[1]["page_count"].as_i64() >= Some(10),
        "{}",
        documents[1]
    );
    let mut texts = Vec::new();
    for (i, document) in documents.iter().enumerate() {
        let (status, link) = stack
            .call(
                &admin,
                "GET",
                &format!(
                    "/v1/doc-packs/{pack_id}/instances/{}/download",
                    document["id"].as_str().expect("present")
                ),
                None,
            )
            .await;
        assert_eq!(status, 200, "{link}");
        let pdf = fetch(&link).await;
        assert_eq!(
            hex::encode(sha2::Sha256::digest(&pdf)),
            document["render_pdf_sha256"].as_str().expect("present"),
            "the stored PDF is the recorded one"
        );
        texts.push(judge(&pki, &format!("pack-{i}.pdf"), &pdf));
        if i == 0 {
            let file = pki.write("sale.pdf", &pdf);
            let (ok, out) = run(
                "pdftoppm",
                &[
                    "-r",
                    "60",
                    "-gray",
                    "-f",
                    "1",
                    "-l",
                    "1",
                    &file,
                    &pki.write("sale-page", b""),
                ],
            );
            assert!(ok, "{out}");
            let page = std::fs::read_dir(std::path::Path::new(&file).parent().expect("dir"))
                .expect("dir")
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| {
                    p.to_string_lossy().contains("sale-page")
                        && p.extension().is_some_and(|x| x == "pgm")
                })
                .expect("a rendered page");
            assert!(
                dark_pixels(&std::fs::read(page).expect("pgm")) > 2000,
                "the page is blank"
            );
        }
    }
    for needle in [
        "Батбаяр Өлзий-Үүрийн",
        "УБ12345678",
        "Ширээ, царс модон",
        "1250000",
        "2026/118-Х",
        "Говь Трейд ХХК",
    ] {
        assert!(
            texts[0].contains(needle),
            "{needle} missing from the sale agreement:\n{}",
            texts[0]
        );
    }
    assert!(texts[0].contains("Нэгжийн үнэ"), "the table's header");
    assert!(texts[1].contains("130. Талууд"), "the terms run to the end");
    assert!(
        texts[1].contains("Оюунчимэг Дорж"),
        "the appended signature section names the signers"
    );
    let unspaced = |text: &str| text.replace(' ', "");
    assert!(
        unspaced(&texts[0]).contains("\n1/1\n"),
        "page numbers:\n{}",
        texts[0]
    );
    let pages = documents[1]["page_count"].as_i64().expect("pages");
    assert!(
        unspaced(&texts[1]).contains(&format!("\n{pages}/{pages}\n")),
        "page N of M on the terms"
    );

    // The same inputs give the same bytes; a new clause version changes the document using it.
    let (status, twin) = stack
        .call(
            &admin,
            "POST",
            "/v1/doc-packs",
            Some(request(&format!("twin-{suffix}"))),
        )
        .await;
    assert_eq!(status, 201, "{twin}");
    assert_eq!(shas(&twin), shas(&pack));
    let (status, v2) = stack
        .call(
            &admin,
            "POST",
            &format!("/v1/clauses/{}/versions", library.price),
            Some(json!({"body_markdown": "## Үнэ\n\n| Бараа | Тоо | Үнэ (₮) |\n|---|---|---|\n| {{item}} | {{quantity}} | {{price}} |\n\nТөлбөрийг 14 хоногт.\n"})),
        )
        .await;
    assert_eq!(status, 201, "{v2}");
    assert_eq!(v2["version"], 2);
    assert!(v2["published_at"].is_null());
    let v2_id = v2["id"].as_str().expect("present").to_owned();
    let (status, _) = stack
        .call(
            &admin,
            "POST",
            &format!("/v1/clauses/{v2_id}/publish"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, again) = stack
        .call(
            &admin,
            "POST",
            &format!("/v1/clauses/{v2_id}/publish"),
            None,
        )
        .await;
    assert_eq!(
        (status, slug(&again)),
        (409, "already-published"),
        "{again}"
    );
    let twin_id = twin["id"].as_str().expect("present").to_owned();
    let (status, regenerated) = stack
        .call(
            &admin,
            "POST",
            &format!("/v1/doc-packs/{twin_id}/regenerate"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 201, "{regenerated}");
    let (old, new) = (shas(&pack), shas(&regenerated));
    assert_ne!(
        new[0], old[0],
        "the sale agreement uses the new price clause"
    );
    assert_eq!(new[1..], old[1..], "the other documents do not use it");
    assert_eq!(
        regenerated["documents"][0]["clauses_resolved"][1]["version"],
        2
    );
    let (_, superseded) = stack
        .call(&admin, "GET", &format!("/v1/doc-packs/{twin_id}"), None)
        .await;
    assert_eq!(superseded["status"], "superseded");
    assert_eq!(superseded["superseded_by"], regenerated["id"]);
    let regenerated_id = regenerated["id"].as_str().expect("present").to_owned();
    let (status, voided) = stack
        .call(
            &admin,
            "POST",
            &format!("/v1/doc-packs/{regenerated_id}/void"),
            Some(json!({"reason": "duplicate deal"})),
        )
        .await;
    assert_eq!(
        (status, voided["status"].as_str()),
        (200, Some("voided")),
        "{voided}"
    );

    // Issue: one envelope per document, each signer in turn, each in their block.
    let (status, issued) = stack
        .call(
            &admin,
            "POST",
            &format!("/v1/doc-packs/{pack_id}/issue"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{issued}");
    assert_eq!(issued["status"], "issued");
    for document in issued["documents"].as_array().expect("present") {
        assert_eq!(document["envelope_status"], "sent", "{document}");
    }
    let (status, twice) = stack
        .call(
            &admin,
            "POST",
            &format!("/v1/doc-packs/{pack_id}/issue"),
            None,
        )
        .await;
    assert_eq!(status, 200, "issuing again resumes: {twice}");
    let envelopes = |pack: &Value| {
        pack["documents"]
            .as_array()
            .expect("documents")
            .iter()
            .map(|d| d["envelope_id"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        envelopes(&twice),
        envelopes(&issued),
        "and sends nothing twice"
    );
    let seller = signers["seller"]["email"]
        .as_str()
        .expect("present")
        .to_owned();
    let buyer = signers["buyer"]["email"]
        .as_str()
        .expect("present")
        .to_owned();
    let reference = format!("deal-{suffix}");
    let sign = |email: String, title: &'static str| {
        let stack = &stack;
        let reference = reference.clone();
        async move {
            let token = mailed_token_about(&email, title, "/sign").await;
            let (status, signed) =
                consent_and_sign(stack, &token, json!({"signature": drawn()})).await;
            assert_eq!(
                status, 202,
                "{email} signing {title} ({reference}): {signed}"
            );
        }
    };
    sign(seller.clone(), "Sale agreement").await;
    sign(seller.clone(), "General terms").await;
    sign(buyer.clone(), "Receipt").await;
    // The buyer is asked once the seller's signature is in each document.
    sign(buyer.clone(), "Sale agreement").await;
    sign(buyer.clone(), "General terms").await;

    let signed = eventually(
        std::time::Duration::from_secs(90),
        "the pack is signed",
        || async {
            let (_, pack) = stack
                .call(&admin, "GET", &format!("/v1/doc-packs/{pack_id}"), None)
                .await;
            (pack["status"] == "signed").then_some(pack)
        },
    )
    .await;
    redelivered_announcements_change_nothing(&stack, &db, &admin, &pack_id, &signed).await;
    let org_ca = organization_ca(&db, admin.org, &pki).await;
    let s3 = gsign_platform::aws::s3(&gsign_tests::sdk().await);
    for (i, document) in signed["documents"]
        .as_array()
        .expect("present")
        .iter()
        .enumerate()
    {
        assert_eq!(document["envelope_status"], "completed", "{document}");
        let roles: Vec<&str> = if i == 2 {
            vec!["buyer"]
        } else {
            vec!["seller", "buyer"]
        };
        for role in &roles {
            for event in ["envelope_sent", "viewed", "signed"] {
                assert!(
                    document["sign_events"]
                        .as_array()
                        .expect("present")
                        .iter()
                        .any(|e| e["actor_role"] == *role && e["event"] == event),
                    "{role} {event} missing: {:#}",
                    document["sign_events"]
                );
            }
        }
        let (status, link) = stack
            .call(
                &admin,
                "GET",
                &format!(
                    "/v1/doc-packs/{pack_id}/instances/{}/download?variant=signed",
                    document["id"].as_str().expect("present")
                ),
                None,
            )
            .await;
        assert_eq!(status, 200, "{link}");
        let file = pki.write(&format!("signed-{i}.pdf"), &fetch(&link).await);
        let (ok, report) = pyhanko(&file, &org_ca, &pki.ca_pem);
        assert!(ok, "{report}");
        assert_eq!(
            report
                .matches(":INTACT:TRUSTED,TIMESTAMP_TOKEN<INTACT:TRUSTED>")
                .count(),
            roles.len() + 1,
            "every signer's signature and the seal:\n{report}"
        );
        // Signed: the generated PDF and its hash file are under 7-year retention.
        let client = db.connect().await;
        let row = client
            .query_one(
                "SELECT hash_s3_key, hash_s3_version FROM doc_instance WHERE doc_id = $1",
                &[&document["id"]
                    .as_str()
                    .expect("present")
                    .parse::<uuid::Uuid>()
                    .expect("present")],
            )
            .await
            .expect("instance");
        let hash_file = s3
            .get_object()
            .bucket(format!("{}-documents-123456789012", stack.name))
            .key(row.get::<_, String>(0))
            .set_version_id(row.get(1))
            .send()
            .await
            .expect("the hash file");
        let until = hash_file
            .object_lock_retain_until_date()
            .expect("retained")
            .secs();
        assert!(
            until > chrono::Utc::now().timestamp() + 6 * 365 * 86_400,
            "{until}"
        );
        let text = hash_file.body.collect().await.expect("body").into_bytes();
        assert!(
            String::from_utf8_lossy(&text)
                .starts_with(document["render_pdf_sha256"].as_str().expect("sha")),
            "the hash file holds the PDF's SHA-256"
        );
    }

    // Legal hold per document, by an admin, through the document it is.
    let document_id = signed["documents"][0]["document_id"]
        .as_str()
        .expect("present");
    let (status, held) = stack
        .call(
            &admin,
            "PUT",
            &format!("/v1/documents/{document_id}/legal-hold"),
            Some(json!({"enabled": true, "reason": "dispute"})),
        )
        .await;
    assert_eq!(status, 200, "{held}");
    let (_, after) = stack
        .call(&admin, "GET", &format!("/v1/doc-packs/{pack_id}"), None)
        .await;
    assert_eq!(after["documents"][0]["legal_hold"], true);
    let (status, void) = stack
        .call(
            &admin,
            "POST",
            &format!("/v1/doc-packs/{pack_id}/void"),
            Some(json!({"reason": "x"})),
        )
        .await;
    assert_eq!(
        (status, slug(&void)),
        (409, "pack-status"),
        "a signed pack cannot be voided: {void}"
    );
    let (status, _) = stack
        .call(
            &admin,
            "PUT",
            &format!("/v1/documents/{document_id}/legal-hold"),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(status, 200, "released, so the stack can be torn down");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gates_schema_errors_void_and_other_tenants_are_clear_answers() {
    let db = TestDatabase::migrated().await;
    let stack = gsign_tests::start_app(&db, &[]).await;
    let admin = Tenant::create(&db, "admin").await;
    let member = admin.colleague(&db, "member").await;
    let library = sale_library(&stack, &admin, 3).await;
    let suffix = gsign_tests::unique();
    let signers = sale_signers(&suffix);

    // Authoring is for owners and admins; bad clauses are refused with every problem.
    let (status, _) = stack
        .call(
            &member,
            "POST",
            "/v1/clauses",
            Some(json!({"name": "x", "body_markdown": "x", "variables_json": {}})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, problem) = stack
        .call(
            &admin,
            "POST",
            "/v1/clauses",
            Some(json!({"name": "", "body_markdown": "<script>alert(1)</script>", "variables_json": {"type": "nonsense"},
                        "city_gate": [], "role_gate": ["Not A Role"]})),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    let found = pointers(&problem);
    for pointer in [
        "/name",
        "/body_markdown",
        "/variables_json",
        "/city_gate",
        "/role_gate/0",
    ] {
        assert!(
            found.iter().any(|p| p == pointer),
            "{pointer} missing: {problem}"
        );
    }

    // Gated clauses and templates: refused with the reason.
    let studio_rules = clause(
        &stack,
        &admin,
        "Studio house rules",
        "Студийн дүрэм: {{studio_name}}",
        json!({"type": "object", "required": ["studio_name"]}),
        json!({"city_gate": ["UB"], "role_gate": ["studio"]}),
    )
    .await;
    let rules_template = template(
        &stack,
        &admin,
        "House rules",
        &[&studio_rules],
        &["buyer"],
        json!({}),
    )
    .await;
    let (status, gated) = stack
        .call(
            &admin,
            "POST",
            "/v1/doc-packs",
            Some(json!({"reference": format!("g-{suffix}"), "city": "ERD", "templates": [rules_template],
                        "variables": {"studio_name": "Гэрэл"}, "signer_map": {"buyer": signers["buyer"]}})),
        )
        .await;
    assert_eq!((status, slug(&gated)), (422, "gated"), "{gated}");
    let reasons = gated["errors"].to_string();
    assert!(
        reasons.contains("UB") && reasons.contains("ERD") && reasons.contains("studio"),
        "{gated}"
    );

    // Variables checked against every clause's schema: every problem at once.
    let mut variables = sale_variables();
    variables["seller"]["register"] = json!("123");
    variables["quantity"] = json!(0);
    variables.as_object_mut().expect("present").remove("buyer");
    let (status, invalid) = stack
        .call(
            &admin,
            "POST",
            "/v1/doc-packs",
            Some(json!({"reference": format!("s-{suffix}"), "city": "UB", "templates": [library.sale],
                        "variables": variables, "signer_map": signers})),
        )
        .await;
    assert_eq!(status, 422, "{invalid}");
    let found = pointers(&invalid);
    for pointer in [
        "/variables/seller/register",
        "/variables/quantity",
        "/variables",
        "/variables/buyer/name",
    ] {
        assert!(
            found.iter().any(|p| p == pointer),
            "{pointer} missing: {invalid}"
        );
    }
    // A role without a signer, and a signer no template needs.
    let (status, roles) = stack
        .call(
            &admin,
            "POST",
            "/v1/doc-packs",
            Some(json!({"reference": format!("r-{suffix}"), "city": "UB", "templates": [library.receipt],
                        "variables": sale_variables(), "signer_map": {"seller": signers["seller"]}})),
        )
        .await;
    assert_eq!(status, 422, "{roles}");
    assert!(
        pointers(&roles).contains(&"/signer_map/buyer".to_owned())
            && pointers(&roles).contains(&"/signer_map/seller".to_owned()),
        "{roles}"
    );
    // A draft template is not usable.
    let (status, draft) = stack
        .call(
            &admin,
            "POST",
            &format!("/v1/doc-templates/{}/versions", library.receipt),
            Some(json!({"layout_json": {"title": "Receipt v2"}})),
        )
        .await;
    assert_eq!(status, 201, "{draft}");
    let (status, unpublished) = stack
        .call(
            &admin,
            "POST",
            "/v1/doc-packs",
            Some(
                json!({"reference": format!("d-{suffix}"), "city": "UB", "templates": [draft["id"]],
                        "variables": sale_variables(), "signer_map": {"buyer": signers["buyer"]}}),
            ),
        )
        .await;
    assert_eq!(status, 422, "{unpublished}");
    assert!(
        unpublished.to_string().contains("not published"),
        "{unpublished}"
    );

    // Issue, then void: the envelope is voided and the pack shows it.
    let request = json!({"reference": format!("v-{suffix}"), "city": "UB", "templates": [library.receipt],
                         "variables": sale_variables(), "signer_map": {"buyer": signers["buyer"]}});
    let (status, pack) = stack
        .call(&member, "POST", "/v1/doc-packs", Some(request.clone()))
        .await;
    assert_eq!(status, 201, "{pack}");
    let (status, taken) = stack
        .call(&member, "POST", "/v1/doc-packs", Some(request))
        .await;
    assert_eq!((status, slug(&taken)), (409, "reference-in-use"), "{taken}");
    let pack_id = pack["id"].as_str().expect("present").to_owned();
    let (status, issued) = stack
        .call(
            &member,
            "POST",
            &format!("/v1/doc-packs/{pack_id}/issue"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{issued}");
    let (status, voided) = stack
        .call(
            &member,
            "POST",
            &format!("/v1/doc-packs/{pack_id}/void"),
            Some(json!({"reason": "deal cancelled"})),
        )
        .await;
    assert_eq!(status, 200, "{voided}");
    assert_eq!(voided["status"], "voided");
    let document = &voided["documents"][0];
    assert_eq!(document["envelope_status"], "voided", "{document}");
    assert!(
        document["sign_events"]
            .as_array()
            .expect("present")
            .iter()
            .any(|e| e["event"] == "voided" && e["actor_role"] == "sender"),
        "{document}"
    );
    let (_, envelope) = stack
        .call(
            &member,
            "GET",
            &format!(
                "/v1/envelopes/{}",
                document["envelope_id"].as_str().expect("present")
            ),
            None,
        )
        .await;
    assert_eq!(envelope["status"], "voided");
    let (status, again) = stack
        .call(
            &member,
            "POST",
            &format!("/v1/doc-packs/{pack_id}/regenerate"),
            Some(json!({})),
        )
        .await;
    assert_eq!((status, slug(&again)), (409, "pack-status"), "{again}");

    // A declined and an expired envelope show on their packs too.
    let mut outcome = Vec::new();
    for (case, buyer) in [("decline", "decliner"), ("expire", "late")] {
        let email = format!("{buyer}-{suffix}@example.mn");
        let (status, pack) = stack
            .call(
                &member,
                "POST",
                "/v1/doc-packs",
                Some(json!({"reference": format!("{case}-{suffix}"), "city": "UB", "templates": [library.receipt],
                            "variables": sale_variables(), "signer_map": {"buyer": {"name": "Дорж", "email": email}}})),
            )
            .await;
        assert_eq!(status, 201, "{pack}");
        let id = pack["id"].as_str().expect("id").to_owned();
        let (status, issued) = stack
            .call(&member, "POST", &format!("/v1/doc-packs/{id}/issue"), None)
            .await;
        assert_eq!(status, 200, "{issued}");
        outcome.push((
            case,
            id,
            email,
            issued["documents"][0]["envelope_id"]
                .as_str()
                .expect("envelope")
                .to_owned(),
        ));
    }
    let (_, declined_pack, decliner, _) = &outcome[0];
    // A refused regeneration (bad variables) leaves the issued pack and its envelope alone.
    let (status, refused) = stack
        .call(
            &member,
            "POST",
            &format!("/v1/doc-packs/{declined_pack}/regenerate"),
            Some(json!({"variables": {}})),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    let (_, untouched) = stack
        .call(
            &member,
            "GET",
            &format!("/v1/doc-packs/{declined_pack}"),
            None,
        )
        .await;
    assert_eq!(untouched["status"], "issued", "{untouched}");
    assert_eq!(
        untouched["documents"][0]["envelope_status"], "sent",
        "{untouched}"
    );
    let token = gsign_tests::mailed_token(decliner, "/sign").await;
    let (status, _) = by_link(&stack, "GET", &format!("/v1/signing/{token}"), None).await;
    assert_eq!(status, 200);
    let (status, answer) = by_link(
        &stack,
        "POST",
        &format!("/v1/signing/{token}/decline"),
        Some(json!({"reason": "Үнэ буруу"})),
    )
    .await;
    assert_eq!(status, 204, "{answer}");
    let (_, late_pack, _, late_envelope) = &outcome[1];
    db.connect()
        .await
        .execute(
            "UPDATE envelopes SET expires_at = now() - interval '1 minute' WHERE id = $1",
            &[&late_envelope.parse::<uuid::Uuid>().expect("uuid")],
        )
        .await
        .expect("age");
    let answer = stack
        .running
        .stack
        .invoke("schedule-expire-envelopes", json!({"source": "aws.events"}))
        .await
        .expect("the schedule runs");
    assert!(answer["expired"].as_u64() >= Some(1), "{answer}");
    for (pack, status, event, role) in [
        (declined_pack, "declined", "declined", "buyer"),
        (late_pack, "expired", "expired", "sender"),
    ] {
        // The pack hears of its envelope's end through the announced evidence.
        let detail = eventually(
            std::time::Duration::from_secs(30),
            "the pack document follows its envelope",
            || async {
                let (_, detail) = stack
                    .call(&member, "GET", &format!("/v1/doc-packs/{pack}"), None)
                    .await;
                let document = &detail["documents"][0];
                let shown = document["envelope_status"] == status
                    && document["sign_events"].as_array().is_some_and(|events| {
                        events
                            .iter()
                            .any(|e| e["event"] == event && e["actor_role"] == role)
                    });
                shown.then_some(detail)
            },
        )
        .await;
        assert_eq!(
            detail["status"], "issued",
            "a pack that cannot complete stays issued: {detail}"
        );
    }

    // Another tenant sees none of it.
    let eve = Tenant::create(&db, "admin").await;
    let doc_id = document["id"].as_str().expect("present");
    for (method, path, body) in [
        ("GET", format!("/v1/doc-packs/{pack_id}"), None),
        ("POST", format!("/v1/doc-packs/{pack_id}/issue"), None),
        (
            "POST",
            format!("/v1/doc-packs/{pack_id}/void"),
            Some(json!({"reason": "x"})),
        ),
        (
            "POST",
            format!("/v1/doc-packs/{pack_id}/regenerate"),
            Some(json!({})),
        ),
        (
            "GET",
            format!("/v1/doc-packs/{pack_id}/instances/{doc_id}/download"),
            None,
        ),
        ("GET", format!("/v1/clauses/{}", library.parties), None),
        (
            "POST",
            format!("/v1/clauses/{}/versions", library.parties),
            Some(json!({})),
        ),
        (
            "POST",
            format!("/v1/clauses/{}/publish", library.parties),
            None,
        ),
        (
            "POST",
            format!("/v1/doc-templates/{}/deactivate", library.sale),
            None,
        ),
    ] {
        let (status, problem) = stack.call(&eve, method, &path, body).await;
        assert_eq!(status, 404, "{method} {path}: {problem}");
    }
    let (status, theirs) = stack
        .call(
            &eve,
            "POST",
            "/v1/doc-packs",
            Some(json!({"reference": "x", "city": "UB", "templates": [library.sale], "variables": sale_variables(), "signer_map": signers})),
        )
        .await;
    assert_eq!(status, 422, "{theirs}");
    let (_, listed) = stack.call(&eve, "GET", "/v1/clauses", None).await;
    assert_eq!(listed["data"], json!([]));

    // Deactivated: refused for new packs, with the reason; the library lists by gate.
    let (status, _) = stack
        .call(
            &admin,
            "POST",
            &format!("/v1/doc-templates/{}/deactivate", library.receipt),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, retired) = stack
        .call(
            &admin,
            "POST",
            "/v1/doc-packs",
            Some(json!({"reference": format!("z-{suffix}"), "city": "UB", "templates": [library.receipt],
                        "variables": sale_variables(), "signer_map": {"buyer": signers["buyer"]}})),
        )
        .await;
    assert_eq!(status, 422, "{retired}");
    assert!(retired.to_string().contains("deactivated"), "{retired}");
    let (_, for_erd) = stack
        .call(&admin, "GET", "/v1/clauses?city=ERD", None)
        .await;
    let names: Vec<&str> = for_erd["data"]
        .as_array()
        .expect("present")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(
        !names.contains(&"Studio house rules") && names.contains(&"Parties"),
        "{names:?}"
    );
    stack.stop().await;
}

/// Every announcement of the pack's envelopes delivered again, newest first (SQS may repeat
/// and reorder them): the pack reads exactly as before.
async fn redelivered_announcements_change_nothing(
    stack: &gsign_tests::TestStack,
    db: &TestDatabase,
    admin: &Tenant,
    pack_id: &str,
    signed: &Value,
) {
    let client = db.connect().await;
    let rows = client
        .query(
            "SELECT e.envelope_id, e.sequence, e.action, e.actor_type, e.actor_id, \
             e.recipient_id, e.ip, e.user_agent, e.details, e.occurred_at \
             FROM envelope_events e JOIN doc_instance i ON i.envelope_id = e.envelope_id \
             WHERE i.pack_id = $1 AND e.action = ANY($2) ORDER BY e.occurred_at DESC, e.sequence DESC",
            &[
                &pack_id.parse::<uuid::Uuid>().expect("uuid"),
                &gsign_core::envelopes::ANNOUNCED_ACTIONS,
            ],
        )
        .await
        .expect("the pack's evidence");
    assert!(
        rows.len() >= 9,
        "three documents, each sent, viewed, signed and completed"
    );
    let records: Vec<Value> = rows
        .iter()
        .map(|row| {
            let event = json!({
                "envelope_id": row.get::<_, uuid::Uuid>(0),
                "sequence": row.get::<_, i32>(1),
                "action": row.get::<_, String>(2),
                "actor_type": row.get::<_, String>(3),
                "actor_id": row.get::<_, Option<uuid::Uuid>>(4),
                "recipient_id": row.get::<_, Option<uuid::Uuid>>(5),
                "ip": row.get::<_, Option<String>>(6),
                "user_agent": row.get::<_, Option<String>>(7),
                "details": row.get::<_, Value>(8),
                "occurred_at": row.get::<_, chrono::DateTime<chrono::Utc>>(9),
            });
            let message = json!({
                "id": uuid::Uuid::now_v7(),
                "kind": "envelope_event",
                "organization_id": admin.org,
                "created_at": chrono::Utc::now(),
                "payload": {"organization_id": admin.org, "event": event},
            });
            json!({
                "messageId": uuid::Uuid::new_v4().to_string(),
                "body": message.to_string(),
                "eventSource": "aws:sqs",
            })
        })
        .collect();
    for batch in records.chunks(10) {
        let answer = stack
            .running
            .stack
            .invoke("sqs-track-pack-document", json!({"Records": batch}))
            .await
            .expect("the follower runs");
        assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    }
    let (_, again) = stack
        .call(admin, "GET", &format!("/v1/doc-packs/{pack_id}"), None)
        .await;
    assert_eq!(again["status"], "signed", "{again}");
    for (before, after) in signed["documents"]
        .as_array()
        .expect("present")
        .iter()
        .zip(again["documents"].as_array().expect("present"))
    {
        assert_eq!(after["envelope_status"], "completed", "{after}");
        assert_eq!(after["sign_events"], before["sign_events"], "{after}");
    }
}
