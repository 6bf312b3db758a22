//! Envelope drafts end to end through the local runner: recipients, fields checked against
//! the real pages, what still stands in the way of sending, tenancy, and the evidence trail
//! whose hash chain verifies until a row is edited in the database.

use gsign_tests::envelopes::by_link;
use gsign_tests::pki::fixture;
use gsign_tests::{start_app, Tenant, TestDatabase};
use serde_json::{json, Value};

fn id(value: &Value) -> String {
    value["id"].as_str().expect("id").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_draft_gets_recipients_and_fields_and_its_evidence_chain_detects_tampering() {
    let db = TestDatabase::migrated().await;
    let stack = start_app(&db, &[]).await;
    let sender = Tenant::create(&db, "member").await;
    let document = stack
        .upload_ready_pdf(&sender, "lease.pdf", fixture("three-pages-rotated.pdf"))
        .await;

    let (status, envelope) = stack
        .call(
            &sender,
            "POST",
            "/v1/envelopes",
            Some(json!({"document_id": document, "name": "Түрээсийн гэрээ", "routing_type": "sequential"})),
        )
        .await;
    assert_eq!(status, 201, "{envelope}");
    assert_eq!(envelope["status"], "draft");
    let base = format!("/v1/envelopes/{}", id(&envelope));
    // The counts the envelope lists show: this organization's only, and what waits for me.
    let (status, counts) = stack
        .call(&sender, "GET", "/v1/envelopes/counts", None)
        .await;
    assert_eq!(
        (status, &counts),
        (
            200,
            &json!({"draft": 1, "sent": 0, "completed": 0, "declined": 0, "voided": 0,
                    "expired": 0, "waiting_for_me": 0})
        )
    );
    let stranger = Tenant::create(&db, "viewer").await;
    let (_, theirs) = stack
        .call(&stranger, "GET", "/v1/envelopes/counts", None)
        .await;
    assert_eq!(theirs["draft"], 0, "{theirs}");
    let problems: Vec<&str> = envelope["send_problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(|p| p["detail"].as_str())
        .collect();
    assert!(
        problems.iter().any(|p| p.contains("signer")),
        "{problems:?}"
    );

    // Recipients: three signers in order, a cc; one with an access code.
    let mut signers = Vec::new();
    for (order, (email, name)) in [
        ("bat@example.mn", "Батбаяр Өлзий"),
        ("oyun@example.mn", "Оюунчимэг"),
        ("ana@example.com", "Ana"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = json!({"email": email, "name": name, "routing_order": order + 1});
        if order == 2 {
            body["auth_method"] = json!("access_code");
            body["access_code"] = json!("4711-ab");
        }
        let (status, recipient) = stack
            .call(&sender, "POST", &format!("{base}/recipients"), Some(body))
            .await;
        assert_eq!(status, 201, "{recipient}");
        assert!(
            recipient.get("access_code").is_none() && recipient.get("access_code_hash").is_none()
        );
        signers.push(id(&recipient));
    }
    let (status, cc) = stack
        .call(
            &sender,
            "POST",
            &format!("{base}/recipients"),
            Some(json!({"email": "legal@example.com", "name": "Legal", "role": "cc"})),
        )
        .await;
    assert_eq!(status, 201, "{cc}");
    let (status, problem) = stack
        .call(
            &sender,
            "POST",
            &format!("{base}/recipients"),
            Some(json!({"email": "BAT@example.mn", "name": "Again"})),
        )
        .await;
    assert_eq!(
        status, 422,
        "a second signer with the same address: {problem}"
    );
    let (status, problem) = stack
        .call(
            &sender,
            "POST",
            &format!("{base}/recipients"),
            Some(json!({"email": "x@example.com", "name": "X", "auth_method": "access_code"})),
        )
        .await;
    assert_eq!(
        (status, &problem["errors"][0]["pointer"]),
        (422, &json!("/access_code")),
        "{problem}"
    );

    // Moving a recipient to another routing group (the builder does it by dragging) keeps
    // their access code without the sender retyping it; a recipient without one cannot be
    // switched to an access code without giving it.
    let moved = json!({"email": "ana@example.com", "name": "Ana", "routing_order": 3,
                       "auth_method": "access_code"});
    let (status, answer) = stack
        .call(
            &sender,
            "PUT",
            &format!("{base}/recipients/{}", signers[2]),
            Some(moved),
        )
        .await;
    assert_eq!(
        (status, &answer["auth_method"]),
        (200, &json!("access_code")),
        "{answer}"
    );
    let hash: String = db
        .connect()
        .await
        .query_one(
            "SELECT access_code_hash FROM recipients WHERE id = $1",
            &[&signers[2].parse::<uuid::Uuid>().expect("id")],
        )
        .await
        .expect("row")
        .get(0);
    assert!(gsign_platform::credentials::verify_password(
        &secrecy::SecretString::from("4711-ab".to_owned()),
        &hash
    ));
    let (status, problem) = stack
        .call(
            &sender,
            "PUT",
            &format!("{base}/recipients/{}", signers[1]),
            Some(
                json!({"email": "oyun@example.mn", "name": "Оюунчимэг", "routing_order": 2,
                        "auth_method": "access_code"}),
            ),
        )
        .await;
    assert_eq!(
        (status, &problem["errors"][0]["pointer"]),
        (422, &json!("/access_code")),
        "{problem}"
    );

    // Fields: page 2 is rotated (displayed 842 x 612 or so); one off its page is refused.
    let field = |recipient: &str, kind: &str, page: i32, x: f64, y: f64| json!({"recipient_id": recipient, "type": kind, "page": page, "x": x, "y": y, "width": 150.0, "height": 40.0});
    let (status, problem) = stack
        .call(&sender, "PUT", &format!("{base}/fields"), Some(json!({"fields": [field(&signers[0], "signature", 9, 10.0, 10.0), field(&signers[0], "signature", 1, 5000.0, 10.0)]})))
        .await;
    assert_eq!(status, 422, "{problem}");
    let pointers: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["pointer"].as_str())
        .collect();
    assert_eq!(pointers, ["/fields/0/page", "/fields/1"], "{problem}");
    let fields = json!({"fields": [
        field(&signers[0], "signature", 1, 40.0, 600.0),
        field(&signers[0], "date", 1, 220.0, 600.0),
        field(&signers[1], "signature", 2, 40.0, 400.0),
        field(&signers[1], "checkbox", 2, 300.0, 400.0),
        field(&signers[2], "signature", 3, 40.0, 100.0),
        field(&signers[2], "initial", 3, 220.0, 100.0),
    ]});
    let (status, set) = stack
        .call(&sender, "PUT", &format!("{base}/fields"), Some(fields))
        .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set.as_array().expect("fields").len(), 6);

    let (status, detail) = stack.call(&sender, "GET", &base, None).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["send_problems"], json!([]), "{detail}");
    assert_eq!(
        detail["recipients"].as_array().expect("recipients").len(),
        4
    );

    // Routing orders with a gap stand in the way of sending again.
    let (status, _) = stack
        .call(
            &sender,
            "PUT",
            &format!("{base}/recipients/{}", signers[2]),
            Some(json!({"email": "ana@example.com", "name": "Ana", "routing_order": 5})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, detail) = stack.call(&sender, "GET", &base, None).await;
    assert!(
        detail["send_problems"].to_string().contains("without gaps"),
        "{detail}"
    );

    // Tenancy and roles.
    let stranger = Tenant::create(&db, "owner").await;
    for (method, path) in [
        ("GET", base.clone()),
        ("DELETE", base.clone()),
        ("GET", format!("{base}/events")),
    ] {
        let (status, _) = stack.call(&stranger, method, &path, None).await;
        assert_eq!(status, 404, "{method} {path}");
    }
    let viewer = sender.colleague(&db, "viewer").await;
    let (status, _) = stack
        .call(&viewer, "PATCH", &base, Some(json!({"name": "x"})))
        .await;
    assert_eq!(status, 403);

    // The evidence: every change, chained; an edited row is detected where it was edited.
    let (status, evidence) = stack
        .call(&sender, "GET", &format!("{base}/events"), None)
        .await;
    assert_eq!(status, 200, "{evidence}");
    assert_eq!(evidence["chain"]["valid"], true, "{evidence}");
    let actions: Vec<&str> = evidence["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "envelope.created",
            "recipient.added",
            "recipient.added",
            "recipient.added",
            "recipient.added",
            "recipient.updated",
            "fields.set",
            "recipient.updated"
        ]
    );
    let client = db.connect().await;
    let envelope_id: uuid::Uuid = id(&envelope).parse().expect("uuid");
    client
        .execute(
            "UPDATE envelope_events SET ip = '198.51.100.66' WHERE envelope_id = $1 AND sequence = 3",
            &[&envelope_id],
        )
        .await
        .expect("tamper");
    let (_, evidence) = stack
        .call(&sender, "GET", &format!("{base}/events"), None)
        .await;
    assert_eq!(
        evidence["chain"],
        json!({"valid": false, "broken_at": 3}),
        "{evidence}"
    );

    // A draft can be deleted; then it is gone.
    let (status, _) = stack.call(&sender, "DELETE", &base, None).await;
    assert_eq!(status, 204);
    let (status, _) = stack.call(&sender, "GET", &base, None).await;
    assert_eq!(status, 404);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sending_prepares_the_document_once_and_asks_only_the_first_signer() {
    use sha2::Digest;
    let db = TestDatabase::migrated().await;
    let stack = start_app(&db, &[]).await;
    let sender = Tenant::create(&db, "member").await;
    let document = stack
        .upload_ready_pdf(&sender, "contract.pdf", fixture("object-streams.pdf"))
        .await;
    let (_, envelope) = stack
        .call(
            &sender,
            "POST",
            "/v1/envelopes",
            Some(json!({"document_id": document, "name": "Гэрээ", "message": "Баярлалаа"})),
        )
        .await;
    let base = format!("/v1/envelopes/{}", id(&envelope));
    let unique = gsign_tests::unique();
    let first_email = format!("first-{unique}@example.mn");
    let mut signers = Vec::new();
    for (order, email) in [first_email.clone(), format!("second-{unique}@example.mn")]
        .into_iter()
        .enumerate()
    {
        let (status, recipient) = stack
            .call(&sender, "POST", &format!("{base}/recipients"), Some(json!({"email": email, "name": format!("Signer {}", order + 1), "routing_order": order + 1})))
            .await;
        assert_eq!(status, 201, "{recipient}");
        signers.push(id(&recipient));
    }
    let (_, cc) = stack
        .call(
            &sender,
            "POST",
            &format!("{base}/recipients"),
            Some(json!({"email": format!("cc-{unique}@example.com"), "name": "CC", "role": "cc"})),
        )
        .await;

    // Without signature fields it cannot go: every problem is listed.
    let (status, problem) = stack
        .call(&sender, "POST", &format!("{base}/send"), None)
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        problem["errors"].as_array().expect("errors").len(),
        2,
        "{problem}"
    );

    let place = |who: &str, kind: &str, x: f64| json!({"recipient_id": who, "type": kind, "page": 1, "x": x, "y": 600.0, "width": 120.0, "height": 30.0});
    let (status, _) = stack
        .call(
            &sender,
            "PUT",
            &format!("{base}/fields"),
            Some(json!({"fields": [
                place(&signers[0], "signature", 30.0), place(&signers[0], "text", 160.0),
                place(&signers[1], "signature", 300.0), place(&signers[1], "checkbox", 440.0),
            ]})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, sent) = stack
        .call(&sender, "POST", &format!("{base}/send"), None)
        .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["status"], "sent");
    assert_eq!(sent["current_routing_order"], 1);
    let (status, problem) = stack
        .call(&sender, "POST", &format!("{base}/send"), None)
        .await;
    assert_eq!(
        (status, &problem["type"]),
        (409, &json!("https://gsign.dev/problems/envelope-not-draft"))
    );

    let (_, detail) = stack.call(&sender, "GET", &base, None).await;
    let statuses: Vec<(&str, &str)> = detail["recipients"]
        .as_array()
        .expect("recipients")
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or(""),
                r["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        statuses.contains(&("Signer 1", "sent"))
            && statuses.contains(&("Signer 2", "pending"))
            && statuses.contains(&("CC", "pending")),
        "{statuses:?}"
    );
    let _ = cc;

    // The first signer's mail carries a link whose token is stored only as its hash.
    let token = gsign_tests::mailed_token(&first_email, "/sign").await;
    let client = db.connect().await;
    let first: uuid::Uuid = signers[0].parse().expect("uuid");
    let stored: String = client
        .query_one(
            "SELECT signing_token_hash FROM recipients WHERE id = $1",
            &[&first],
        )
        .await
        .expect("row")
        .get(0);
    assert_eq!(stored, hex::encode(sha2::Sha256::digest(token.as_bytes())));

    // The prepared revision: every field exists (one signature field per signer, the seal's),
    // SigFlags 3, nothing signed, and qpdf finds it sound.
    let envelope_id: uuid::Uuid = id(&envelope).parse().expect("uuid");
    let row = client
        .query_one("SELECT current_s3_key, current_s3_version_id, current_sha256 FROM envelopes WHERE id = $1", &[&envelope_id])
        .await
        .expect("row");
    let (key, version, sha256): (String, Option<String>, String) =
        (row.get(0), row.get(1), row.get(2));
    let s3 = aws_sdk_s3::Client::new(&gsign_tests::sdk().await);
    let prepared = s3
        .get_object()
        .bucket(format!("{}-documents-123456789012", stack.name))
        .key(&key)
        .set_version_id(version)
        .send()
        .await
        .expect("the prepared revision is stored")
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes()
        .to_vec();
    assert_eq!(hex::encode(sha2::Sha256::digest(&prepared)), sha256);
    let pdf = lopdf::Document::load_mem(&prepared).expect("a PDF");
    let form = match pdf
        .catalog()
        .expect("catalog")
        .get(b"AcroForm")
        .expect("a form")
    {
        lopdf::Object::Reference(id) => pdf.get_dictionary(*id).expect("form").clone(),
        lopdf::Object::Dictionary(d) => d.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        form.get(b"SigFlags").and_then(lopdf::Object::as_i64).ok(),
        Some(3)
    );
    let names: Vec<String> = form
        .get(b"Fields")
        .and_then(lopdf::Object::as_array)
        .expect("fields")
        .iter()
        .filter_map(|f| pdf.get_dictionary(f.as_reference().ok()?).ok())
        .filter_map(|d| {
            d.get(b"T")
                .ok()
                .and_then(|t| t.as_str().ok())
                .map(|t| String::from_utf8_lossy(t).into_owned())
        })
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");
    for signer in &signers {
        assert!(names.contains(&format!("signature-{signer}")), "{names:?}");
    }
    assert!(names.contains(&"gsign-seal".to_owned()));
    let path = std::env::temp_dir().join(format!("prepared-{unique}.pdf"));
    std::fs::write(&path, &prepared).expect("write");
    let (ok, check) = gsign_tests::pki::run("qpdf", &["--check", &path.to_string_lossy()]);
    assert!(ok, "{check}");
    let _ = std::fs::remove_file(&path);
    let (_, evidence) = stack
        .call(&sender, "GET", &format!("{base}/events"), None)
        .await;
    assert_eq!(evidence["chain"]["valid"], true);
    let actions: Vec<&str> = evidence["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        &actions[actions.len() - 2..],
        ["envelope.sent", "recipient.notified"],
        "{actions:?}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recipient_opens_the_link_passes_the_access_code_consents_and_declines() {
    let db = TestDatabase::migrated().await;
    let stack = start_app(&db, &[]).await;
    let sender = Tenant::create(&db, "member").await;
    let document = stack
        .upload_ready_pdf(&sender, "nda.pdf", fixture("one-page.pdf"))
        .await;
    let (_, envelope) = stack
        .call(
            &sender,
            "POST",
            "/v1/envelopes",
            Some(json!({"document_id": document, "name": "NDA"})),
        )
        .await;
    let base = format!("/v1/envelopes/{}", id(&envelope));
    let email = format!("signer-{}@example.mn", gsign_tests::unique());
    let (_, signer) = stack
        .call(&sender, "POST", &format!("{base}/recipients"), Some(json!({"email": email, "name": "Батбаяр", "auth_method": "access_code", "access_code": "8642-xy"})))
        .await;
    let (_, _second) = stack
        .call(
            &sender,
            "POST",
            &format!("{base}/recipients"),
            Some(json!({"email": "second@example.com", "name": "Second", "routing_order": 2})),
        )
        .await;
    let (_, detail) = stack.call(&sender, "GET", &base, None).await;
    let second_id = detail["recipients"][1]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let place = |who: &str, x: f64| json!({"recipient_id": who, "type": "signature", "page": 1, "x": x, "y": 600.0, "width": 120.0, "height": 30.0});
    stack
        .call(
            &sender,
            "PUT",
            &format!("{base}/fields"),
            Some(json!({"fields": [place(&id(&signer), 40.0), place(&second_id, 300.0)]})),
        )
        .await;
    let (status, sent) = stack
        .call(&sender, "POST", &format!("{base}/send"), None)
        .await;
    assert_eq!(status, 200, "{sent}");
    let token = gsign_tests::mailed_token(&email, "/sign").await;
    let link = format!("/v1/signing/{token}");

    let (status, _) = by_link(
        &stack,
        "GET",
        "/v1/signing/not-a-real-link-0123456789abcdefghijklmnop",
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, page) = by_link(&stack, "GET", &link, None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["recipient"]["access_code_required"], true);
    // Viewed means the document was shown: not before the code.
    assert_eq!(page["recipient"]["status"], "sent");
    assert!(
        page["document"].is_null(),
        "no document before the code: {page}"
    );
    assert_eq!(
        page["fields"].as_array().expect("fields").len(),
        1,
        "only this recipient's fields"
    );

    // Nothing before the code; wrong codes count down, then the link locks.
    let (status, problem) = by_link(
        &stack,
        "POST",
        &format!("{link}/consent"),
        Some(json!({"disclosure_version": "2026-11", "accepted": true})),
    )
    .await;
    assert_eq!(
        (status, &problem["type"]),
        (
            403,
            &json!("https://gsign.dev/problems/access-code-required")
        )
    );
    for left in (1..=4).rev() {
        let (status, problem) = by_link(
            &stack,
            "POST",
            &format!("{link}/access-code"),
            Some(json!({"code": "0000"})),
        )
        .await;
        assert_eq!(
            (status, &problem["attempts_left"]),
            (403, &json!(left)),
            "{problem}"
        );
    }
    let (status, problem) = by_link(
        &stack,
        "POST",
        &format!("{link}/access-code"),
        Some(json!({"code": "0000"})),
    )
    .await;
    assert_eq!(status, 429, "{problem}");
    let (status, _) = by_link(
        &stack,
        "POST",
        &format!("{link}/access-code"),
        Some(json!({"code": "8642-xy"})),
    )
    .await;
    assert_eq!(status, 429, "the right code does not open a locked link");
    // The page learns of the lockout on opening, not after one more try.
    let (_, page) = by_link(&stack, "GET", &link, None).await;
    let until = page["recipient"]["access_code_locked_until"]
        .as_str()
        .expect("the view says until when the link is locked");
    assert!(
        until
            .parse::<chrono::DateTime<chrono::Utc>>()
            .expect("a time")
            > chrono::Utc::now(),
        "{page}"
    );
    // The lockout ends.
    let client = db.connect().await;
    let signer_id: uuid::Uuid = id(&signer).parse().expect("uuid");
    client
        .execute(
            "UPDATE recipients SET locked_until = now() - interval '1 second' WHERE id = $1",
            &[&signer_id],
        )
        .await
        .expect("unlock");
    let (status, _) = by_link(
        &stack,
        "POST",
        &format!("{link}/access-code"),
        Some(json!({"code": "8642-xy"})),
    )
    .await;
    assert_eq!(status, 204);
    let (_, page) = by_link(&stack, "GET", &link, None).await;
    assert_eq!(page["recipient"]["status"], "viewed");
    assert_eq!(page["recipient"]["access_code_locked_until"], Value::Null);
    let url = page["document"]["url"].as_str().expect("a link to the PDF");
    let pdf = reqwest::get(url)
        .await
        .expect("S3")
        .bytes()
        .await
        .expect("bytes");
    assert!(pdf.starts_with(b"%PDF-"));

    let (status, _) = by_link(
        &stack,
        "POST",
        &format!("{link}/consent"),
        Some(json!({"disclosure_version": "2019-01", "accepted": true})),
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = by_link(
        &stack,
        "POST",
        &format!("{link}/consent"),
        Some(json!({"disclosure_version": "2026-11", "accepted": true})),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = by_link(
        &stack,
        "POST",
        &format!("{link}/decline"),
        Some(json!({"reason": ""})),
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = by_link(
        &stack,
        "POST",
        &format!("{link}/decline"),
        Some(json!({"reason": "Сумма буруу"})),
    )
    .await;
    assert_eq!(status, 204);

    // Declined for everyone: the link is closed, the sender is told, the evidence holds.
    let (status, problem) = by_link(&stack, "GET", &link, None).await;
    assert_eq!(
        (status, &problem["type"]),
        (410, &json!("https://gsign.dev/problems/envelope-closed"))
    );
    let (_, detail) = stack.call(&sender, "GET", &base, None).await;
    assert_eq!(detail["status"], "declined");
    let mails: i64 = client
        .query_one("SELECT count(*) FROM outbox WHERE payload->>'template' = 'envelope_declined' AND organization_id = $1", &[&sender.org])
        .await
        .expect("outbox")
        .get(0);
    assert_eq!(mails, 1);
    let (_, evidence) = stack
        .call(&sender, "GET", &format!("{base}/events"), None)
        .await;
    assert_eq!(evidence["chain"]["valid"], true, "{evidence}");
    let actions: Vec<&str> = evidence["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    let tail: Vec<&str> = actions
        .iter()
        .copied()
        .skip_while(|a| *a != "recipient.notified")
        .skip(1)
        .collect();
    assert_eq!(
        tail,
        [
            "recipient.access_code_failed",
            "recipient.access_code_failed",
            "recipient.access_code_failed",
            "recipient.access_code_failed",
            "recipient.access_code_failed",
            "recipient.locked",
            "recipient.authenticated",
            "recipient.viewed",
            "recipient.consented",
            "recipient.declined",
            "envelope.declined"
        ],
        "{actions:?}"
    );
    let viewed = &evidence["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["action"] == "recipient.viewed")
        .expect("viewed")["user_agent"];
    assert_eq!(viewed, "e2e-signer/1.0");
    stack.stop().await;
}

/// A sent envelope with two signers in order (signature fields placed), and its base path.
async fn sent_envelope(
    stack: &gsign_tests::TestStack,
    sender: &Tenant,
    first_email: &str,
    extra: Value,
) -> String {
    let document = stack
        .upload_ready_pdf(sender, "offer.pdf", fixture("one-page.pdf"))
        .await;
    let mut body = json!({"document_id": document, "name": "Offer"});
    for (key, value) in extra.as_object().expect("object") {
        body[key] = value.clone();
    }
    let (status, envelope) = stack
        .call(sender, "POST", "/v1/envelopes", Some(body))
        .await;
    assert_eq!(status, 201, "{envelope}");
    let base = format!("/v1/envelopes/{}", id(&envelope));
    let mut ids = Vec::new();
    for (order, email) in [
        first_email.to_owned(),
        format!("later-{}@example.com", gsign_tests::unique()),
    ]
    .into_iter()
    .enumerate()
    {
        let (_, recipient) = stack
            .call(sender, "POST", &format!("{base}/recipients"), Some(json!({"email": email, "name": format!("S{order}"), "routing_order": order + 1})))
            .await;
        ids.push(id(&recipient));
    }
    let place = |who: &str, x: f64| json!({"recipient_id": who, "type": "signature", "page": 1, "x": x, "y": 600.0, "width": 120.0, "height": 30.0});
    stack
        .call(
            sender,
            "PUT",
            &format!("{base}/fields"),
            Some(json!({"fields": [place(&ids[0], 40.0), place(&ids[1], 300.0)]})),
        )
        .await;
    let (status, sent) = stack
        .call(sender, "POST", &format!("{base}/send"), None)
        .await;
    assert_eq!(status, 200, "{sent}");
    base
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sent_envelope_can_be_downloaded_reminded_voided_and_it_expires() {
    let db = TestDatabase::migrated().await;
    let stack = start_app(&db, &[]).await;
    let sender = Tenant::create(&db, "member").await;
    let first = format!("first-{}@example.mn", gsign_tests::unique());
    let base = sent_envelope(&stack, &sender, &first, json!({"reminder_max": 1})).await;

    // The current revision downloads; the final one does not exist yet.
    let (status, link) = stack
        .call(
            &sender,
            "GET",
            &format!("{base}/download?variant=current"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{link}");
    let pdf = reqwest::get(link["url"].as_str().expect("url"))
        .await
        .expect("S3")
        .bytes()
        .await
        .expect("body");
    assert!(pdf.starts_with(b"%PDF-"));
    let (status, problem) = stack
        .call(
            &sender,
            "GET",
            &format!("{base}/download?variant=final"),
            None,
        )
        .await;
    assert_eq!(
        (status, &problem["type"]),
        (
            409,
            &json!("https://gsign.dev/problems/download-not-available")
        )
    );
    let (status, _) = stack
        .call(
            &sender,
            "GET",
            &format!("{base}/download?variant=draft"),
            None,
        )
        .await;
    assert_eq!(status, 422);

    // A reminder replaces the first signer's link; the cap is one.
    let old = gsign_tests::mailed_token(&first, "/sign").await;
    let (status, reminded) = stack
        .call(&sender, "POST", &format!("{base}/remind"), None)
        .await;
    assert_eq!(status, 200, "{reminded}");
    assert_eq!(reminded["reminded"].as_array().expect("ids").len(), 1);
    let new = gsign_tests::eventually(
        std::time::Duration::from_secs(20),
        "the reminder",
        || async {
            let token = gsign_tests::mailed_token(&first, "/sign").await;
            (token != old).then_some(token)
        },
    )
    .await;
    let (status, _) = by_link(&stack, "GET", &format!("/v1/signing/{old}"), None).await;
    assert_eq!(status, 404, "the previous link stops working");
    let (status, _) = by_link(&stack, "GET", &format!("/v1/signing/{new}"), None).await;
    assert_eq!(status, 200);
    let (status, problem) = stack
        .call(&sender, "POST", &format!("{base}/remind"), None)
        .await;
    assert_eq!(
        (status, &problem["type"]),
        (409, &json!("https://gsign.dev/problems/nothing-to-remind"))
    );

    // Void: only who was asked is told; the link is closed; voiding twice is refused.
    let (status, _) = stack
        .call(
            &sender,
            "POST",
            &format!("{base}/void"),
            Some(json!({"reason": " "})),
        )
        .await;
    assert_eq!(status, 422);
    let (status, voided) = stack
        .call(
            &sender,
            "POST",
            &format!("{base}/void"),
            Some(json!({"reason": "Terms changed"})),
        )
        .await;
    assert_eq!(
        (status, &voided["status"]),
        (200, &json!("voided")),
        "{voided}"
    );
    let (status, _) = by_link(&stack, "GET", &format!("/v1/signing/{new}"), None).await;
    assert_eq!(status, 410);
    let (status, problem) = stack
        .call(
            &sender,
            "POST",
            &format!("{base}/void"),
            Some(json!({"reason": "again"})),
        )
        .await;
    assert_eq!(
        (status, &problem["type"]),
        (409, &json!("https://gsign.dev/problems/envelope-not-sent"))
    );
    let client = db.connect().await;
    let voided_mails: i64 = client
        .query_one("SELECT count(*) FROM outbox WHERE payload->>'template' = 'envelope_voided' AND organization_id = $1", &[&sender.org])
        .await
        .expect("outbox")
        .get(0);
    assert_eq!(voided_mails, 1);
    let mail = gsign_tests::mailed_containing(&first, "voided").await;
    assert!(mail.contains("Terms changed"), "{mail}");

    // Expiry: past its date, the schedule ends it.
    let other = sent_envelope(
        &stack,
        &sender,
        &format!("x-{}@example.com", gsign_tests::unique()),
        json!({}),
    )
    .await;
    let other_id: uuid::Uuid = other.rsplit('/').next().expect("id").parse().expect("uuid");
    client
        .execute(
            "UPDATE envelopes SET expires_at = now() - interval '1 minute' WHERE id = $1",
            &[&other_id],
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
    let (_, detail) = stack.call(&sender, "GET", &other, None).await;
    assert_eq!(detail["status"], "expired");
    let (_, evidence) = stack
        .call(&sender, "GET", &format!("{other}/events"), None)
        .await;
    assert_eq!(evidence["chain"]["valid"], true);
    assert_eq!(
        evidence["events"]
            .as_array()
            .expect("events")
            .last()
            .expect("last")["action"],
        "envelope.expired"
    );
    let (_, evidence) = stack
        .call(&sender, "GET", &format!("{base}/events"), None)
        .await;
    assert_eq!(evidence["chain"]["valid"], true);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reminder_schedule_sends_a_fresh_link_once_the_interval_passed() {
    let db = TestDatabase::migrated().await;
    let stack = start_app(&db, &[]).await;
    let sender = Tenant::create(&db, "member").await;
    let first = format!("slow-{}@example.mn", gsign_tests::unique());
    let base = sent_envelope(
        &stack,
        &sender,
        &first,
        json!({"reminder_interval_days": 2, "reminder_max": 2}),
    )
    .await;
    let envelope_id: uuid::Uuid = base.rsplit('/').next().expect("id").parse().expect("uuid");
    let old = gsign_tests::mailed_token(&first, "/sign").await;
    let remind = || async {
        stack
            .running
            .stack
            .invoke("schedule-send-reminders", json!({"source": "aws.events"}))
            .await
            .expect("the schedule runs")
    };
    // Not due yet: nothing happens.
    let client = db.connect().await;
    let before: i64 = client
        .query_one(
            "SELECT count(*) FROM envelope_events WHERE envelope_id = $1",
            &[&envelope_id],
        )
        .await
        .expect("count")
        .get(0);
    remind().await;
    let after: i64 = client
        .query_one(
            "SELECT count(*) FROM envelope_events WHERE envelope_id = $1",
            &[&envelope_id],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(before, after, "no reminder before the interval");
    // Three days later, the first signer (and only they: the second's turn has not come).
    client
        .execute("UPDATE recipients SET notified_at = now() - interval '3 days' WHERE envelope_id = $1 AND notified_at IS NOT NULL", &[&envelope_id])
        .await
        .expect("age");
    let answer = remind().await;
    assert!(answer["reminded"].as_u64() >= Some(1), "{answer}");
    let new = gsign_tests::eventually(
        std::time::Duration::from_secs(20),
        "the reminder mail",
        || async {
            let token = gsign_tests::mailed_token(&first, "/sign").await;
            (token != old).then_some(token)
        },
    )
    .await;
    let (status, page) = by_link(&stack, "GET", &format!("/v1/signing/{new}"), None).await;
    assert_eq!(status, 200, "{page}");
    let (_, evidence) = stack
        .call(&sender, "GET", &format!("{base}/events"), None)
        .await;
    assert_eq!(evidence["chain"]["valid"], true);
    let last = evidence["events"]
        .as_array()
        .expect("events")
        .iter()
        .rev()
        .find(|e| e["action"] == "recipient.reminded")
        .expect("reminded")
        .clone();
    assert_eq!(last["actor_type"], "system");
    // Just reminded: not due again.
    remind().await;
    let reminders: i32 = client
        .query_one(
            "SELECT max(reminders_sent) FROM recipients WHERE envelope_id = $1",
            &[&envelope_id],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(reminders, 1);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_parallel_envelope_asks_every_signer_at_once_and_no_cc() {
    let db = TestDatabase::migrated().await;
    let stack = start_app(&db, &[]).await;
    let sender = Tenant::create(&db, "member").await;
    let document = stack
        .upload_ready_pdf(&sender, "board.pdf", fixture("one-page.pdf"))
        .await;
    let (_, envelope) = stack
        .call(
            &sender,
            "POST",
            "/v1/envelopes",
            Some(json!({"document_id": document, "name": "Board", "routing_type": "parallel"})),
        )
        .await;
    let base = format!("/v1/envelopes/{}", id(&envelope));
    let unique = gsign_tests::unique();
    let emails = [
        format!("a-{unique}@example.mn"),
        format!("b-{unique}@example.mn"),
    ];
    let mut ids = Vec::new();
    for email in &emails {
        let (_, recipient) = stack
            .call(
                &sender,
                "POST",
                &format!("{base}/recipients"),
                Some(json!({"email": email, "name": "Member"})),
            )
            .await;
        ids.push(id(&recipient));
    }
    stack
        .call(
            &sender,
            "POST",
            &format!("{base}/recipients"),
            Some(json!({"email": format!("cc-{unique}@example.com"), "name": "CC", "role": "cc"})),
        )
        .await;
    let place = |who: &str, x: f64| json!({"recipient_id": who, "type": "signature", "page": 1, "x": x, "y": 600.0, "width": 120.0, "height": 30.0});
    stack
        .call(
            &sender,
            "PUT",
            &format!("{base}/fields"),
            Some(json!({"fields": [place(&ids[0], 40.0), place(&ids[1], 300.0)]})),
        )
        .await;
    let (status, sent) = stack
        .call(&sender, "POST", &format!("{base}/send"), None)
        .await;
    assert_eq!(status, 200, "{sent}");
    assert!(
        sent["current_routing_order"].is_null(),
        "parallel has no current order: {sent}"
    );
    // Both signers can open their own link now; the cc got none.
    for email in &emails {
        let token = gsign_tests::mailed_token(email, "/sign").await;
        let (status, page) = by_link(&stack, "GET", &format!("/v1/signing/{token}"), None).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["recipient"]["may_act"], true, "{page}");
    }
    let (_, detail) = stack.call(&sender, "GET", &base, None).await;
    let cc = detail["recipients"]
        .as_array()
        .expect("recipients")
        .iter()
        .find(|r| r["role"] == "cc")
        .expect("cc")
        .clone();
    assert_eq!(cc["status"], "pending");
    stack.stop().await;
}
