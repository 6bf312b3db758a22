//! Mail you can see (issue #25). The local SES cannot bounce mail: these tests put SES's own
//! event documents (`tests/fixtures/ses/`, with the real message id and GSign's message tags)
//! on the stack's feedback queue, as the configuration set's SNS topic would.

use std::time::Duration;

use gsign_tests::envelopes::{
    by_link, consent_and_sign, drawn, envelope_when, fetch, organization_ca, pyhanko,
    send_envelope, stack_with_tsa,
};
use gsign_tests::pki::{fixture, run, LocalTsa, TestPki};
use gsign_tests::{
    eventually, mailed_containing, mailed_token, sdk, start_app, unique, Tenant, TestDatabase,
    TestStack,
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::webhooks::{python_refusals, register, Receiver};

/// The documented SES event `name`, about the mail SES knows as `ses_message_id` to `to`,
/// carrying the tags GSign sent it with.
fn ses_event(name: &str, ses_message_id: &str, to: &str, tags: &Value) -> Value {
    let text = std::fs::read_to_string(
        gsign_tests::root().join(format!("tests/fixtures/ses/{name}.json")),
    )
    .expect("fixture");
    let mut event: Value = serde_json::from_str(&text).expect("json");
    event["mail"]["messageId"] = json!(ses_message_id);
    event["mail"]["destination"] = json!([to]);
    for (tag, value) in tags.as_object().expect("tags") {
        event["mail"]["tags"][tag] = json!([value]);
    }
    if let Some(delivery) = event.get_mut("delivery") {
        delivery["recipients"] = json!([to]);
    }
    for (part, list) in [
        ("bounce", "bouncedRecipients"),
        ("complaint", "complainedRecipients"),
        ("deliveryDelay", "delayedRecipients"),
    ] {
        let recipients = event
            .get_mut(part)
            .and_then(|p| p.get_mut(list))
            .and_then(Value::as_array_mut);
        for r in recipients.into_iter().flatten() {
            r["emailAddress"] = json!(to);
        }
    }
    event
}

/// Puts `event` on the stack's feedback queue, as SNS's raw delivery would.
async fn publish(stack: &TestStack, event: &Value) {
    let sqs = gsign_platform::aws::sqs(&sdk().await);
    let url = sqs
        .get_queue_url()
        .queue_name(format!("{}-mail-events", stack.name))
        .send()
        .await
        .expect("the feedback queue exists")
        .queue_url
        .expect("url");
    sqs.send_message()
        .queue_url(url)
        .message_body(event.to_string())
        .send()
        .await
        .expect("sent");
}

/// The feedback queue's visible and in-flight messages.
async fn feedback_backlog(stack: &TestStack, queue: &str) -> i64 {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let sqs = gsign_platform::aws::sqs(&sdk().await);
    let url = sqs
        .get_queue_url()
        .queue_name(format!("{}-{queue}", stack.name))
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("url");
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::All)
        .send()
        .await
        .expect("attributes");
    let get = |name: A| -> i64 {
        attributes
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    get(A::ApproximateNumberOfMessages) + get(A::ApproximateNumberOfMessagesNotVisible)
}

/// The newest mail GSign handed to SES for `recipient`: its outbox id and SES's message id.
async fn mail_to(db: &TestDatabase, recipient: &str) -> (Uuid, String) {
    let recipient: Uuid = recipient.parse().expect("id");
    let client = db.connect().await;
    eventually(Duration::from_secs(20), "the mail record", || async {
        let row = client
            .query_opt(
                "SELECT id, ses_message_id FROM mail_messages
                  WHERE recipient_id = $1 AND ses_message_id IS NOT NULL
                  ORDER BY sent_at DESC LIMIT 1",
                &[&recipient],
            )
            .await
            .expect("query")?;
        Some((row.get(0), row.get(1)))
    })
    .await
}

fn tags_of(outbox: Uuid, org: Uuid, envelope: &str, recipient: &str) -> Value {
    json!({
        "gsign-outbox": outbox.to_string(),
        "gsign-organization": org.to_string(),
        "gsign-envelope": envelope,
        "gsign-recipient": recipient,
        "gsign-template": "signing_request",
    })
}

async fn user_email(db: &TestDatabase, user: Uuid) -> String {
    db.connect()
        .await
        .query_one("SELECT email FROM users WHERE id = $1", &[&user])
        .await
        .expect("user")
        .get(0)
}

async fn recipient_of(stack: &TestStack, who: &Tenant, base: &str, id: &str) -> Value {
    let (_, envelope) = stack.call(who, "GET", base, None).await;
    envelope["recipients"]
        .as_array()
        .expect("recipients")
        .iter()
        .find(|r| r["id"] == id)
        .cloned()
        .expect("the recipient")
}

async fn evidence(stack: &TestStack, who: &Tenant, base: &str, action: &str) -> Vec<Value> {
    let (status, events) = stack
        .call(who, "GET", &format!("{base}/events"), None)
        .await;
    assert_eq!(status, 200, "{events}");
    events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["action"] == action)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bounced_signing_request_reaches_the_sender_and_the_corrected_address_signs() {
    let db = TestDatabase::migrated().await;
    let pki = TestPki::new();
    let tsa = LocalTsa::start(&pki).await;
    let stack = stack_with_tsa(&db, &tsa).await;
    let sender = Tenant::create(&db, "owner").await;
    let receiver = Receiver::start(&[]).await;
    let (status, hook) = register(
        &stack,
        &sender,
        &receiver.url,
        json!(["recipient.mail_bounced"]),
    )
    .await;
    assert_eq!(status, 201, "{hook}");
    let secret = hook["secret"].as_str().expect("secret").to_owned();

    let tag = unique();
    let mistyped = format!("bat-{tag}@exampel.mn");
    let corrected = format!("bat-{tag}@example.mn");
    let second = format!("ana-{tag}@example.com");
    let document = stack
        .upload_ready_pdf(&sender, "lease.pdf", fixture("one-page.pdf"))
        .await;
    let (base, ids) = send_envelope(
        &stack,
        &sender,
        &document,
        "sequential",
        &[
            (&mistyped, "Батбаяр", "signer", 1),
            (&second, "Ana", "signer", 2),
        ],
        |_| Vec::new(),
    )
    .await;
    let envelope_id = base.rsplit('/').next().expect("id").to_owned();
    let old_token = mailed_token(&mistyped, "/sign").await;
    let (outbox, ses_id) = mail_to(&db, &ids[0]).await;
    let delivered = recipient_of(&stack, &sender, &base, &ids[0]).await;
    assert_eq!(delivered["mail_status"], "sent", "{delivered}");

    // SES reports the hard bounce, and (as SNS may) delivers the same event twice.
    let bounce = ses_event(
        "bounce",
        &ses_id,
        &mistyped,
        &tags_of(outbox, sender.org, &envelope_id, &ids[0]),
    );
    publish(&stack, &bounce).await;
    publish(&stack, &bounce).await;

    // The recipient's state through the API.
    let bounced = eventually(Duration::from_secs(30), "the bounce recorded", || async {
        let r = recipient_of(&stack, &sender, &base, &ids[0]).await;
        (r["mail_status"] == "bounced").then_some(r)
    })
    .await;
    assert_eq!(
        bounced["mail_diagnostic"], "smtp; 550 5.1.1 user unknown",
        "{bounced}"
    );
    assert_eq!(bounced["status"], "sent", "still waiting: {bounced}");
    // The sender's mail says what happened and where to fix it.
    let notice = mailed_containing(&user_email(&db, sender.user).await, &mistyped).await;
    assert!(notice.contains("550 5.1.1 user unknown"), "{notice}");
    assert!(notice.contains(&envelope_id), "{notice}");
    // The webhook, verified by the reference Standard Webhooks package.
    eventually(Duration::from_secs(30), "the webhook", || async {
        receiver
            .types()
            .contains(&"recipient.mail_bounced".to_owned())
            .then_some(())
    })
    .await;
    // Both copies of the event are processed by now (the queue is empty).
    eventually(
        Duration::from_secs(30),
        "the feedback queue drained",
        || async { (feedback_backlog(&stack, "mail-events").await == 0).then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let hooks: Vec<Value> = receiver
        .received()
        .iter()
        .map(|r| serde_json::from_str(&r.body).expect("json"))
        .collect();
    assert_eq!(
        hooks.len(),
        1,
        "the repeated event changed nothing: {hooks:?}"
    );
    assert_eq!(hooks[0]["data"]["recipient_id"], ids[0].as_str());
    assert_eq!(hooks[0]["data"]["email"], mistyped.as_str());
    assert_eq!(python_refusals(&secret, &receiver.received(), &pki), "");
    // One evidence event, in the verified chain.
    let recorded = evidence(&stack, &sender, &base, "recipient.mail_bounced").await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(
        recorded[0]["details"]["diagnostic"],
        "smtp; 550 5.1.1 user unknown"
    );
    let events: i64 = db
        .connect()
        .await
        .query_one(
            "SELECT count(*) FROM mail_events WHERE mail_id = $1",
            &[&outbox],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(events, 1);
    // The bounced address is off limits for the organization now.
    let (status, list) = stack
        .call(&sender, "GET", "/v1/mail/suppressions", None)
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["data"][0]["email"], mistyped.as_str(), "{list}");
    assert_eq!(list["data"][0]["reason"], "bounce", "{list}");

    // The sender corrects the address: the old link stops working, the new one signs.
    let (status, fixed) = stack
        .call(
            &sender,
            "POST",
            &format!("{base}/recipients/{}/correct", ids[0]),
            Some(json!({"email": corrected})),
        )
        .await;
    assert_eq!(status, 200, "{fixed}");
    assert_eq!(fixed["email"], corrected.as_str());
    let (status, refused) = by_link(&stack, "GET", &format!("/v1/signing/{old_token}"), None).await;
    assert!(
        status == 404 || status == 401 || status == 410,
        "{status} {refused}"
    );
    let corrections = evidence(&stack, &sender, &base, "recipient.email_corrected").await;
    assert_eq!(corrections.len(), 1, "{corrections:?}");
    assert_eq!(
        corrections[0]["details"]["from"]["email"],
        mistyped.as_str()
    );
    assert_eq!(corrections[0]["details"]["to"]["email"], corrected.as_str());
    assert_eq!(corrections[0]["actor_type"], "user");

    // A late report about the old, mistyped address (SES reports it again, a minute later)
    // changes nothing for the corrected recipient: it is about another address and an older
    // mail.
    let token = mailed_token(&corrected, "/sign").await;
    let mut late = bounce.clone();
    late["bounce"]["timestamp"] = json!("2017-08-05T00:42:02.669Z");
    publish(&stack, &late).await;
    eventually(
        Duration::from_secs(30),
        "the late report recorded",
        || async {
            let count: i64 = db
                .connect()
                .await
                .query_one(
                    "SELECT count(*) FROM mail_events WHERE mail_id = $1",
                    &[&outbox],
                )
                .await
                .expect("count")
                .get(0);
            (count == 2).then_some(())
        },
    )
    .await;
    let now = recipient_of(&stack, &sender, &base, &ids[0]).await;
    assert_eq!(now["email"], corrected.as_str(), "{now}");
    assert_ne!(now["mail_status"], "bounced", "{now}");
    assert_eq!(
        evidence(&stack, &sender, &base, "recipient.mail_bounced")
            .await
            .len(),
        1,
        "no second bounce for the corrected recipient"
    );
    let (status, signed) = consent_and_sign(&stack, &token, json!({"signature": drawn()})).await;
    assert_eq!(status, 202, "{signed}");
    let token = mailed_token(&second, "/sign").await;
    let (status, signed) = consent_and_sign(&stack, &token, json!({"signature": drawn()})).await;
    assert_eq!(status, 202, "{signed}");
    envelope_when(&stack, &sender, &base, "completed", |e| {
        e["status"] == "completed"
    })
    .await;
    let (status, link) = stack
        .call(
            &sender,
            "GET",
            &format!("{base}/download?variant=final"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{link}");
    let file = pki.write("corrected-final.pdf", &fetch(&link).await);
    let org_ca = organization_ca(&db, sender.org, &pki).await;
    let (ok, report) = pyhanko(&file, &org_ca, &pki.ca_pem);
    assert!(ok, "pyHanko refused:\n{report}");
    let (ok, qpdf) = run("qpdf", &["--check", &file]);
    assert!(ok, "{qpdf}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_complaint_stops_reminders_and_sending_to_a_suppressed_address_is_refused() {
    let db = TestDatabase::migrated().await;
    let stack = start_app(&db, &[]).await;
    let sender = Tenant::create(&db, "owner").await;
    let tag = unique();
    let annoyed = format!("annoyed-{tag}@example.com");
    let patient = format!("patient-{tag}@example.com");
    let document = stack
        .upload_ready_pdf(&sender, "offer.pdf", fixture("one-page.pdf"))
        .await;
    let (annoyed_base, annoyed_ids) = send_envelope(
        &stack,
        &sender,
        &document,
        "sequential",
        &[(&annoyed, "Annoyed", "signer", 1)],
        |_| Vec::new(),
    )
    .await;
    let (_, patient_ids) = send_envelope(
        &stack,
        &sender,
        &document,
        "sequential",
        &[(&patient, "Patient", "signer", 1)],
        |_| Vec::new(),
    )
    .await;
    mailed_token(&annoyed, "/sign").await;
    mailed_token(&patient, "/sign").await;
    let (outbox, ses_id) = mail_to(&db, &annoyed_ids[0]).await;
    mail_to(&db, &patient_ids[0]).await;
    let envelope_id = annoyed_base.rsplit('/').next().expect("id").to_owned();
    publish(
        &stack,
        &ses_event(
            "complaint",
            &ses_id,
            &annoyed,
            &tags_of(outbox, sender.org, &envelope_id, &annoyed_ids[0]),
        ),
    )
    .await;
    eventually(
        Duration::from_secs(30),
        "the complaint recorded",
        || async {
            let r = recipient_of(&stack, &sender, &annoyed_base, &annoyed_ids[0]).await;
            (r["mail_status"] == "complained").then_some(())
        },
    )
    .await;
    let (_, list) = stack
        .call(
            &sender,
            "GET",
            &format!("/v1/mail/suppressions?email={annoyed}"),
            None,
        )
        .await;
    assert_eq!(list["data"][0]["reason"], "complaint", "{list}");
    // The delivery report that SES often sends after the complaint does not hide it.
    publish(
        &stack,
        &ses_event(
            "delivery",
            &ses_id,
            &annoyed,
            &tags_of(outbox, sender.org, &envelope_id, &annoyed_ids[0]),
        ),
    )
    .await;
    eventually(Duration::from_secs(30), "the delivery recorded", || async {
        let status: String = db
            .connect()
            .await
            .query_one(
                "SELECT string_agg(event_type, ',' ORDER BY event_type) FROM mail_events WHERE mail_id = $1",
                &[&outbox],
            )
            .await
            .expect("events")
            .get(0);
        (status == "complaint,delivery").then_some(())
    })
    .await;
    let r = recipient_of(&stack, &sender, &annoyed_base, &annoyed_ids[0]).await;
    assert_eq!(r["mail_status"], "complained", "{r}");
    assert_eq!(
        evidence(&stack, &sender, &annoyed_base, "recipient.mail_complained")
            .await
            .len(),
        1
    );

    // Both were asked four days ago: reminders are due, but only the patient one goes out.
    let client = db.connect().await;
    client
        .execute(
            "UPDATE recipients SET notified_at = now() - interval '4 days' WHERE id = ANY($1)",
            &[&vec![
                annoyed_ids[0].parse::<Uuid>().expect("id"),
                patient_ids[0].parse::<Uuid>().expect("id"),
            ]],
        )
        .await
        .expect("backdated");
    let answer = stack
        .running
        .stack
        .invoke("schedule-send-reminders", json!({}))
        .await
        .expect("reminders run");
    assert_eq!(answer["reminded"], 1, "{answer}");
    let reminders: Vec<(String, bool)> = eventually(
        Duration::from_secs(20),
        "the reminder handed to SES",
        || async {
            let rows = client
                .query(
                    "SELECT to_address, unsubscribe_token_hash IS NOT NULL FROM mail_messages
                      WHERE organization_id = $1 AND template = 'signing_request'
                        AND ses_message_id IS NOT NULL
                      ORDER BY sent_at",
                    &[&sender.org],
                )
                .await
                .expect("mails");
            (rows.len() == 3).then(|| rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        },
    )
    .await;
    // Two requests, then one reminder: to the patient one, with a one-click unsubscribe.
    assert_eq!(reminders[2], (patient.clone(), true), "{reminders:?}");
    assert!(reminders.iter().filter(|(to, _)| *to == annoyed).count() == 1);
    // Asked by hand, the reminder says why it cannot go and what to do instead.
    let (status, problem) = stack
        .call(&sender, "POST", &format!("{annoyed_base}/remind"), None)
        .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["addresses"], json!([annoyed]), "{problem}");
    assert!(
        problem["type"]
            .as_str()
            .is_some_and(|t| t.ends_with("/recipient-unreachable")),
        "{problem}"
    );

    // A new envelope to the complained address is refused at send, naming it.
    let (status, envelope) = stack
        .call(
            &sender,
            "POST",
            "/v1/envelopes",
            Some(json!({"document_id": document, "name": "Again"})),
        )
        .await;
    assert_eq!(status, 201, "{envelope}");
    let base = format!("/v1/envelopes/{}", envelope["id"].as_str().expect("id"));
    let (_, recipient) = stack
        .call(
            &sender,
            "POST",
            &format!("{base}/recipients"),
            Some(json!({"email": annoyed.to_uppercase(), "name": "Annoyed", "role": "signer"})),
        )
        .await;
    let (status, _) = stack
        .call(
            &sender,
            "PUT",
            &format!("{base}/fields"),
            Some(
                json!({"fields": [{"recipient_id": recipient["id"], "type": "signature",
                "page": 1, "x": 40.0, "y": 650.0, "width": 150.0, "height": 40.0}]}),
            ),
        )
        .await;
    assert_eq!(status, 200);
    let (_, draft) = stack.call(&sender, "GET", &base, None).await;
    assert_eq!(
        draft["send_problems"][0]["pointer"], "/recipients/0/email",
        "the draft's checklist shows it: {draft}"
    );
    let (status, refused) = stack
        .call(&sender, "POST", &format!("{base}/send"), None)
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(
        refused["errors"][0]["pointer"], "/recipients/0/email",
        "{refused}"
    );
    assert!(
        refused["errors"][0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&annoyed) && d.contains("complaint")),
        "{refused}"
    );

    // An admin takes it off the list (the person asked to be mailed again): send works.
    let (status, _) = stack
        .call(
            &sender,
            "DELETE",
            &format!("/v1/mail/suppressions/{}", annoyed.replace('@', "%40")),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, sent) = stack
        .call(&sender, "POST", &format!("{base}/send"), None)
        .await;
    assert_eq!(status, 200, "{sent}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_mail_events_are_acknowledged_and_the_suppression_list_is_owners_and_admins_only() {
    let db = TestDatabase::migrated().await;
    let stack = start_app(&db, &[]).await;
    let owner = Tenant::create(&db, "owner").await;
    let member = owner.colleague(&db, "member").await;
    let other = Tenant::create(&db, "owner").await;

    // An event of a mail GSign has no record of (another sender on the account, or one
    // purged long ago), and a document that is no SES event at all: both leave the queue
    // without a retry and without reaching the dead-letter queue.
    let stranger = ses_event(
        "bounce",
        "0100018f-unknown-message",
        "someone@example.com",
        &json!({"gsign-outbox": Uuid::new_v4().to_string()}),
    );
    publish(&stack, &stranger).await;
    publish(&stack, &json!({"hello": "world"})).await;
    eventually(
        Duration::from_secs(30),
        "the feedback queue drained",
        || async { (feedback_backlog(&stack, "mail-events").await == 0).then_some(()) },
    )
    .await;
    assert_eq!(feedback_backlog(&stack, "mail-events-dlq").await, 0);
    let recorded: i64 = db
        .connect()
        .await
        .query_one("SELECT count(*) FROM mail_events", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(recorded, 0);

    // The list: owners and admins manage it, members may not even read it, tenants apart.
    let (status, added) = stack
        .call(
            &owner,
            "POST",
            "/v1/mail/suppressions",
            Some(json!({"email": " Bat@Example.MN ", "detail": "asked by phone"})),
        )
        .await;
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["email"], "bat@example.mn");
    assert_eq!(added["reason"], "manual");
    let (status, again) = stack
        .call(
            &owner,
            "POST",
            "/v1/mail/suppressions",
            Some(json!({"email": "bat@example.mn"})),
        )
        .await;
    assert_eq!(status, 200, "already there, unchanged: {again}");
    for (who, expected) in [(&member, 403), (&other, 200)] {
        let (status, list) = stack.call(who, "GET", "/v1/mail/suppressions", None).await;
        assert_eq!(status, expected, "{list}");
        if status == 200 {
            assert_eq!(list["data"], json!([]), "another tenant's list: {list}");
        }
    }
    let (status, _) = stack
        .call(
            &other,
            "DELETE",
            "/v1/mail/suppressions/bat%40example.mn",
            None,
        )
        .await;
    assert_eq!(status, 404, "another tenant's address is not found");
    let (status, invalid) = stack
        .call(
            &owner,
            "POST",
            "/v1/mail/suppressions",
            Some(json!({"email": "nobody"})),
        )
        .await;
    assert_eq!(status, 422, "{invalid}");

    // One-click unsubscribe: the token in a reminder's List-Unsubscribe header (the local
    // SES does not keep headers, so the mail record is made here as sqs-send-email makes it).
    let token = gsign_platform::credentials::new_token();
    db.connect()
        .await
        .execute(
            "INSERT INTO mail_messages (id, organization_id, template, to_address, status, unsubscribe_token_hash)
             VALUES ($1, $2, 'signing_request', 'Dorj@Example.mn', 'sent', $3)",
            &[&Uuid::new_v4(), &owner.org, &token.hash],
        )
        .await
        .expect("mail record");
    let client = reqwest::Client::new();
    let unsubscribe = |token: String| {
        client
            .post(format!("{}/v1/mail/unsubscribe?token={token}", stack.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
    };
    let secret = secrecy::ExposeSecret::expose_secret(&token.secret).to_owned();
    assert_eq!(
        unsubscribe(secret.clone()).await.expect("answers").status(),
        200
    );
    assert_eq!(
        unsubscribe(secret).await.expect("answers").status(),
        200,
        "twice is fine"
    );
    assert_eq!(
        unsubscribe("x".repeat(43)).await.expect("answers").status(),
        404
    );
    let (_, list) = stack
        .call(
            &owner,
            "GET",
            "/v1/mail/suppressions?email=dorj@example.mn",
            None,
        )
        .await;
    assert_eq!(list["data"][0]["reason"], "unsubscribe", "{list}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handed_out_signing_link_opens_once_for_the_recipient_whose_turn_it_is() {
    let db = TestDatabase::migrated().await;
    let stack = start_app(&db, &[]).await;
    let sender = Tenant::create(&db, "owner").await;
    let tag = unique();
    let first = format!("first-{tag}@example.com");
    let later = format!("later-{tag}@example.com");
    let document = stack
        .upload_ready_pdf(&sender, "deed.pdf", fixture("one-page.pdf"))
        .await;
    let (base, ids) = send_envelope(
        &stack,
        &sender,
        &document,
        "sequential",
        &[
            (&first, "First", "signer", 1),
            (&later, "Later", "signer", 2),
        ],
        |_| Vec::new(),
    )
    .await;
    let mailed = mailed_token(&first, "/sign").await;
    let (status, refused) = stack
        .call(
            &sender,
            "POST",
            &format!("{base}/recipients/{}/signing-link", ids[1]),
            None,
        )
        .await;
    assert_eq!(status, 409, "not their turn yet: {refused}");
    assert_eq!(
        refused["type"]
            .as_str()
            .map(|t| t.ends_with("recipient-not-their-turn")),
        Some(true),
        "{refused}"
    );

    let (status, link) = stack
        .call(
            &sender,
            "POST",
            &format!("{base}/recipients/{}/signing-link", ids[0]),
            None,
        )
        .await;
    assert_eq!(status, 201, "{link}");
    let url = link["url"].as_str().expect("url");
    let ticket = url
        .split("/sign?ticket=")
        .nth(1)
        .expect("a /sign?ticket= link");
    assert!(link["expires_at"].is_string(), "{link}");
    // The mailed link keeps working until the handed-out one is opened.
    let (status, _) = by_link(&stack, "GET", &format!("/v1/signing/{mailed}"), None).await;
    assert_eq!(status, 200);
    let open = || {
        reqwest::Client::new()
            .post(format!("{}/v1/signing/embedded", stack.url))
            .json(&json!({ "ticket": ticket }))
            .send()
    };
    let opened: Value = open().await.expect("answers").json().await.expect("json");
    let token = opened["token"].as_str().expect("a signing token");
    let (status, view) = by_link(&stack, "GET", &format!("/v1/signing/{token}"), None).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["recipient"]["email"], first.as_str(), "{view}");
    assert_eq!(open().await.expect("answers").status(), 404, "good once");
    let (status, _) = by_link(&stack, "GET", &format!("/v1/signing/{mailed}"), None).await;
    assert_ne!(status, 200, "the mailed link stopped working");
    assert_eq!(
        evidence(&stack, &sender, &base, "recipient.signing_link_handed_out")
            .await
            .len(),
        1
    );
    assert_eq!(
        evidence(&stack, &sender, &base, "recipient.signing_link_opened")
            .await
            .len(),
        1
    );
    stack.stop().await;
}
