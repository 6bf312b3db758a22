//! The web app in a real browser: each test starts a stack that serves `web/dist` with
//! `APP_URL` its own address, plays the sender through the API, then runs a browser story
//! (`web/e2e/*.test.ts`: Playwright driving Debian's Chromium, axe on every state,
//! screenshots) and checks what the people in it produced with the independent tools.
//!
//! Screenshots and downloads land in `target/web-artifacts/<story>-<unique>/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use gsign_tests::envelopes::{envelope_when, organization_ca, pyhanko, web_stack_with_tsa};
use gsign_tests::pki::{fixture, run, LocalTsa, TestPki};
use gsign_tests::{root, stack_var, start_app_with_web, unique, Tenant, TestDatabase, TestStack};
use serde_json::{json, Value};

/// Where a story's screenshots and downloads go.
fn artifacts(story: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    target
        .join("web-artifacts")
        .join(format!("{story}-{}", unique()))
}

/// Runs the browser story `file` (under `web/e2e/`) with `data`, and fails with its output
/// when any of its steps fails.
fn browser_story(file: &str, stack: &TestStack, artifacts: &Path, mut data: Value) {
    std::fs::create_dir_all(artifacts).expect("artifacts folder");
    data["base_url"] = json!(stack.url);
    data["moto_url"] = json!(stack_var("AWS_ENDPOINT_URL"));
    data["artifacts"] = json!(artifacts);
    let input = artifacts.join("story.json");
    std::fs::write(&input, serde_json::to_vec_pretty(&data).expect("json")).expect("story file");
    let output = Command::new("npx")
        .args([
            "--no-install",
            "vitest",
            "run",
            "--config",
            "vitest.browser.config.ts",
            // One failed step makes the rest of the story meaningless.
            "--bail=1",
            &format!("e2e/{file}"),
        ])
        .current_dir(root().join("web"))
        .env("GSIGN_STORY", &input)
        .env("NO_COLOR", "1")
        .output()
        .expect("npx runs (Node.js is installed by infra/local/stack)");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "the browser story {file} failed (screenshots in {}):\n{report}",
        artifacts.display()
    );
}

