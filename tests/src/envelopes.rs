//! What envelope tests and benchmarks do as senders and recipients: send an envelope, act
//! on a signing link (no credentials: the link is the credential), wait for the worker.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::{Tenant, TestStack};

fn id(value: &Value) -> String {
    value["id"].as_str().expect("id").to_owned()
}

/// A call without credentials: the signing link is the credential.
pub async fn by_link(
    stack: &TestStack,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", stack.url))
        .header("user-agent", "e2e-signer/1.0");
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the runner answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The bytes behind a presigned link the API answered with.
pub async fn fetch(presigned: &Value) -> Vec<u8> {
    let response = reqwest::get(presigned["url"].as_str().expect("url"))
        .await
        .expect("S3 answers");
    assert!(response.status().is_success(), "{}", response.status());
    response.bytes().await.expect("body").to_vec()
}

/// A drawn signature as `sign` takes it.
pub fn drawn() -> Value {
    json!({
        "type": "drawn",
        "image_png": base64::engine::general_purpose::STANDARD.encode(crate::pki::drawn_signature_png(2.0)),
    })
}

/// A sent envelope of `document` for `recipients` (email, name, role, order), each signer
/// with a signature box on page 1; `extra` fields are added as given. Returns its base path
/// and the recipients' ids.
pub async fn send_envelope(
    stack: &TestStack,
    sender: &Tenant,
    document: &str,
    routing: &str,
    recipients: &[(&str, &str, &str, i32)],
    extra_fields: impl Fn(&[String]) -> Vec<Value>,
) -> (String, Vec<String>) {
    send_envelope_at(
        stack,
        sender,
        document,
        routing,
        None,
        recipients,
        extra_fields,
    )
    .await
}

/// [`send_envelope`] at the PAdES `level` (`b_lta`, `b_lt`, `b_t`, `b_b`; `None`: the
/// default).
pub async fn send_envelope_at(
    stack: &TestStack,
    sender: &Tenant,
    document: &str,
    routing: &str,
    level: Option<&str>,
    recipients: &[(&str, &str, &str, i32)],
    extra_fields: impl Fn(&[String]) -> Vec<Value>,
) -> (String, Vec<String>) {
    let mut draft = json!({"document_id": document, "name": "Lease 2027", "routing_type": routing});
    if let Some(level) = level {
        draft["signature_level"] = json!(level);
    }
    let (status, envelope) = stack
        .call(sender, "POST", "/v1/envelopes", Some(draft))
        .await;
    assert_eq!(status, 201, "{envelope}");
    let base = format!("/v1/envelopes/{}", id(&envelope));
    let mut ids = Vec::new();
    for (email, name, role, order) in recipients {
        let (status, recipient) = stack
            .call(
                sender,
                "POST",
                &format!("{base}/recipients"),
                Some(json!({"email": email, "name": name, "role": role, "routing_order": order})),
            )
            .await;
        assert_eq!(status, 201, "{recipient}");
        ids.push(id(&recipient));
    }
    let mut fields: Vec<Value> = recipients
        .iter()
        .zip(&ids)
        .enumerate()
        .filter(|(_, ((_, _, role, _), _))| *role == "signer")
        .map(|(i, (_, who))| {
            json!({"recipient_id": who, "type": "signature", "page": 1,
                   "x": 40.0 + 170.0 * (i % 3) as f64, "y": 650.0, "width": 150.0, "height": 40.0})
        })
        .collect();
    fields.extend(extra_fields(&ids));
    let (status, set) = stack
        .call(
            sender,
            "PUT",
            &format!("{base}/fields"),
            Some(json!({ "fields": fields })),
        )
        .await;
    assert_eq!(status, 200, "{set}");
    let (status, sent) = stack
        .call(sender, "POST", &format!("{base}/send"), None)
        .await;
    assert_eq!(status, 200, "{sent}");
    (base, ids)
}

/// Opens the link, consents, and signs with `body`; the answer of `sign`.
pub async fn consent_and_sign(stack: &TestStack, token: &str, body: Value) -> (u16, Value) {
    let (status, view) = by_link(stack, "GET", &format!("/v1/signing/{token}"), None).await;
    assert_eq!(status, 200, "{view}");
    assert!(view["document"]["url"].is_string(), "{view}");
    let (status, consent) = by_link(
        stack,
        "POST",
        &format!("/v1/signing/{token}/consent"),
        Some(json!({"disclosure_version": "2026-11", "accepted": true})),
    )
    .await;
    assert_eq!(status, 204, "{consent}");
    by_link(
        stack,
        "POST",
        &format!("/v1/signing/{token}/sign"),
        Some(body),
    )
    .await
}

/// The envelope once `done` says it is in the state waited for.
pub async fn envelope_when(
    stack: &TestStack,
    sender: &Tenant,
    base: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (_, envelope) = stack.call(sender, "GET", base, None).await;
        if done(&envelope) {
            return envelope;
        }
        if std::time::Instant::now() > deadline {
            let (_, events) = stack
                .call(sender, "GET", &format!("{base}/events"), None)
                .await;
            panic!("timed out waiting for {what}: {envelope:#}\n{events:#}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The parameters of a stack whose signatures are timestamped by `tsa`, with completed
/// documents locked in GOVERNANCE mode so the test stack can be torn down.
fn signing_parameters(tsa: &crate::pki::LocalTsa) -> [(&'static str, String); 2] {
    [
        ("TsaUrl", tsa.url.clone()),
        ("RetentionMode", "GOVERNANCE".to_owned()),
    ]
}

/// A stack whose signatures are timestamped by a TSA of `pki`.
pub async fn stack_with_tsa(db: &crate::TestDatabase, tsa: &crate::pki::LocalTsa) -> TestStack {
    crate::start_app(db, &signing_parameters(tsa)).await
}

/// Like [`stack_with_tsa`], also serving the web app (for the browser stories).
pub async fn web_stack_with_tsa(db: &crate::TestDatabase, tsa: &crate::pki::LocalTsa) -> TestStack {
    crate::start_app_with_web(db, &signing_parameters(tsa)).await
}

/// The organization CA's certificate (DER), which pyHanko is told to trust.
pub async fn organization_ca(
    db: &crate::TestDatabase,
    org: uuid::Uuid,
    pki: &crate::pki::TestPki,
) -> String {
    let client = db.connect().await;
    let der: Vec<u8> = client
        .query_one(
            "SELECT certificate FROM certificates WHERE organization_id = $1 AND purpose = 'ca'",
            &[&org],
        )
        .await
        .expect("the organization CA exists")
        .get(0);
    pki.write(&format!("org-ca-{org}.der"), &der)
}

/// pyHanko's long-term verdict (`tests/interop/lta_check.py`) on every signature of `file`,
/// trusting the organization's CA and the TSA's root, with revocation data required and
/// taken from the document only, now and (simulated) at `future`: one JSON object per
/// signature, and whether every check passed.
pub fn pyhanko_lta(
    file: &str,
    org_ca: &str,
    tsa_root: &str,
    future: &str,
) -> (bool, Vec<serde_json::Value>, String) {
    let script = crate::root().join("tests/interop/lta_check.py");
    let (ok, out) = crate::pki::run(
        &crate::stack_var("GSIGN_PYTHON"),
        &[
            &script.to_string_lossy(),
            file,
            "--trust",
            org_ca,
            "--trust",
            tsa_root,
            "--future",
            future,
        ],
    );
    let verdicts = out
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (ok, verdicts, out)
}

/// pyHanko's AdES verdict on `file` trusting the organization's CA and the TSA's root, with
/// revocation data required for every certificate (completed envelopes carry it; anything
/// else pyHanko may fetch only from the local stack's distribution points).
pub fn pyhanko(file: &str, org_ca: &str, tsa_root: &str) -> (bool, String) {
    crate::pki::run(
        &crate::stack_var("GSIGN_PYHANKO"),
        &[
            "sign",
            "adesverify",
            "--trust",
            org_ca,
            "--trust",
            tsa_root,
            "--trust-replace",
            file,
        ],
    )
}
