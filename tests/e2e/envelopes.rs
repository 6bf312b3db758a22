//! Envelope drafts end to end through the local runner: recipients, fields checked against
//! the real pages, what still stands in the way of sending, tenancy, and the evidence trail
//! whose hash chain verifies until a row is edited in the database.

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