/// Creates, fills and sends an envelope of `document` whose recipients (email, name, role,
/// order, access code) act in turn; each signer gets a signature box on page 1, and the
/// first a required text field and check box on page 2, so the guide has work to do.
async fn send_with_codes(
    stack: &TestStack,
    sender: &Tenant,
    document: &str,
    name: &str,
    recipients: &[(&str, &str, &str, i32, Option<&str>)],
) -> String {
    let (status, envelope) = stack
        .call(
            sender,
            "POST",
            "/v1/envelopes",
            Some(
                json!({"document_id": document, "name": name, "routing_type": "sequential",
                        "message": "Please sign the lease by Friday."}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{envelope}");
    let base = format!("/v1/envelopes/{}", envelope["id"].as_str().expect("id"));
    let mut ids = Vec::new();
    for (email, name, role, order, code) in recipients {
        let mut body = json!({"email": email, "name": name, "role": role, "routing_order": order});
        if let Some(code) = code {
            body["auth_method"] = json!("access_code");
            body["access_code"] = json!(code);
        }
        let (status, recipient) = stack
            .call(sender, "POST", &format!("{base}/recipients"), Some(body))
            .await;
        assert_eq!(status, 201, "{recipient}");
        ids.push(recipient["id"].as_str().expect("id").to_owned());
    }
    let mut fields: Vec<Value> = recipients
        .iter()
        .zip(&ids)
        .enumerate()
        .filter(|(_, ((_, _, role, _, _), _))| *role == "signer")
        .map(|(i, (_, who))| {
            json!({"recipient_id": who, "type": "signature", "page": 1,
                   "x": 40.0 + 170.0 * (i % 3) as f64, "y": 650.0, "width": 150.0, "height": 40.0})
        })
        .collect();
    fields.push(
        json!({"recipient_id": ids[0], "type": "text", "label": "Address", "page": 2,
                       "x": 60.0, "y": 100.0, "width": 220.0, "height": 22.0, "required": true}),
    );
    fields.push(json!({"recipient_id": ids[0], "type": "checkbox", "label": "I have read the terms",
                       "page": 2, "x": 60.0, "y": 140.0, "width": 16.0, "height": 16.0, "required": true}));
    fields.push(json!({"recipient_id": ids[1], "type": "initial", "page": 3,
                       "x": 200.0, "y": 100.0, "width": 50.0, "height": 30.0}));
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
    base
}

#[tokio::test(flavor = "multi_thread")]
async fn three_signers_and_a_cc_sign_in_the_browser_from_their_mails_and_every_signature_validates()
{
    let db = TestDatabase::migrated().await;
    let pki = TestPki::new();
    let tsa = LocalTsa::start(&pki).await;
    let stack = web_stack_with_tsa(&db, &tsa).await;
    let sender = Tenant::create(&db, "member").await;
    let suffix = unique();
    let email = |who: &str| format!("{who}-{suffix}@example.mn");
    let document = stack
        .upload_ready_pdf(&sender, "lease.pdf", fixture("three-pages-rotated.pdf"))
        .await;
    let name = "Lease 2027";
    let base = send_with_codes(
        &stack,
        &sender,
        &document,
        name,
        &[
            (&email("ana"), "Ана Лима", "signer", 1, Some("4711-ab")),
            (&email("bat"), "Батбаяр Өлзий", "signer", 2, Some("5822-cd")),
            (&email("chen"), "Chen Jing", "signer", 3, Some("6933-ef")),
            (&email("dora"), "Dora Cc", "cc", 4, None),
        ],
    )
    .await;

    let artifacts = artifacts("sequential-signing");
    browser_story(
        "signing.test.ts",
        &stack,
        &artifacts,
        json!({
            "envelope_name": name,
            "signers": [
                {"email": email("ana"), "access_code": "4711-ab", "adopt": "mouse", "viewport": "desktop"},
                {"email": email("bat"), "access_code": "5822-cd", "adopt": "keyboard", "viewport": "phone"},
                {"email": email("chen"), "access_code": "6933-ef", "adopt": "finger", "viewport": "phone"},
            ],
            "cc": {"email": email("dora"), "viewport": "desktop"},
        }),
    );

    // What the cc downloaded is the sealed final PDF: pyHanko trusts every signature in it.
    let envelope = envelope_when(&stack, &sender, &base, "completion", |e| {
        e["envelope"]["status"] == "completed" || e["status"] == "completed"
    })
    .await;
    let final_pdf = std::fs::read(artifacts.join("final.pdf")).expect("the cc downloaded it");
    assert!(final_pdf.starts_with(b"%PDF-"), "{envelope}");
    let file = pki.write("browser-final.pdf", &final_pdf);
    let org_ca = organization_ca(&db, sender.org, &pki).await;
    let (ok, report) = pyhanko(&file, &org_ca, &pki.ca_pem);
    assert!(ok, "pyHanko refused the downloaded PDF:\n{report}");
    let intact: Vec<&str> = report.lines().filter(|l| l.contains(":INTACT")).collect();
    // Three signers and the organization's seal.
    assert_eq!(intact.len(), 4, "{report}");
    assert!(
        intact.iter().all(|l| l.contains("INTACT:TRUSTED")),
        "{report}"
    );
    let (ok, qpdf) = run("qpdf", &["--check", &file]);
    assert!(ok, "{qpdf}");
    let certificate =
        std::fs::read(artifacts.join("certificate.pdf")).expect("the certificate was downloaded");
    assert!(certificate.starts_with(b"%PDF-"));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_state_of_a_signing_link_reads_plainly_in_the_browser_on_a_phone_and_in_mongolian() {
    use gsign_tests::envelopes::send_envelope;
    let db = TestDatabase::migrated().await;
    let pki = TestPki::new();
    let tsa = LocalTsa::start(&pki).await;
    let stack = web_stack_with_tsa(&db, &tsa).await;
    let sender = Tenant::create(&db, "member").await;
    let suffix = unique();
    let email = |who: &str| format!("{who}-{suffix}@example.mn");
    let one_page = stack
        .upload_ready_pdf(&sender, "lease.pdf", fixture("one-page.pdf"))
        .await;

    // Two signers in turn; the second holds a link before their turn.
    let (_, ids) = send_envelope(
        &stack,
        &sender,
        &one_page,
        "sequential",
        &[
            (&email("first"), "Ана Лима", "signer", 1),
            (&email("second"), "Bat Second", "signer", 2),
        ],
        |_| Vec::new(),
    )
    .await;
    let early = gsign_platform::credentials::new_token();
    db.connect()
        .await
        .execute(
            "UPDATE recipients SET signing_token_hash = $2 WHERE id = $1",
            &[&ids[1].parse::<uuid::Uuid>().expect("id"), &early.hash],
        )
        .await
        .expect("an early link");
    let second_link = format!(
        "{}/sign?token={}",
        stack.url,
        secrecy::ExposeSecret::expose_secret(&early.secret)
    );

    // A voided envelope: its signer was mailed first.
    let (voided, _) = send_envelope(
        &stack,
        &sender,
        &one_page,
        "parallel",
        &[(&email("voided"), "Void Signer", "signer", 1)],
        |_| Vec::new(),
    )
    .await;
    gsign_tests::mailed_token(&email("voided"), "/sign").await;
    let (status, answer) = stack
        .call(
            &sender,
            "POST",
            &format!("{voided}/void"),
            Some(json!({"reason": "Wrong tenant"})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");

    // A 40-page contract with a second signature box on its last page.
    let pages = 40;
    let long = stack
        .upload_ready_pdf(
            &sender,
            "contract.pdf",
            gsign_tests::bench::contract_pdf(pages),
        )
        .await;
    send_envelope(
        &stack,
        &sender,
        &long,
        "parallel",
        &[(&email("long"), "Long Reader", "signer", 1)],
        |ids| {
            vec![
                json!({"recipient_id": ids[0], "type": "signature", "page": pages,
                        "x": 300.0, "y": 700.0, "width": 150.0, "height": 40.0}),
            ]
        },
    )
    .await;

    send_envelope(
        &stack,
        &sender,
        &one_page,
        "parallel",
        &[(&email("mongol"), "Болд Мөнх", "signer", 1)],
        |_| Vec::new(),
    )
    .await;

    // An envelope whose pages the sender set to Mongolian.
    let (mongolian, _) = send_envelope(
        &stack,
        &sender,
        &one_page,
        "parallel",
        &[(&email("chosen"), "Chosen Language", "signer", 1)],
        |_| Vec::new(),
    )
    .await;
    let (_, detail) = stack.call(&sender, "GET", &mongolian, None).await;
    assert_eq!(detail["language"], serde_json::Value::Null, "{detail}");
    let (status, problem) = stack
        .call(
            &sender,
            "POST",
            "/v1/envelopes",
            Some(json!({"document_id": one_page, "language": "de"})),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/language", "{problem}");
    let (status, created) = stack
        .call(
            &sender,
            "POST",
            "/v1/envelopes",
            Some(json!({"document_id": one_page, "name": "Гэрээ", "language": "mn"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["language"], "mn", "{created}");
    let chosen = format!("/v1/envelopes/{}", created["id"].as_str().expect("id"));
    let (status, recipient) = stack
        .call(
            &sender,
            "POST",
            &format!("{chosen}/recipients"),
            Some(json!({"email": email("mn-sender"), "name": "Сонгосон Хэл"})),
        )
        .await;
    assert_eq!(status, 201, "{recipient}");
    let field = json!({"fields": [{"recipient_id": recipient["id"], "type": "signature", "page": 1,
                                   "x": 40.0, "y": 650.0, "width": 150.0, "height": 40.0}]});
    let (status, set) = stack
        .call(&sender, "PUT", &format!("{chosen}/fields"), Some(field))
        .await;
    assert_eq!(status, 200, "{set}");
    let (status, sent) = stack
        .call(&sender, "POST", &format!("{chosen}/send"), None)
        .await;
    assert_eq!(status, 200, "{sent}");

    // An approver and a viewer, beside a signer who keeps the envelope open.
    let (roles, _) = send_envelope(
        &stack,
        &sender,
        &one_page,
        "parallel",
        &[
            (&email("roles-signer"), "Role Signer", "signer", 1),
            (&email("approver"), "Aldar Approver", "approver", 1),
            (&email("viewer"), "Vera Viewer", "viewer", 1),
        ],
        |_| Vec::new(),
    )
    .await;

    // A signer behind an access code the story never learns.
    let three_pages = stack
        .upload_ready_pdf(&sender, "lease.pdf", fixture("three-pages-rotated.pdf"))
        .await;
    let locked = send_with_codes(
        &stack,
        &sender,
        &three_pages,
        "Locked lease",
        &[
            (
                &email("locked"),
                "Lock Signer",
                "signer",
                1,
                Some("right-code-1"),
            ),
            (&email("after-lock"), "After Lock", "signer", 2, None),
        ],
    )
    .await;

    // A signer whose mail bounced: the sender hands them a link another way.
    let (handed, handed_ids) = send_envelope(
        &stack,
        &sender,
        &one_page,
        "parallel",
        &[(&email("handed"), "Handed Link", "signer", 1)],
        |_| Vec::new(),
    )
    .await;
    let (status, handed_out) = stack
        .call(
            &sender,
            "POST",
            &format!("{handed}/recipients/{}/signing-link", handed_ids[0]),
            None,
        )
        .await;
    assert_eq!(status, 201, "{handed_out}");

    browser_story(
        "states.test.ts",
        &stack,
        &artifacts("states"),
        json!({
            "declined": {"first": email("first"), "first_name": "Ана Лима", "second_link": second_link},
            "voided": {"signer": email("voided")},
            "long": {"signer": email("long"), "pages": pages},
            "mongolian": {"signer": email("mongol")},
            "sender_language": {"signer": email("mn-sender")},
            "roles": {"approver": email("approver"), "viewer": email("viewer")},
            "locked": {"signer": email("locked")},
            "handed_out": {"link": handed_out["url"]},
        }),
    );

    // What the pages did is what the envelopes recorded.
    let (_, detail) = stack.call(&sender, "GET", &roles, None).await;
    let status_of = |name: &str| {
        detail["recipients"]
            .as_array()
            .and_then(|all| all.iter().find(|r| r["name"] == name))
            .map(|r| r["status"].clone())
    };
    assert_eq!(
        status_of("Aldar Approver"),
        Some(json!("approved")),
        "{detail}"
    );
    assert_eq!(status_of("Vera Viewer"), Some(json!("viewed")), "{detail}");
    assert_eq!(status_of("Role Signer"), Some(json!("sent")), "{detail}");
    let (_, detail) = stack.call(&sender, "GET", &locked, None).await;
    assert_eq!(detail["recipients"][0]["status"], "sent", "{detail}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_account_links_work_in_the_browser_from_sign_up_to_an_accepted_invitation() {
    let db = TestDatabase::migrated().await;
    let stack = start_app_with_web(&db, &[]).await;
    let admin = Tenant::create(&db, "admin").await;
    let suffix = unique();
    let invited = format!("colleague-{suffix}@example.mn");
    let (status, answer) = stack
        .call(
            &admin,
            "POST",
            "/v1/organization/users",
            Some(json!({"email": invited, "role": "member"})),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    // Something waits for the colleague: their home lists it once they are in.
    let document = stack
        .upload_ready_pdf(&admin, "lease.pdf", fixture("one-page.pdf"))
        .await;
    gsign_tests::envelopes::send_envelope(
        &stack,
        &admin,
        &document,
        "parallel",
        &[(&invited, "Colleague", "signer", 1)],
        |_| Vec::new(),
    )
    .await;
    browser_story(
        "accounts.test.ts",
        &stack,
        &artifacts("accounts"),
        json!({"newcomer": format!("newcomer-{suffix}@example.mn"), "invited": invited}),
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_embedded_signer_signs_inside_an_allowed_page_which_hears_every_terminal_state() {
    let db = TestDatabase::migrated().await;
    let pki = TestPki::new();
    let tsa = LocalTsa::start(&pki).await;
    let stack = web_stack_with_tsa(&db, &tsa).await;
    let sender = Tenant::create(&db, "admin").await;
    let (allowed_port, foreign_port) = (gsign_tests::free_port(), gsign_tests::free_port());

    // Only real origins may be listed.
    let (status, problem) = stack
        .call(
            &sender,
            "PATCH",
            "/v1/organization",
            Some(json!({"settings": {"embed_origins": ["http://evil.example", "https://*.x.mn"]}})),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    let (status, org) = stack
        .call(
            &sender,
            "PATCH",
            "/v1/organization",
            Some(json!({"settings": {"embed_origins": [format!("http://127.0.0.1:{allowed_port}")]}})),
        )
        .await;
    assert_eq!(status, 200, "{org}");

    let document = stack
        .upload_ready_pdf(&sender, "lease.pdf", fixture("one-page.pdf"))
        .await;
    let suffix = unique();
    let (embedded_email, mailed_email) = (
        format!("kiosk-{suffix}@example.mn"),
        format!("mailed-{suffix}@example.mn"),
    );
    let (status, envelope) = stack
        .call(
            &sender,
            "POST",
            "/v1/envelopes",
            Some(
                json!({"document_id": document, "name": "Kiosk lease", "routing_type": "parallel"}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{envelope}");
    let envelope_id = envelope["id"].as_str().expect("id").to_owned();
    let base = format!("/v1/envelopes/{envelope_id}");
    let (status, kiosk) = stack
        .call(
            &sender,
            "POST",
            &format!("{base}/recipients"),
            Some(json!({"email": embedded_email, "name": "Kiosk Signer", "embedded": true})),
        )
        .await;
    assert_eq!(status, 201, "{kiosk}");
    assert_eq!(kiosk["embedded"], true, "{kiosk}");
    let (status, cc) = stack
        .call(
            &sender,
            "POST",
            &format!("{base}/recipients"),
            Some(json!({"email": mailed_email, "name": "Mailed Cc", "role": "cc"})),
        )
        .await;
    assert_eq!(status, 201, "{cc}");
    let kiosk_id = kiosk["id"].as_str().expect("id").to_owned();
    let field = json!({"fields": [{"recipient_id": kiosk_id, "type": "signature", "page": 1,
                                   "x": 40.0, "y": 650.0, "width": 150.0, "height": 40.0}]});
    let (status, set) = stack
        .call(&sender, "PUT", &format!("{base}/fields"), Some(field))
        .await;
    assert_eq!(status, 200, "{set}");
    // Before sending there is nothing to view.
    let view_path = format!("{base}/recipients/{kiosk_id}/view");
    let (status, problem) = stack.call(&sender, "POST", &view_path, None).await;
    assert_eq!(status, 409, "{problem}");
    let (status, sent) = stack
        .call(&sender, "POST", &format!("{base}/send"), None)
        .await;
    assert_eq!(status, 200, "{sent}");
    // A mailed recipient has no view URL; another tenant's envelope is not found.
    let (status, problem) = stack
        .call(
            &sender,
            "POST",
            &format!("{base}/recipients/{}/view", cc["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    assert!(problem["type"]
        .as_str()
        .unwrap_or_default()
        .ends_with("/recipient-not-embedded"));
    let stranger = Tenant::create(&db, "admin").await;
    let (status, _) = stack.call(&stranger, "POST", &view_path, None).await;
    assert_eq!(status, 404);

    browser_story(
        "embedded.test.ts",
        &stack,
        &artifacts("embedded"),
        json!({
            "bearer": sender.bearer,
            "view_path": view_path,
            "envelope_id": envelope_id,
            "allowed_port": allowed_port,
            "foreign_port": foreign_port,
        }),
    );

    // The embedded signer was never mailed a signing link (the cc got the completion mail).
    let data: Value = reqwest::get(format!(
        "{}/moto-api/data.json",
        stack_var("AWS_ENDPOINT_URL")
    ))
    .await
    .expect("moto")
    .json()
    .await
    .expect("json");
    let to_kiosk: Vec<&Value> = data["ses"]["Message"]
        .as_array()
        .expect("mails")
        .iter()
        .filter(|m| m["destinations"]["ToAddresses"][0] == embedded_email.as_str())
        .filter(|m| {
            !m["body"]
                .as_str()
                .unwrap_or_default()
                .contains("everyone has signed")
        })
        .collect();
    assert!(to_kiosk.is_empty(), "{to_kiosk:?}");
    stack.stop().await;
}

/// Every widget annotation of `pdf`: its page (1-based) and `/Rect`, normalised to
/// `[llx, lly, urx, ury]`.
fn widget_rects(pdf: &[u8]) -> Vec<(u32, [f64; 4])> {
    let document = lopdf::Document::load_mem(pdf).expect("the PDF parses");
    let number = |object: &lopdf::Object| -> f64 {
        match object {
            lopdf::Object::Integer(i) => *i as f64,
            lopdf::Object::Real(r) => f64::from(*r),
            other => panic!("not a number: {other:?}"),
        }
    };
    let mut widgets = Vec::new();
    for (page_number, page_id) in document.get_pages() {
        let page = document.get_dictionary(page_id).expect("page");
        let Ok(annots) = page.get(b"Annots") else {
            continue;
        };
        let annots = match annots {
            lopdf::Object::Reference(id) => document.get_object(*id).expect("annots"),
            other => other,
        };
        for annot in annots.as_array().expect("an array of annotations") {
            let annot = document
                .dereference(annot)
                .expect("annotation")
                .1
                .as_dict()
                .expect("a dictionary");
            if annot.get(b"Subtype").and_then(|s| s.as_name()).ok() != Some(b"Widget".as_slice()) {
                continue;
            }
            let rect: Vec<f64> = annot
                .get(b"Rect")
                .and_then(|r| r.as_array())
                .expect("a /Rect")
                .iter()
                .map(number)
                .collect();
            let [a, b, c, d] = rect[..] else {
                panic!("a /Rect of four numbers: {rect:?}")
            };
            widgets.push((page_number, [a.min(c), b.min(d), a.max(c), b.max(d)]));
        }
    }
    widgets
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sender_builds_sends_and_follows_an_envelope_in_the_browser_and_the_signed_pdf_validates()
{
    let db = TestDatabase::migrated().await;
    let pki = TestPki::new();
    let tsa = LocalTsa::start(&pki).await;
    let stack = web_stack_with_tsa(&db, &tsa).await;
    let suffix = unique();
    let email = |who: &str| format!("{who}-{suffix}@example.mn");
    let artifacts = artifacts("workspace");
    let sender = email("sender");
    browser_story(
        "workspace.test.ts",
        &stack,
        &artifacts,
        json!({
            "sender": sender,
            "pdf": root().join("shared/pdf/fixtures/three-pages-rotated.pdf"),
            "signers": [
                {"name": "Ана Лима", "email": email("ana")},
                {"name": "Батбаяр Өлзий", "email": email("bat")},
            ],
            "approver": {"name": "Dora Approver", "email": email("dora")},
        }),
    );

    // The envelope as the browser built it: every field where it was dropped.
    let client = db.connect().await;
    let org: uuid::Uuid = client
        .query_one(
            "SELECT organization_id FROM users WHERE email = $1",
            &[&sender],
        )
        .await
        .expect("the sender registered")
        .get(0);
    let rows = client
        .query(
            "SELECT f.page_number, f.x::float8, f.y::float8, f.width::float8, f.height::float8, \
                    r.email \
             FROM signature_fields f JOIN recipients r ON r.id = f.recipient_id \
             WHERE r.organization_id = $1 AND f.type = 'signature'",
            &[&org],
        )
        .await
        .expect("fields");
    let drops: Vec<Value> = serde_json::from_slice(
        &std::fs::read(artifacts.join("drops.json")).expect("the story wrote where it dropped"),
    )
    .expect("json");
    assert_eq!(rows.len(), 2, "two signature fields");
    let final_pdf = std::fs::read(artifacts.join("final.pdf")).expect("the sender downloaded it");
    let widgets = widget_rects(&final_pdf);
    for drop in &drops {
        let page = drop["page"].as_i64().expect("page") as i32;
        let row = rows
            .iter()
            .find(|r| r.get::<_, i32>(0) == page && r.get::<_, String>(5) == drop["recipient"])
            .unwrap_or_else(|| panic!("no field for {drop}"));
        let (x, y, w, h): (f64, f64, f64, f64) = (row.get(1), row.get(2), row.get(3), row.get(4));
        // Centred where the mouse let go (the API's top-left points of the displayed page).
        let (dx, dy) = (
            drop["x"].as_f64().expect("x"),
            drop["y"].as_f64().expect("y"),
        );
        assert!(
            (x + w / 2.0 - dx).abs() < 1.0 && (y + h / 2.0 - dy).abs() < 1.0,
            "field {x},{y} {w}×{h} is not centred on the drop at {dx},{dy}"
        );
        // The widget in the signed PDF, in user space: page 2 is turned 90° (MediaBox
        // 0 0 595.28 841.89), page 3 270° with CropBox 36 36 576 756.
        let expected = match page {
            2 => [y, x, y + h, x + w],
            3 => [576.0 - y - h, 756.0 - x - w, 576.0 - y, 756.0 - x],
            other => panic!("the story drops on pages 2 and 3, not {other}"),
        };
        assert!(
            widgets.iter().any(|(p, rect)| *p == page as u32
                && rect.iter().zip(expected).all(|(a, b)| (a - b).abs() < 0.5)),
            "no widget on page {page} at {expected:?}: {widgets:?}"
        );
    }

    // pyHanko trusts both signatures, the approval's and the seal's.
    let file = pki.write("workspace-final.pdf", &final_pdf);
    let org_ca = organization_ca(&db, org, &pki).await;
    let (ok, report) = pyhanko(&file, &org_ca, &pki.ca_pem);
    assert!(ok, "pyHanko refused the downloaded PDF:\n{report}");
    let (ok, qpdf) = run("qpdf", &["--check", &file]);
    assert!(ok, "{qpdf}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_owner_runs_the_organization_in_the_browser_and_each_role_sees_only_what_it_may_do() {
    let db = TestDatabase::migrated().await;
    let stack = start_app_with_web(&db, &[]).await;
    let receiver = crate::webhooks::Receiver::start(&[]).await;
    let suffix = unique();
    let email = |who: &str| format!("{who}-{suffix}@example.mn");
    browser_story(
        "organization.test.ts",
        &stack,
        &artifacts("organization"),
        json!({
            "owner": email("owner"),
            "member": email("member"),
            "viewer": email("viewer"),
            "receiver": receiver.url,
        }),
    );
    // The receiver got the test event the page showed as delivered.
    assert_eq!(receiver.types(), vec!["webhook.test"]);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_owner_writes_clauses_and_templates_and_sends_a_pack_from_two_templates_in_the_browser()
{
    let db = TestDatabase::migrated().await;
    let pki = TestPki::new();
    let tsa = LocalTsa::start(&pki).await;
    let stack = web_stack_with_tsa(&db, &tsa).await;
    let suffix = unique();
    let email = |who: &str| format!("{who}-{suffix}@example.mn");
    let owner = email("owner");
    browser_story(
        "library.test.ts",
        &stack,
        &artifacts("library"),
        json!({
            "owner": owner,
            "seller": {"name": "Гэрэл Трейд ХХК", "email": email("seller")},
            "buyer": {"name": "Батбаяр Өлзий", "email": email("buyer")},
            "reference": format!("deal-{suffix}"),
        }),
    );
    // Two documents, each out for signature in its own envelope; the seller is asked first.
    let client = db.connect().await;
    let statuses: Vec<String> = client
        .query(
            "SELECT e.status FROM envelopes e JOIN users u ON u.organization_id = e.organization_id \
             WHERE u.email = $1",
            &[&owner],
        )
        .await
        .expect("envelopes")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(statuses, vec!["sent", "sent"]);
    gsign_tests::mailed_token(&email("seller"), "/sign").await;
    stack.stop().await;
}
