//! Webhooks end to end through the local runner: a receiver on 127.0.0.1 gets every event of
//! an envelope run once per event id, signed so that the Standard Webhooks reference verifier
//! (its Python package) accepts them; failing receivers get the bounded retry schedule with
//! the attempts in the delivery log, and replay; private addresses are refused at
//! registration and at delivery; other tenants see nothing.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gsign_tests::envelopes::{
    consent_and_sign, drawn, envelope_when, send_envelope, stack_with_tsa,
};
use gsign_tests::pki::{fixture, run, LocalTsa, TestPki};
use gsign_tests::{eventually, mailed_token, start_app, Tenant, TestDatabase, TestStack};
use serde_json::{json, Value};

/// A queued answer that hangs for 3 s before answering 200.
const HANG: u16 = 599;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    id: String,
    timestamp: String,
    signature: String,
    pub(crate) body: String,
}

/// A webhook receiver on 127.0.0.1 answering the queued statuses (200 once they run out).
pub(crate) struct Receiver {
    pub(crate) url: String,
    got: Arc<Mutex<Vec<Received>>>,
    answers: Arc<Mutex<VecDeque<u16>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Receiver {
    pub(crate) async fn start(answers: &[u16]) -> Self {
        let got = Arc::new(Mutex::new(Vec::new()));
        let queue = Arc::new(Mutex::new(answers.iter().copied().collect::<VecDeque<_>>()));
        let (g, q) = (Arc::clone(&got), Arc::clone(&queue));
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: http::HeaderMap, body: String| {
                let (got, queue) = (Arc::clone(&g), Arc::clone(&q));
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    got.lock().expect("lock").push(Received {
                        id: header("webhook-id"),
                        timestamp: header("webhook-timestamp"),
                        signature: header("webhook-signature"),
                        body,
                    });
                    let status = queue.lock().expect("lock").pop_front().unwrap_or(200);
                    let mut headers = http::HeaderMap::new();
                    let status = match status {
                        // Hangs, as a receiver that never answers in time.
                        HANG => {
                            tokio::time::sleep(Duration::from_secs(3)).await;
                            200
                        }
                        429 => {
                            headers.insert("retry-after", http::HeaderValue::from_static("3"));
                            429
                        }
                        302 => {
                            headers.insert(
                                "location",
                                http::HeaderValue::from_static("http://169.254.169.254/"),
                            );
                            302
                        }
                        other => other,
                    };
                    (
                        http::StatusCode::from_u16(status).expect("status"),
                        headers,
                        "receiver says hi",
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            url,
            got,
            answers: queue,
            stop: Some(stop),
        }
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }

    pub(crate) fn types(&self) -> Vec<String> {
        self.received()
            .iter()
            .filter_map(|r| serde_json::from_str::<Value>(&r.body).ok())
            .filter_map(|b| b["type"].as_str().map(str::to_owned))
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The endpoint's newest delivery once its status is `status`.
async fn first_delivery(stack: &TestStack, who: &Tenant, hook: &str, status: &str) -> Value {
    eventually(Duration::from_secs(60), status, || async {
        let (_, log) = stack
            .call(who, "GET", &format!("/v1/webhooks/{hook}/deliveries"), None)
            .await;
        log["data"]
            .as_array()?
            .first()
            .filter(|d| d["status"] == status)
            .cloned()
    })
    .await
}

/// The gaps between a delivery's attempts, in milliseconds.
fn gaps(delivery: &Value) -> Vec<i64> {
    let times: Vec<chrono::DateTime<chrono::Utc>> = delivery["attempt_log"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| a["at"].as_str().expect("at").parse().expect("time"))
        .collect();
    times
        .windows(2)
        .map(|p| (p[1] - p[0]).num_milliseconds())
        .collect()
}

pub(crate) async fn register(
    stack: &TestStack,
    who: &Tenant,
    url: &str,
    types: Value,
) -> (u16, Value) {
    stack
        .call(
            who,
            "POST",
            "/v1/webhooks",
            Some(json!({"url": url, "description": "e2e", "event_types": types})),
        )
        .await
}

/// Checks every received request with the Standard Webhooks Python package: the names of
/// the ones it refuses.
pub(crate) fn python_refusals(secret: &str, received: &[Received], pki: &TestPki) -> String {
    let cases: Vec<Value> = received
        .iter()
        .map(|r| {
            json!({"headers": {"webhook-id": r.id, "webhook-timestamp": r.timestamp,
                   "webhook-signature": r.signature}, "body": r.body})
        })
        .collect();
    let file = pki.write(
        "webhooks.json",
        json!({"secret": secret, "cases": cases})
            .to_string()
            .as_bytes(),
    );
    let script = "import json,sys\nfrom standardwebhooks.webhooks import Webhook\n\
        d=json.load(open(sys.argv[1]))\nwh=Webhook(d['secret'])\nbad=[]\n\
        for c in d['cases']:\n    try: wh.verify(c['body'], c['headers'])\n    except Exception as e: bad.append(c['headers']['webhook-id']+': '+str(e))\n\
        print('\\n'.join(bad))\n";
    let (ok, out) = run(
        &gsign_tests::stack_var("GSIGN_PYTHON"),
        &["-c", script, &file],
    );
    assert!(ok, "{out}");
    out.trim().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_event_of_an_envelope_run_arrives_once_and_verifies_independently() {
    let db = TestDatabase::migrated().await;
    let pki = TestPki::new();
    let tsa = LocalTsa::start(&pki).await;
    let stack = stack_with_tsa(&db, &tsa).await;
    let owner = Tenant::create(&db, "owner").await;
    let receiver = Receiver::start(&[]).await;
    let (status, hook) = register(&stack, &owner, &receiver.url, json!([])).await;
    assert_eq!(status, 201, "{hook}");
    let secret = hook["secret"]
        .as_str()
        .expect("secret shown once")
        .to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let hook_id = hook["id"].as_str().expect("id").to_owned();
    let (_, again) = stack
        .call(&owner, "GET", &format!("/v1/webhooks/{hook_id}"), None)
        .await;
    assert!(
        again.get("secret").is_none(),
        "the secret is shown once: {again}"
    );

    let signer = format!("hooked-{}@example.com", gsign_tests::unique());
    let document = stack
        .upload_ready_pdf(&owner, "hooked.pdf", fixture("one-page.pdf"))
        .await;
    let (base, _) = send_envelope(
        &stack,
        &owner,
        &document,
        "sequential",
        &[(&signer, "Hook Signer", "signer", 1)],
        |_| Vec::new(),
    )
    .await;
    let token = mailed_token(&signer, "/sign").await;
    let (status, signed) = consent_and_sign(&stack, &token, json!({"signature": drawn()})).await;
    assert_eq!(status, 202, "{signed}");
    envelope_when(&stack, &owner, &base, "completed", |e| {
        e["status"] == "completed"
    })
    .await;
    eventually(
        Duration::from_secs(30),
        "envelope.completed delivered",
        || async {
            receiver
                .types()
                .contains(&"envelope.completed".to_owned())
                .then_some(())
        },
    )
    .await;

    let types: BTreeSet<String> = receiver.types().into_iter().collect();
    for expected in [
        "document.ready",
        "envelope.sent",
        "recipient.viewed",
        "recipient.signed",
        "envelope.completed",
    ] {
        assert!(types.contains(expected), "{expected} missing: {types:?}");
    }
    let received = receiver.received();
    let ids: BTreeSet<&str> = received.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), received.len(), "an event id arrived twice");
    // The reference implementation accepts every signature; ours refuses tampering.
    assert_eq!(python_refusals(&secret, &received, &pki), "");
    let first = &received[0];
    let now = chrono::Utc::now().timestamp();
    let verify = |signature: &str, timestamp: &str| {
        gsign_core::webhooks::verify(
            &secret,
            &first.id,
            timestamp,
            signature,
            first.body.as_bytes(),
            now,
        )
    };
    assert!(verify(&first.signature, &first.timestamp).is_ok());
    assert!(verify("v1,", &first.timestamp).is_err());
    assert!(verify(
        &first.signature[..first.signature.len() - 6],
        &first.timestamp
    )
    .is_err());
    assert!(verify(&first.signature, &(now - 600).to_string()).is_err());
    let body: Value = serde_json::from_str(&first.body).expect("json");
    assert_eq!(
        format!("msg_{}", body["id"].as_str().expect("id").replace('-', "")),
        first.id
    );

    // The delivery log lists each, delivered on the first attempt.
    let (status, log) = stack
        .call(
            &owner,
            "GET",
            &format!("/v1/webhooks/{hook_id}/deliveries"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{log}");
    let deliveries = log["data"].as_array().expect("data");
    assert_eq!(deliveries.len(), received.len(), "{log}");
    assert!(deliveries
        .iter()
        .all(|d| d["status"] == "delivered" && d["attempts"] == 1 && d["response_code"] == 200));

    // One delivery by its id (the event's), as the log lists it; an id the log lacks is 404.
    let delivery = deliveries[0]["id"].as_str().expect("id");
    let one = format!("/v1/webhooks/{hook_id}/deliveries/{delivery}");
    let (status, found) = stack.call(&owner, "GET", &one, None).await;
    assert_eq!((status, &found), (200, &deliveries[0]));
    let (status, _) = stack
        .call(
            &owner,
            "GET",
            &format!("/v1/webhooks/{hook_id}/deliveries/{}", uuid::Uuid::new_v4()),
            None,
        )
        .await;
    assert_eq!(status, 404);

    // Another tenant sees none of it.
    let stranger = Tenant::create(&db, "owner").await;
    for path in [
        format!("/v1/webhooks/{hook_id}"),
        format!("/v1/webhooks/{hook_id}/deliveries"),
        one,
    ] {
        let (status, _) = stack.call(&stranger, "GET", &path, None).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = stack
        .call(
            &stranger,
            "POST",
            &format!("/v1/webhooks/{hook_id}/deliveries/{delivery}/retry"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_receiver_gets_bounded_retries_with_backoff_and_a_replay() {
    let db = TestDatabase::migrated().await;
    let stack = start_app(
        &db,
        &[("WebhookRetryScheduleSeconds", "1,2,2,2".to_owned())],
    )
    .await;
    let owner = Tenant::create(&db, "admin").await;

    // 500 four times, then 200: delivered on the fifth attempt.
    let flaky = Receiver::start(&[500, 500, 500, 500]).await;
    let (status, hook) = register(&stack, &owner, &flaky.url, json!(["webhook.test"])).await;
    assert_eq!(status, 201, "{hook}");
    let hook_id = hook["id"].as_str().expect("id").to_owned();
    let (status, test) = stack
        .call(
            &owner,
            "POST",
            &format!("/v1/webhooks/{hook_id}/test"),
            None,
        )
        .await;
    assert_eq!(status, 202, "{test}");
    let delivered = first_delivery(&stack, &owner, &hook_id, "delivered").await;
    assert_eq!(delivered["attempts"], 5, "{delivered}");
    let times: Vec<chrono::DateTime<chrono::Utc>> = delivered["attempt_log"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| a["at"].as_str().expect("at").parse().expect("time"))
        .collect();
    assert_eq!(times.len(), 5);
    for (pair, wait) in times.windows(2).zip([1, 2, 2, 2]) {
        assert!(
            (pair[1] - pair[0]).num_milliseconds() >= wait * 1000 - 50,
            "backoff not kept: {times:?}"
        );
    }
    assert_eq!(flaky.received().len(), 5);
    let ids: BTreeSet<String> = flaky.received().into_iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 1, "every attempt carries the same webhook-id");

    // A receiver that never succeeds: failed after the configured attempts, then replayed.
    let down = Receiver::start(&[503; 5]).await;
    let (_, hook) = register(&stack, &owner, &down.url, json!(["webhook.test"])).await;
    let down_id = hook["id"].as_str().expect("id").to_owned();
    stack
        .call(
            &owner,
            "POST",
            &format!("/v1/webhooks/{down_id}/test"),
            None,
        )
        .await;
    let failed = eventually(Duration::from_secs(60), "the last attempt", || async {
        let (_, log) = stack
            .call(
                &owner,
                "GET",
                &format!("/v1/webhooks/{down_id}/deliveries"),
                None,
            )
            .await;
        log["data"]
            .as_array()?
            .first()
            .filter(|d| d["status"] == "failed")
            .cloned()
    })
    .await;
    assert_eq!(
        (failed["attempts"].as_u64(), failed["max_attempts"].as_u64()),
        (Some(5), Some(5))
    );
    assert_eq!(down.received().len(), 5);
    let delivery = failed["id"].as_str().expect("id");
    let (status, replay) = stack
        .call(
            &owner,
            "POST",
            &format!("/v1/webhooks/{down_id}/deliveries/{delivery}/retry"),
            None,
        )
        .await;
    assert_eq!(status, 202, "{replay}");
    eventually(Duration::from_secs(30), "the replay", || async {
        let (_, log) = stack
            .call(
                &owner,
                "GET",
                &format!("/v1/webhooks/{down_id}/deliveries"),
                None,
            )
            .await;
        log["data"]
            .as_array()?
            .first()
            .filter(|d| d["status"] == "delivered")
            .map(|_| ())
    })
    .await;
    let ids: BTreeSet<String> = down.received().into_iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 1, "a replay keeps the event id");
    assert!(flaky.answers.lock().expect("lock").is_empty());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn private_addresses_are_refused_at_registration_and_at_delivery() {
    let db = TestDatabase::migrated().await;
    let stack = start_app(&db, &[("WebhookAllowLoopback", "false".to_owned())]).await;
    let owner = Tenant::create(&db, "owner").await;
    for url in [
        "https://127.0.0.1/hook",
        "http://127.0.0.1:8080/hook",
        "https://10.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://localhost/hook",
        "http://example.com/hook",
    ] {
        let (status, problem) = register(&stack, &owner, url, json!([])).await;
        assert_eq!(
            (status, &problem["type"]),
            (
                422,
                &json!("https://gsign.dev/problems/webhook-url-refused")
            ),
            "{url}: {problem}"
        );
    }
    let (status, problem) = register(
        &stack,
        &owner,
        "https://hooks.example/x",
        json!(["envelope.signed"]),
    )
    .await;
    assert_eq!(status, 422, "an unknown event type: {problem}");
    let member = owner.colleague(&db, "member").await;
    let (status, _) = register(&stack, &member, "https://hooks.example/x", json!([])).await;
    assert_eq!(status, 403);

    // An endpoint whose name now resolves to loopback (written as DNS would have changed it)
    // is refused at delivery, the reason in the log.
    let client = db.connect().await;
    let endpoint: uuid::Uuid = client
        .query_one(
            "INSERT INTO webhook_endpoints (organization_id, url) VALUES ($1, 'https://localhost:9/hook') RETURNING id",
            &[&owner.org],
        )
        .await
        .expect("endpoint")
        .get(0);
    let (status, _) = stack
        .call(
            &owner,
            "POST",
            &format!("/v1/webhooks/{endpoint}/test"),
            None,
        )
        .await;
    assert_eq!(status, 202);
    let attempt = eventually(Duration::from_secs(30), "the refused attempt", || async {
        let (_, log) = stack
            .call(
                &owner,
                "GET",
                &format!("/v1/webhooks/{endpoint}/deliveries"),
                None,
            )
            .await;
        log["data"].as_array()?.first()?["attempt_log"]
            .as_array()?
            .first()
            .cloned()
    })
    .await;
    let error = attempt["error"].as_str().expect("error");
    assert!(
        error.contains("refused") && error.contains("loopback"),
        "{error}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_redirects_retry_after_gone_and_a_failing_streak_are_handled() {
    let db = TestDatabase::migrated().await;
    let pki = TestPki::new();
    let stack = start_app(
        &db,
        &[("WebhookRetryScheduleSeconds", "1,1,1,1".to_owned())],
    )
    .await;
    let owner = Tenant::create(&db, "owner").await;
    let test = |hook: String| {
        let (stack, owner) = (&stack, &owner);
        async move {
            let (status, answer) = stack
                .call(owner, "POST", &format!("/v1/webhooks/{hook}/test"), None)
                .await;
            assert_eq!(status, 202, "{answer}");
        }
    };

    // Rotation: both secrets sign for a while, each verifies on its own.
    let receiver = Receiver::start(&[]).await;
    let (_, hook) = register(&stack, &owner, &receiver.url, json!([])).await;
    let (id, old) = (
        hook["id"].as_str().expect("id").to_owned(),
        hook["secret"].as_str().expect("secret").to_owned(),
    );
    let (status, rotated) = stack
        .call(
            &owner,
            "POST",
            &format!("/v1/webhooks/{id}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new = rotated["secret"].as_str().expect("new secret").to_owned();
    assert_ne!(old, new);
    test(id.clone()).await;
    first_delivery(&stack, &owner, &id, "delivered").await;
    let received = receiver.received();
    assert_eq!(
        received[0].signature.split(' ').count(),
        2,
        "{:?}",
        received[0]
    );
    assert_eq!(python_refusals(&old, &received, &pki), "");
    assert_eq!(python_refusals(&new, &received, &pki), "");

    // A redirect is not followed and counts as a failure; Retry-After is honoured.
    let awkward = Receiver::start(&[302, 429]).await;
    let (_, hook) = register(&stack, &owner, &awkward.url, json!([])).await;
    let awkward_id = hook["id"].as_str().expect("id").to_owned();
    test(awkward_id.clone()).await;
    let delivered = first_delivery(&stack, &owner, &awkward_id, "delivered").await;
    let log = delivered["attempt_log"].as_array().expect("attempts");
    assert_eq!(log.len(), 3, "{delivered}");
    assert_eq!(log[0]["response_code"], 302);
    assert!(log[0]["error"]
        .as_str()
        .unwrap_or_default()
        .contains("redirect"));
    assert_eq!(log[1]["response_code"], 429);
    assert!(
        gaps(&delivered)[1] >= 2950,
        "Retry-After: 3 not honoured: {delivered}"
    );
    assert_eq!(awkward.received().len(), 3, "the redirect was followed");

    // 410 Gone disables the endpoint at once.
    let gone = Receiver::start(&[410]).await;
    let (_, hook) = register(&stack, &owner, &gone.url, json!([])).await;
    let gone_id = hook["id"].as_str().expect("id").to_owned();
    test(gone_id.clone()).await;
    let failed = first_delivery(&stack, &owner, &gone_id, "failed").await;
    assert_eq!(failed["attempts"], 1, "{failed}");
    let (_, endpoint) = stack
        .call(&owner, "GET", &format!("/v1/webhooks/{gone_id}"), None)
        .await;
    assert_eq!(endpoint["active"], false, "{endpoint}");
    assert!(endpoint["disabled_reason"]
        .as_str()
        .unwrap_or_default()
        .contains("410"));

    // Failing every event for three days disables it too, and the admins are told.
    let broken = Receiver::start(&[500; 10]).await;
    let (_, hook) = register(&stack, &owner, &broken.url, json!([])).await;
    let broken_id: uuid::Uuid = hook["id"].as_str().expect("id").parse().expect("uuid");
    let client = db.connect().await;
    client
        .execute(
            "UPDATE webhook_endpoints SET failing_since = now() - interval '73 hours' WHERE id = $1",
            &[&broken_id],
        )
        .await
        .expect("age the streak");
    test(broken_id.to_string()).await;
    eventually(Duration::from_secs(30), "disabled", || async {
        let (_, endpoint) = stack
            .call(&owner, "GET", &format!("/v1/webhooks/{broken_id}"), None)
            .await;
        (endpoint["active"] == false).then_some(())
    })
    .await;
    let email: String = client
        .query_one("SELECT email FROM users WHERE id = $1", &[&owner.user])
        .await
        .expect("owner")
        .get(0);
    let mail = gsign_tests::mailed_containing(&email, "stopped sending").await;
    // (HTML escapes the slashes.)
    let address = broken
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/hook");
    assert!(mail.contains(address), "{mail}");
    // Re-enabled by a PATCH; the streak is forgotten.
    let (status, endpoint) = stack
        .call(
            &owner,
            "PATCH",
            &format!("/v1/webhooks/{broken_id}"),
            Some(json!({"active": true})),
        )
        .await;
    assert_eq!(
        (status, &endpoint["active"]),
        (200, &json!(true)),
        "{endpoint}"
    );
    assert!(endpoint["failing_since"].is_null(), "{endpoint}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_killed_mid_attempt_is_redone_with_the_same_event_id() {
    let db = TestDatabase::migrated().await;
    let stack = start_app(&db, &[]).await;
    let owner = Tenant::create(&db, "owner").await;
    let receiver = Receiver::start(&[HANG]).await;
    // The endpoint subscribes to nothing the stack emits by itself: the test drives the
    // delivery function directly.
    let (_, hook) = register(&stack, &owner, &receiver.url, json!(["envelope.expired"])).await;
    let endpoint: uuid::Uuid = hook["id"].as_str().expect("id").parse().expect("uuid");
    let event = gsign_core::webhooks::Event {
        id: uuid::Uuid::now_v7(),
        event_type: gsign_core::webhooks::EventType::EnvelopeExpired,
        timestamp: chrono::Utc::now(),
        data: json!({"envelope_id": uuid::Uuid::new_v4(), "status": "expired"}),
    };
    let sdk = gsign_tests::sdk().await;
    let log = gsign_functions_webhooks::store::delivery_log::DeliveryLog::new(
        gsign_platform::aws::dynamodb(&sdk),
        format!("{}-webhook-deliveries", stack.name),
    );
    let client = db.connect().await;
    let endpoint_row = gsign_functions_webhooks::store::get(&client, owner.org, endpoint, false)
        .await
        .expect("read")
        .expect("the endpoint");
    assert!(log
        .create(owner.org, &endpoint_row, &event, 5)
        .await
        .expect("logged"));
    let job = gsign_functions_webhooks::service::Job {
        organization_id: owner.org,
        endpoint_id: endpoint,
        event_id: event.id,
        not_before: None,
    };
    let message = json!({"Records": [{
        "messageId": uuid::Uuid::new_v4().to_string(), "receiptHandle": "r",
        "body": serde_json::to_string(&job).expect("job"), "attributes": {}, "messageAttributes": {},
        "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:q",
        "awsRegion": "us-east-1"}]});
    let deliver = || async {
        let function = stack
            .running
            .stack
            .function("sqs-deliver-webhook")
            .expect("function");
        let gsign_platform::lambda::Handler::Sqs(handler) =
            function.handler().await.expect("handler")
        else {
            panic!("an SQS function");
        };
        handler
            .handle(serde_json::from_value(message.clone()).expect("event"))
            .await
            .expect("handled")
    };
    // Killed while the receiver is still answering: nothing is recorded...
    assert!(tokio::time::timeout(Duration::from_millis(700), deliver())
        .await
        .is_err());
    let pending = log
        .get(endpoint, event.id)
        .await
        .expect("read")
        .expect("logged");
    assert_eq!((pending.status.as_str(), pending.attempts), ("pending", 0));
    // ...and the redelivered message does the attempt again, with the same webhook-id.
    let outcome = deliver().await;
    assert!(outcome.batch_item_failures.is_empty());
    let done = log
        .get(endpoint, event.id)
        .await
        .expect("read")
        .expect("logged");
    assert_eq!((done.status.as_str(), done.attempts), ("delivered", 1));
    let ids: BTreeSet<String> = receiver.received().into_iter().map(|r| r.id).collect();
    assert_eq!(receiver.received().len(), 2);
    assert_eq!(ids.len(), 1, "{ids:?}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn declines_voids_expiries_and_refused_documents_are_announced() {
    let db = TestDatabase::migrated().await;
    let stack = start_app(&db, &[]).await;
    let owner = Tenant::create(&db, "owner").await;
    let receiver = Receiver::start(&[]).await;
    let (status, _) = register(&stack, &owner, &receiver.url, json!([])).await;
    assert_eq!(status, 201);
    let document = stack
        .upload_ready_pdf(&owner, "contract.pdf", fixture("one-page.pdf"))
        .await;
    let suffix = gsign_tests::unique();
    let envelope = |who: String| {
        let (stack, owner, document) = (&stack, &owner, document.clone());
        async move {
            send_envelope(
                stack,
                owner,
                &document,
                "sequential",
                &[(&who, "Dee", "signer", 1)],
                |_| Vec::new(),
            )
            .await
            .0
        }
    };
    // Declined by the recipient.
    let decliner = format!("decline-{suffix}@example.com");
    envelope(decliner.clone()).await;
    let token = mailed_token(&decliner, "/sign").await;
    let (status, _) = gsign_tests::envelopes::by_link(
        &stack,
        "POST",
        &format!("/v1/signing/{token}/decline"),
        Some(json!({"reason": "Wrong amount"})),
    )
    .await;
    assert_eq!(status, 204);
    // Voided by the sender.
    let voided = envelope(format!("void-{suffix}@example.com")).await;
    let (status, _) = stack
        .call(
            &owner,
            "POST",
            &format!("{voided}/void"),
            Some(json!({"reason": "Terms changed"})),
        )
        .await;
    assert_eq!(status, 200);
    // Expired by the schedule.
    let expiring = envelope(format!("expire-{suffix}@example.com")).await;
    let id: uuid::Uuid = expiring
        .trim_start_matches("/v1/envelopes/")
        .parse()
        .expect("uuid");
    db.connect()
        .await
        .execute(
            "UPDATE envelopes SET expires_at = now() - interval '1 minute' WHERE id = $1",
            &[&id],
        )
        .await
        .expect("age");
    stack
        .running
        .stack
        .invoke("schedule-expire-envelopes", json!({"source": "aws.events"}))
        .await
        .expect("the schedule runs");
    // A document ingest refuses.
    let (status, created) = stack
        .call(
            &owner,
            "POST",
            "/v1/documents",
            Some(json!({"file_name": "fake.pdf", "content_type": "application/pdf", "size": 9})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let upload = created["upload"]["url"].as_str().expect("url");
    let put = reqwest::Client::new()
        .put(upload)
        .header("content-type", "application/pdf")
        .body(b"not a pdf".to_vec())
        .send()
        .await
        .expect("upload");
    assert!(put.status().is_success());

    let wanted = [
        "recipient.declined",
        "envelope.declined",
        "envelope.voided",
        "envelope.expired",
        "document.failed",
    ];
    eventually(Duration::from_secs(30), "every announcement", || async {
        let types = receiver.types();
        wanted
            .iter()
            .all(|t| types.iter().any(|x| x == t))
            .then_some(())
    })
    .await;
    let declined = receiver
        .received()
        .into_iter()
        .filter_map(|r| serde_json::from_str::<Value>(&r.body).ok())
        .find(|b| b["type"] == "recipient.declined")
        .expect("declined");
    assert_eq!(declined["data"]["status"], "declined", "{declined}");
    assert!(declined["data"]["recipient_id"].is_string(), "{declined}");
    stack.stop().await;
}
