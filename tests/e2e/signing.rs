//! Envelopes signed end to end through the local runner, as recipients would: the links in
//! the mails, consent, `sign`, the signing worker (HSM, B-T timestamps from a local TSA), the
//! routing, and completion (seal, certificate of completion, retention, emails). The final
//! PDF is judged by pyHanko, pdfsig and qpdf; every signing job is delivered twice.

use std::time::Duration;

use gsign_tests::envelopes::{
    by_link, consent_and_sign, drawn, envelope_when, fetch, organization_ca, pyhanko, pyhanko_lta,
    send_envelope, stack_with_tsa,
};
use gsign_tests::pki::{fixture, run, LocalTsa, TestPki};
use gsign_tests::{eventually, mailed_containing, mailed_token, start_app, Tenant, TestDatabase};
use serde_json::{json, Value};
use sha2::Digest as _;
use x509_cert::der::Decode as _;

fn id(value: &Value) -> String {
    value["id"].as_str().expect("id").to_owned()
}

/// Everything the signing worker can change, to compare before and after redeliveries.
async fn worker_state(db: &TestDatabase, envelope: &str) -> Vec<String> {
    let client = db.connect().await;
    let envelope: uuid::Uuid = envelope.parse().expect("uuid");
    let row = client
        .query_one(
            "SELECT status, revision_count, current_sha256, final_sha256, certificate_sha256, \
             current_routing_order, (SELECT count(*) FROM envelope_events WHERE envelope_id = $1), \
             (SELECT count(*) FROM outbox WHERE kind = 'email' AND organization_id = e.organization_id), \
             (SELECT string_agg(id::text || status || coalesce(revision_sha256, '-'), ',' ORDER BY id) \
              FROM recipients WHERE envelope_id = $1) \
             FROM envelopes e WHERE id = $1",
            &[&envelope],
        )
        .await
        .expect("state");
    vec![
        row.get::<_, String>(0),
        row.get::<_, i32>(1).to_string(),
        format!("{:?}", row.get::<_, Option<String>>(2)),
        format!("{:?}", row.get::<_, Option<String>>(3)),
        format!("{:?}", row.get::<_, Option<String>>(4)),
        format!("{:?}", row.get::<_, Option<i32>>(5)),
        row.get::<_, i64>(6).to_string(),
        row.get::<_, i64>(7).to_string(),
        row.get::<_, String>(8),
    ]
}

/// Sends every signing job the outbox has published for `org` to the stack's signing queue a
/// second time, and waits until the worker has taken them all.
async fn redeliver_signing_jobs(
    stack: &gsign_tests::TestStack,
    db: &TestDatabase,
    org: uuid::Uuid,
) -> usize {
    let client = db.connect().await;
    let rows = client
        .query(
            "SELECT id, kind, organization_id, payload, created_at FROM outbox \
             WHERE kind = 'signing' AND organization_id = $1 AND published_at IS NOT NULL",
            &[&org],
        )
        .await
        .expect("outbox");
    let sqs = gsign_platform::aws::sqs(&gsign_tests::sdk().await);
    let queue = sqs
        .get_queue_url()
        .queue_name(format!("{}-signing", stack.name))
        .send()
        .await
        .expect("the signing queue")
        .queue_url
        .expect("url");
    for row in &rows {
        let message = gsign_platform::outbox::Message {
            id: row.get(0),
            kind: gsign_platform::outbox::Kind::Signing,
            organization_id: row.get(2),
            payload: row.get(3),
            created_at: row.get(4),
        };
        sqs.send_message()
            .queue_url(&queue)
            .message_body(serde_json::to_string(&message).expect("json"))
            .send()
            .await
            .expect("sent");
    }
    eventually(
        Duration::from_secs(60),
        "the redelivered jobs are taken",
        || async {
            let attributes = sqs
                .get_queue_attributes()
                .queue_url(&queue)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
                .send()
                .await
                .ok()?;
            let count = |name| {
                attributes
                    .attributes()
                    .and_then(|a| a.get(&name).cloned())
                    .unwrap_or_default()
            };
            (count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages) == "0"
                && count(
                    aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
                ) == "0")
                .then_some(())
        },
    )
    .await;
    rows.len()
}

#[tokio::test(flavor = "multi_thread")]
async fn three_signers_in_turn_and_a_cc_end_with_a_sealed_pdf_every_validator_accepts() {
    let db = TestDatabase::migrated().await;
    let pki = TestPki::new();
    let tsa = LocalTsa::start(&pki).await;
    let stack = stack_with_tsa(&db, &tsa).await;
    let sender = Tenant::create(&db, "member").await;
    let suffix = gsign_tests::unique();
    let emails: Vec<String> = ["ana", "bat", "chen", "dora"]
        .iter()
        .map(|who| format!("{who}-{suffix}@example.mn"))
        .collect();
    let document = stack
        .upload_ready_pdf(&sender, "lease.pdf", fixture("three-pages-rotated.pdf"))
        .await;
    let (base, ids) = send_envelope(
        &stack,
        &sender,
        &document,
        "sequential",
        &[
            (&emails[0], "Ана Лима", "signer", 1),
            (&emails[1], "Батбаяр Өлзий", "signer", 2),
            (&emails[2], "陈静", "signer", 3),
            (&emails[3], "Dora Cc", "cc", 3),
        ],
        |ids| {
            vec![
                json!({"recipient_id": ids[0], "type": "text", "label": "Title", "page": 2,
                       "x": 60.0, "y": 100.0, "width": 200.0, "height": 20.0}),
                json!({"recipient_id": ids[0], "type": "checkbox", "label": "Agree", "page": 2,
                       "x": 60.0, "y": 140.0, "width": 16.0, "height": 16.0}),
                json!({"recipient_id": ids[1], "type": "date", "page": 3,
                       "x": 60.0, "y": 100.0, "width": 100.0, "height": 20.0}),
                json!({"recipient_id": ids[1], "type": "initial", "page": 3,
                       "x": 200.0, "y": 100.0, "width": 50.0, "height": 30.0}),
            ]
        },
    )
    .await;
    let envelope_id = base.trim_start_matches("/v1/envelopes/").to_owned();

    // Signer 1: a required field left empty is refused with every problem and changes nothing.
    let first = mailed_token(&emails[0], "/sign").await;
    let (_, detail) = stack.call(&sender, "GET", &base, None).await;
    let fields = detail["fields"].as_array().expect("fields").clone();
    let field_of = |who: &str, kind: &str| {
        fields
            .iter()
            .find(|f| f["recipient_id"] == who && f["type"] == kind)
            .map(id)
            .expect("field")
    };
    let (title, agree) = (field_of(&ids[0], "text"), field_of(&ids[0], "checkbox"));
    let (status, problem) = by_link(
        &stack,
        "POST",
        &format!("/v1/signing/{first}/sign"),
        Some(json!({"values": {}, "signature": drawn()})),
    )
    .await;
    assert_eq!(status, 403, "consent comes first: {problem}");
    assert_eq!(
        problem["type"]
            .as_str()
            .unwrap_or_default()
            .rsplit('/')
            .next(),
        Some("consent-required")
    );
    let (status, problem) = consent_and_sign(&stack, &first, json!({"values": {}})).await;
    assert_eq!(status, 422, "{problem}");
    let pointers: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["pointer"].as_str())
        .collect();
    assert!(pointers.contains(&"/signature"), "{problem}");
    assert!(
        pointers.contains(&format!("/values/{title}").as_str()),
        "{problem}"
    );
    assert!(
        pointers.contains(&format!("/values/{agree}").as_str()),
        "{problem}"
    );
    let (status, signed) = by_link(
        &stack,
        "POST",
        &format!("/v1/signing/{first}/sign"),
        Some(json!({"values": {title.clone(): "Захирал", agree.clone(): true}, "signature": drawn()})),
    )
    .await;
    assert_eq!(status, 202, "{signed}");
    assert_eq!(signed["status"], "signed");
    // The same link again: already signed.
    let (status, again) = by_link(
        &stack,
        "POST",
        &format!("/v1/signing/{first}/sign"),
        Some(json!({"values": {title.clone(): "x", agree.clone(): true}, "signature": drawn()})),
    )
    .await;
    assert_eq!(status, 409, "{again}");

    // The worker puts the signature in the PDF and asks signer 2.
    let envelope = envelope_when(&stack, &sender, &base, "signature 1 applied", |e| {
        e["revision_count"] == 1 && e["current_routing_order"] == 2
    })
    .await;
    assert!(envelope["processing_error"].is_null(), "{envelope}");
    let state = worker_state(&db, &envelope_id).await;
    assert!(redeliver_signing_jobs(&stack, &db, sender.org).await >= 1);
    assert_eq!(
        worker_state(&db, &envelope_id).await,
        state,
        "a redelivered job changed something"
    );

    let second = mailed_token(&emails[1], "/sign").await;
    let (status, signed) = consent_and_sign(
        &stack,
        &second,
        json!({"signature": {"type": "typed", "text": "Батбаяр Өлзий"}}),
    )
    .await;
    assert_eq!(status, 202, "{signed}");
    envelope_when(&stack, &sender, &base, "signature 2 applied", |e| {
        e["revision_count"] == 2
    })
    .await;

    let third = mailed_token(&emails[2], "/sign").await;
    let (status, signed) = consent_and_sign(&stack, &third, json!({"signature": drawn()})).await;
    assert_eq!(status, 202, "{signed}");
    let completed = envelope_when(&stack, &sender, &base, "completed", |e| {
        e["status"] == "completed"
    })
    .await;
    let final_sha256 = completed["final_sha256"]
        .as_str()
        .expect("final sha")
        .to_owned();
    let state = worker_state(&db, &envelope_id).await;
    redeliver_signing_jobs(&stack, &db, sender.org).await;
    assert_eq!(
        worker_state(&db, &envelope_id).await,
        state,
        "a redelivered job changed a completed envelope"
    );

    // Everyone is told, the cc too, with the final document's hash; the links open it.
    for email in &emails {
        let mail = mailed_containing(email, &final_sha256).await;
        assert!(mail.contains("sign?token="), "{mail}");
    }
    let dora = mailed_token(&emails[3], "/sign").await;
    let (status, view) = by_link(&stack, "GET", &format!("/v1/signing/{dora}"), None).await;
    assert_eq!(status, 200, "{view}");
    assert!(view["certificate"]["url"].is_string(), "{view}");
    let (status, _) = by_link(
        &stack,
        "POST",
        &format!("/v1/signing/{third}/sign"),
        Some(json!({"signature": drawn()})),
    )
    .await;
    assert_eq!(
        status, 404,
        "the old link was replaced by the completion mail's"
    );

    // The final document: three signatures and the seal, all timestamped, all trusted.
    let (status, link) = stack
        .call(
            &sender,
            "GET",
            &format!("{base}/download?variant=final"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{link}");
    let final_pdf = fetch(&link).await;
    assert_eq!(hex::encode(sha2::Sha256::digest(&final_pdf)), final_sha256);
    let file = pki.write("final.pdf", &final_pdf);
    let org_ca = organization_ca(&db, sender.org, &pki).await;
    let (ok, report) = pyhanko(&file, &org_ca, &pki.ca_pem);
    assert!(ok, "pyHanko refused:\n{report}");
    let lines: Vec<&str> = report.lines().filter(|l| l.contains(":INTACT")).collect();
    assert_eq!(lines.len(), 4, "{report}");
    for line in &lines {
        assert!(line.contains("INTACT:TRUSTED"), "{report}");
        assert!(line.contains("TIMESTAMP_TOKEN<INTACT:TRUSTED>"), "{report}");
    }
    for line in &lines[..3] {
        assert!(line.contains("ACCEPTABLE_MODIFICATIONS"), "{report}");
    }
    // B-LTA by default: pyHanko finds every certificate and CRL it needs in the document
    // itself (no fetching), and judges every signature still valid in 2046, when every
    // certificate has expired, given the archive timestamp is renewed.
    let (ok, verdicts, out) = pyhanko_lta(&file, &org_ca, &pki.ca_pem, "2046-12-04T00:00:00+00:00");
    assert!(ok, "pyHanko's long-term validation refused:\n{out}");
    assert_eq!(verdicts.len(), 4, "{out}");
    for verdict in &verdicts {
        assert_eq!(verdict["now"]["indication"], "PASSED", "{out}");
        assert_eq!(verdict["future"]["indication"], "PASSED", "{out}");
        assert_eq!(verdict["document_timestamps"], 1, "{out}");
        assert_eq!(verdict["dss"], true, "{out}");
    }
    // Our verifier agrees, and names the level.
    let roots = [
        x509_cert::Certificate::from_der(&std::fs::read(&org_ca).expect("CA")).expect("CA"),
        pki.ca.clone(),
    ];
    let report = gsign_signing::verify::verify(&final_pdf, &roots);
    assert!(report.all_valid_and_trusted(), "{report:#?}");
    let levels: Vec<_> = report
        .signatures
        .iter()
        .map(|s| (s.document_timestamp, s.level))
        .collect();
    use gsign_signing::verify::AdesLevel;
    assert_eq!(
        levels,
        [
            (false, Some(AdesLevel::BLTA)),
            (false, Some(AdesLevel::BLTA)),
            (false, Some(AdesLevel::BLTA)),
            (false, Some(AdesLevel::BLTA)),
            (true, None),
        ],
        "{report:#?}"
    );
    // poppler checks the four CAdES signatures; it lists the document timestamp, covering the
    // whole file, but does not verify ETSI.RFC3161 tokens ("not yet been verified").
    let (_, pdfsig) = run("pdfsig", &[&file]);
    assert_eq!(pdfsig.matches("Signature is Valid.").count(), 4, "{pdfsig}");
    assert!(pdfsig.contains("GSign archive timestamp 1"), "{pdfsig}");
    assert_eq!(
        pdfsig.matches("Total document signed").count(),
        1,
        "{pdfsig}"
    );
    let (ok, qpdf) = run("qpdf", &["--check", &file]);
    assert!(ok, "{qpdf}");

    // The certificate of completion lists every event of the trail up to the seal.
    let (status, link) = stack
        .call(
            &sender,
            "GET",
            &format!("{base}/download?variant=certificate"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{link}");
    let certificate = pki.write("certificate.pdf", &fetch(&link).await);
    let (ok, text) = run("pdftotext", &["-layout", &certificate, "-"]);
    assert!(ok, "{text}");
    let (status, evidence) = stack
        .call(&sender, "GET", &format!("{base}/events"), None)
        .await;
    assert_eq!(status, 200, "{evidence}");
    assert_eq!(evidence["chain"]["valid"], true, "{evidence}");
    let events = evidence["events"].as_array().expect("events");
    for event in events
        .iter()
        .take_while(|e| e["action"] != "envelope.completed")
    {
        let hash = event["hash"].as_str().expect("hash");
        assert!(
            text.contains(&hash[..16]),
            "event {} missing:\n{text}",
            event["sequence"]
        );
    }
    for needle in [
        "Батбаяр Өлзий",
        "陈静",
        &final_sha256[..16],
        "e2e-signer/1.0",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    let actions: Vec<&str> = events.iter().filter_map(|e| e["action"].as_str()).collect();
    for action in [
        "recipient.signed",
        "signature.applied",
        "envelope.sealed",
        "envelope.completed",
    ] {
        assert!(actions.contains(&action), "{actions:?}");
    }

    // Retained for 7 years in S3, the original included.
    let client = db.connect().await;
    let retained: Option<chrono::DateTime<chrono::Utc>> = client
        .query_one(
            "SELECT retention_until FROM documents WHERE id = $1",
            &[&document.parse::<uuid::Uuid>().expect("uuid")],
        )
        .await
        .expect("document")
        .get(0);
    let years = retained.expect("retained") - chrono::Utc::now();
    assert!(years.num_days() > 365 * 7 - 2, "{years}");

    // A tampered evidence row is detected.
    client
        .execute(
            "UPDATE envelope_events SET details = '{\"forged\": true}' WHERE envelope_id = $1 AND sequence = 3",
            &[&envelope_id.parse::<uuid::Uuid>().expect("uuid")],
        )
        .await
        .expect("tamper");
    let (_, evidence) = stack
        .call(&sender, "GET", &format!("{base}/events"), None)
        .await;
    assert_eq!(evidence["chain"]["valid"], false, "{evidence}");

    // Another tenant sees none of it.
    let stranger = Tenant::create(&db, "owner").await;
    let (status, _) = stack
        .call(
            &stranger,
            "GET",
            &format!("{base}/download?variant=final"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    stack.stop().await;
}

/// A timestamp authority in front of `tsa` that holds every request until it is opened,
/// and says when the first one arrived.
struct HeldTsa {
    url: String,
    arrived: tokio::sync::watch::Receiver<bool>,
    open: tokio::sync::watch::Sender<bool>,
}

impl HeldTsa {
    async fn start(tsa: &LocalTsa) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let url = format!("http://{}/", listener.local_addr().expect("address"));
        let (arrived_tx, arrived) = tokio::sync::watch::channel(false);
        let (open, opened) = tokio::sync::watch::channel(false);
        let upstream = tsa.url.clone();
        let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
            let (arrived_tx, mut opened, upstream) =
                (arrived_tx.clone(), opened.clone(), upstream.clone());
            async move {
                arrived_tx.send_replace(true);
                opened.wait_for(|open| *open).await.expect("the gate");
                let answer = reqwest::Client::new()
                    .post(&upstream)
                    .header("content-type", "application/timestamp-query")
                    .body(body)
                    .send()
                    .await
                    .expect("the TSA answers");
                let status = answer.status().as_u16();
                let bytes = answer.bytes().await.expect("the token");
                (
                    axum::http::StatusCode::from_u16(status).expect("status"),
                    [("content-type", "application/timestamp-reply")],
                    bytes,
                )
            }
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, arrived, open }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn while_a_signature_waits_on_the_timestamp_authority_the_envelope_is_not_locked() {
    let db = TestDatabase::migrated().await;
    let pki = TestPki::new();
    let tsa = LocalTsa::start(&pki).await;
    let held = HeldTsa::start(&tsa).await;
    let stack = start_app(
        &db,
        &[
            ("TsaUrl", held.url.clone()),
            ("RetentionMode", "GOVERNANCE".to_owned()),
        ],
    )
    .await;
    let sender = Tenant::create(&db, "member").await;
    let suffix = gsign_tests::unique();
    let (a, b) = (
        format!("ha-{suffix}@example.com"),
        format!("hb-{suffix}@example.com"),
    );
    let document = stack
        .upload_ready_pdf(&sender, "nda.pdf", fixture("one-page.pdf"))
        .await;
    let (base, _) = send_envelope(
        &stack,
        &sender,
        &document,
        "parallel",
        &[(&a, "Hal A", "signer", 1), (&b, "Hal B", "signer", 1)],
        |_| Vec::new(),
    )
    .await;
    let (ta, tb) = (
        mailed_token(&a, "/sign").await,
        mailed_token(&b, "/sign").await,
    );
    let (status, signed) = consent_and_sign(&stack, &ta, json!({"signature": drawn()})).await;
    assert_eq!(status, 202, "{signed}");

    // The worker's first signature is at the TSA, which holds it.
    let mut arrived = held.arrived.clone();
    tokio::time::timeout(Duration::from_secs(60), arrived.wait_for(|a| *a))
        .await
        .expect("the worker asks the TSA")
        .expect("the gate");
    let envelope_id: uuid::Uuid = base
        .rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .expect("the envelope id");
    let mut client = db.connect().await;
    let tx = client.transaction().await.expect("a transaction");
    tx.query_one(
        "SELECT status FROM envelopes WHERE id = $1 FOR UPDATE NOWAIT",
        &[&envelope_id],
    )
    .await
    .expect("no one holds the envelope's row while its revision is signed");
    tx.rollback().await.expect("rollback");
    // So the other signer is answered at once, not after the timestamp.
    let (status, signed) = consent_and_sign(
        &stack,
        &tb,
        json!({"signature": {"type": "typed", "text": "Hal B"}}),
    )
    .await;
    assert_eq!(status, 202, "{signed}");

    held.open.send_replace(true);
    let completed = envelope_when(&stack, &sender, &base, "completed", |e| {
        e["status"] == "completed"
    })
    .await;
    assert_eq!(
        completed["revision_count"], 2,
        "both signatures, each once, whatever job prepared them: {completed}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_parallel_signers_signing_at_once_both_land_one_after_the_other() {
    let db = TestDatabase::migrated().await;
    let pki = TestPki::new();
    let tsa = LocalTsa::start(&pki).await;
    let stack = stack_with_tsa(&db, &tsa).await;
    let sender = Tenant::create(&db, "member").await;
    let suffix = gsign_tests::unique();
    let (a, b, viewer, approver) = (
        format!("pa-{suffix}@example.com"),
        format!("pb-{suffix}@example.com"),
        format!("pv-{suffix}@example.com"),
        format!("pp-{suffix}@example.com"),
    );
    let document = stack
        .upload_ready_pdf(&sender, "nda.pdf", fixture("one-page.pdf"))
        .await;
    let (base, _) = send_envelope(
        &stack,
        &sender,
        &document,
        "parallel",
        &[
            (&a, "Pat A", "signer", 1),
            (&b, "Pat B", "signer", 1),
            (&viewer, "Vic", "viewer", 1),
            (&approver, "Ada", "approver", 1),
        ],
        |_| Vec::new(),
    )
    .await;
    let (ta, tb) = (
        mailed_token(&a, "/sign").await,
        mailed_token(&b, "/sign").await,
    );
    let tv = mailed_token(&viewer, "/sign").await;
    // A viewer has nothing to sign; viewing is their part.
    let (status, problem) = by_link(
        &stack,
        "POST",
        &format!("/v1/signing/{tv}/sign"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 403, "consent first: {problem}");
    let (status, view) = by_link(&stack, "GET", &format!("/v1/signing/{tv}"), None).await;
    assert_eq!(status, 200, "{view}");
    // An approver approves without a signature field.
    let tp = mailed_token(&approver, "/sign").await;
    let (status, approved) = consent_and_sign(&stack, &tp, json!({})).await;
    assert_eq!(
        (status, &approved["status"]),
        (202, &json!("approved")),
        "{approved}"
    );
    let (sa, sb) = tokio::join!(
        consent_and_sign(&stack, &ta, json!({"signature": drawn()})),
        consent_and_sign(
            &stack,
            &tb,
            json!({"signature": {"type": "typed", "text": "Pat B"}})
        ),
    );
    assert_eq!((sa.0, sb.0), (202, 202), "{sa:?} {sb:?}");
    let completed = envelope_when(&stack, &sender, &base, "completed", |e| {
        e["status"] == "completed"
    })
    .await;
    assert_eq!(completed["revision_count"], 2, "{completed}");

    let (_, link) = stack
        .call(
            &sender,
            "GET",
            &format!("{base}/download?variant=final"),
            None,
        )
        .await;
    let file = pki.write("parallel-final.pdf", &fetch(&link).await);
    let org_ca = organization_ca(&db, sender.org, &pki).await;
    let (ok, report) = pyhanko(&file, &org_ca, &pki.ca_pem);
    assert!(ok, "{report}");
    let lines: Vec<&str> = report.lines().filter(|l| l.contains(":INTACT")).collect();
    assert_eq!(lines.len(), 3, "{report}");
    assert!(
        lines.iter().all(|l| l.contains("INTACT:TRUSTED")),
        "{report}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tsa_outage_shows_on_the_envelope_and_the_resume_schedule_finishes_the_work() {
    let db = TestDatabase::migrated().await;
    let pki = TestPki::new();
    let tsa = LocalTsa::start(&pki).await;
    let stack = start_app(
        &db,
        &[
            ("TsaUrl", tsa.url.clone()),
            ("RetentionMode", "GOVERNANCE".to_owned()),
            ("SigningStallSeconds", "1".to_owned()),
        ],
    )
    .await;
    let sender = Tenant::create(&db, "member").await;
    let signer = format!("outage-{}@example.com", gsign_tests::unique());
    let document = stack
        .upload_ready_pdf(&sender, "order.pdf", fixture("one-page.pdf"))
        .await;
    let (base, _) = send_envelope(
        &stack,
        &sender,
        &document,
        "sequential",
        &[(&signer, "Olga", "signer", 1)],
        |_| Vec::new(),
    )
    .await;
    tsa.set_in_service(false);
    let token = mailed_token(&signer, "/sign").await;
    let (status, signed) = consent_and_sign(&stack, &token, json!({"signature": drawn()})).await;
    assert_eq!(status, 202, "{signed}");

    // Visible: the envelope says why it waits, and the evidence records it once.
    let waiting = envelope_when(&stack, &sender, &base, "the failure recorded", |e| {
        e["processing_error"].is_string()
    })
    .await;
    let reason = waiting["processing_error"].as_str().expect("reason");
    assert!(
        reason.contains("timestamp") && reason.contains("503"),
        "{reason}"
    );
    assert_eq!(waiting["status"], "sent");
    assert_eq!(waiting["revision_count"], 0);
    let (_, evidence) = stack
        .call(&sender, "GET", &format!("{base}/events"), None)
        .await;
    let failures = evidence["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["action"] == "signing.failed")
        .count();
    assert_eq!(failures, 1, "{evidence}");

    // The TSA is back; the scheduled resume re-enqueues the envelope, which completes.
    tsa.set_in_service(true);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let answer = stack
        .running
        .stack
        .invoke("schedule-resume-signing", json!({"source": "aws.events"}))
        .await
        .expect("the schedule runs");
    assert_eq!(answer["resumed"], 1, "{answer}");
    let completed = envelope_when(&stack, &sender, &base, "completed", |e| {
        e["status"] == "completed"
    })
    .await;
    assert!(completed["processing_error"].is_null(), "{completed}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn completion_locks_its_objects_after_the_commit_and_the_resume_schedule_retries_that_but_never_a_permanent_failure(
) {
    let db = TestDatabase::migrated().await;
    let pki = TestPki::new();
    let tsa = LocalTsa::start(&pki).await;
    let stack = start_app(
        &db,
        &[
            ("TsaUrl", tsa.url.clone()),
            ("RetentionMode", "GOVERNANCE".to_owned()),
            ("SigningStallSeconds", "1".to_owned()),
        ],
    )
    .await;
    let sender = Tenant::create(&db, "member").await;
    let signer = format!("retained-{}@example.com", gsign_tests::unique());
    let document = stack
        .upload_ready_pdf(&sender, "lease.pdf", fixture("one-page.pdf"))
        .await;
    let (base, _) = send_envelope(
        &stack,
        &sender,
        &document,
        "parallel",
        &[(&signer, "Rita", "signer", 1)],
        |_| Vec::new(),
    )
    .await;
    let token = mailed_token(&signer, "/sign").await;
    let (status, signed) = consent_and_sign(&stack, &token, json!({"signature": drawn()})).await;
    assert_eq!(status, 202, "{signed}");
    let completed = envelope_when(&stack, &sender, &base, "completed", |e| {
        e["status"] == "completed"
    })
    .await;
    let id: uuid::Uuid = completed["id"].as_str().expect("id").parse().expect("uuid");
    let client = db.connect().await;
    let retention_recorded = || async {
        client
            .query_one(
                "SELECT retention_applied_at IS NOT NULL FROM envelopes WHERE id = $1",
                &[&id],
            )
            .await
            .expect("envelope")
            .get::<_, bool>(0)
            .then_some(())
    };

    // Locked once the completion committed, and recorded.
    eventually(
        Duration::from_secs(20),
        "the retention recorded",
        retention_recorded,
    )
    .await;
    let row = client
        .query_one(
            "SELECT final_s3_key, final_s3_version_id FROM envelopes WHERE id = $1",
            &[&id],
        )
        .await
        .expect("envelope");
    let s3 = gsign_platform::aws::s3(&gsign_tests::sdk().await);
    let head = s3
        .head_object()
        .bucket(format!("{}-documents-123456789012", stack.name))
        .key(row.get::<_, String>(0))
        .set_version_id(row.get(1))
        .send()
        .await
        .expect("the final PDF");
    let until = head
        .object_lock_retain_until_date()
        .expect("the final PDF is locked")
        .secs();
    assert!(
        until > chrono::Utc::now().timestamp() + 6 * 365 * 86_400,
        "{until}"
    );

    // Retention that did not happen after the commit (its record is missing) is applied by
    // the resume schedule...
    client
        .execute(
            "UPDATE envelopes SET retention_applied_at = NULL WHERE id = $1",
            &[&id],
        )
        .await
        .expect("forget the retention");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let resume = || async {
        stack
            .running
            .stack
            .invoke("schedule-resume-signing", json!({"source": "aws.events"}))
            .await
            .expect("the schedule runs")
    };
    assert_eq!(resume().await["resumed"], 1);
    eventually(
        Duration::from_secs(20),
        "the retention recorded again",
        retention_recorded,
    )
    .await;

    // ...but an envelope whose failure is permanent is never re-enqueued, completed or not.
    client
        .execute(
            "UPDATE envelopes SET retention_applied_at = NULL, processing_error = 'the document is gone', \
             processing_error_permanent = true, processing_failed_at = now() - interval '1 hour' \
             WHERE id = $1",
            &[&id],
        )
        .await
        .expect("a permanent failure");
    assert_eq!(resume().await["resumed"], 0);
    client
        .execute(
            "UPDATE envelopes SET status = 'sent', retention_applied_at = now() WHERE id = $1",
            &[&id],
        )
        .await
        .expect("a sent envelope whose work stalled for good");
    client
        .execute(
            "UPDATE recipients SET applied_at = NULL, signed_at = now() - interval '1 hour' \
             WHERE envelope_id = $1",
            &[&id],
        )
        .await
        .expect("a signature not applied");
    assert_eq!(resume().await["resumed"], 0);
    client
        .execute(
            "UPDATE envelopes SET processing_error_permanent = false WHERE id = $1",
            &[&id],
        )
        .await
        .expect("a failure that may heal");
    assert_eq!(
        resume().await["resumed"],
        1,
        "the same stalled envelope is re-enqueued when its failure may heal"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_archive_timestamp_near_its_end_is_renewed_and_the_document_stays_b_lta() {
    let db = TestDatabase::migrated().await;
    let pki = TestPki::new();
    // The first authority's certificate ends tomorrow (inside the 90-day window); the second,
    // asked once the first is out of service, lasts 300 days.
    let ending = LocalTsa::start(&pki).await;
    let lasting = LocalTsa::start_valid_for(&pki, Duration::from_secs(300 * 86_400)).await;
    let stack = start_app(
        &db,
        &[
            ("TsaUrl", format!("{},{}", ending.url, lasting.url)),
            ("RetentionMode", "GOVERNANCE".to_owned()),
        ],
    )
    .await;
    let sender = Tenant::create(&db, "member").await;
    let signer = format!("renewal-{}@example.com", gsign_tests::unique());
    let document = stack
        .upload_ready_pdf(&sender, "lease.pdf", fixture("one-page.pdf"))
        .await;
    let (base, _) = send_envelope(
        &stack,
        &sender,
        &document,
        "sequential",
        &[(&signer, "Olga", "signer", 1)],
        |_| Vec::new(),
    )
    .await;
    let token = mailed_token(&signer, "/sign").await;
    let (status, signed) = consent_and_sign(&stack, &token, json!({"signature": drawn()})).await;
    assert_eq!(status, 202, "{signed}");
    let completed = envelope_when(&stack, &sender, &base, "completed", |e| {
        e["status"] == "completed"
    })
    .await;
    let first_sha = completed["final_sha256"].as_str().expect("sha").to_owned();
    let envelope_id: uuid::Uuid = base
        .trim_start_matches("/v1/envelopes/")
        .parse()
        .expect("id");
    let client = db.connect().await;
    let expiry = |client: tokio_postgres::Client| async move {
        let row = client
            .query_one(
                "SELECT archive_expires_at, archive_renewal_error FROM envelopes WHERE id = $1",
                &[&envelope_id],
            )
            .await
            .expect("envelope");
        let at: Option<chrono::DateTime<chrono::Utc>> = row.get(0);
        let error: Option<String> = row.get(1);
        (client, at, error)
    };
    let (client, before, _) = expiry(client).await;
    let before = before.expect("a B-LTA completion records its archive timestamp's end");
    assert!(
        before < chrono::Utc::now() + chrono::Duration::days(2),
        "{before}"
    );

    ending.set_in_service(false);
    let renew = || async {
        reqwest::Client::new()
            .post(format!(
                "{}/_local/invoke/schedule-renew-archive-timestamps",
                stack.url
            ))
            .json(&json!({}))
            .send()
            .await
            .expect("invoke")
            .json::<Value>()
            .await
            .expect("answer")
    };
    let answer = renew().await;
    let (_, after, error) = expiry(client).await;
    assert_eq!(answer["renewed"], 1, "{answer} {error:?}");
    let after = after.expect("renewed");
    assert!(
        after > before + chrono::Duration::days(200),
        "{before} -> {after}"
    );
    // Not due any more: a second run renews nothing.
    assert_eq!(renew().await["renewed"], 0);

    // The final document is a new version: two archive timestamps, the later one by the
    // lasting authority, and pyHanko still finds it B-LTA now and in 2046.
    let (_, detail) = stack.call(&sender, "GET", &base, None).await;
    let renewed_sha = detail["final_sha256"].as_str().expect("sha").to_owned();
    assert_ne!(renewed_sha, first_sha);
    let (status, link) = stack
        .call(
            &sender,
            "GET",
            &format!("{base}/download?variant=final"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{link}");
    let pdf = fetch(&link).await;
    assert_eq!(hex::encode(sha2::Sha256::digest(&pdf)), renewed_sha);
    let file = pki.write("renewed.pdf", &pdf);
    let org_ca = organization_ca(&db, sender.org, &pki).await;
    let (ok, verdicts, out) = pyhanko_lta(&file, &org_ca, &pki.ca_pem, "2046-12-04T00:00:00+00:00");
    assert!(ok, "{out}");
    assert_eq!(verdicts.len(), 2, "{out}");
    for verdict in &verdicts {
        assert_eq!(verdict["document_timestamps"], 2, "{out}");
    }
    let roots = [
        x509_cert::Certificate::from_der(&std::fs::read(&org_ca).expect("CA")).expect("CA"),
        pki.ca.clone(),
    ];
    let report = gsign_signing::verify::verify(&pdf, &roots);
    assert!(report.all_valid_and_trusted(), "{report:#?}");
    assert_eq!(
        report
            .signatures
            .iter()
            .filter(|s| s.document_timestamp)
            .count(),
        2
    );
    let (_, qpdf) = run("qpdf", &["--check", &file]);
    assert!(
        qpdf.contains("No syntax or stream encoding errors"),
        "{qpdf}"
    );

    // The evidence says so, with both hashes.
    let (_, evidence) = stack
        .call(&sender, "GET", &format!("{base}/events"), None)
        .await;
    let renewal = evidence["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["action"] == "envelope.archive_renewed")
        .cloned()
        .expect("a renewal event");
    assert_eq!(renewal["details"]["previous_sha256"], first_sha.as_str());
    assert_eq!(renewal["details"]["sha256"], renewed_sha.as_str());
    assert_eq!(evidence["chain"]["valid"], true, "{evidence}");
    stack.stop().await;
}
