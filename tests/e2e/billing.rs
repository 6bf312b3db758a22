//! Plans, usage and quotas through the local runner: the free plan refuses the envelope, the
//! certificate and the member one over its limits with a problem that says which limit, the
//! usage and how to upgrade; a subscription lifts the envelope limit; usage records equal what
//! happened, exactly.

use gsign_tests::bench::contract_pdf;
use gsign_tests::envelopes::{
    consent_and_sign, drawn, envelope_when, send_envelope, stack_with_tsa,
};
use gsign_tests::pki::{LocalTsa, TestPki};
use gsign_tests::{mailed_token, Tenant, TestDatabase, TestStack, STRIPE_TEST_SECRET};
use serde_json::{json, Value};

/// A `customer.subscription.*` event for `org` on `price`, `created` seconds after a base
/// time, in the current period.
fn subscription_event(id: &str, kind: &str, org: uuid::Uuid, price: &str, created: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "id": id,
        "type": kind,
        "created": now - 1000 + created,
        "data": {"object": {
            "id": format!("sub_{org}"),
            "object": "subscription",
            "customer": format!("cus_{org}"),
            "status": if kind.ends_with("deleted") { "canceled" } else { "active" },
            // The same period for every event of a test: it began at yesterday's midnight.
            "current_period_start": now - now % 86_400 - 86_400,
            "current_period_end": now - now % 86_400 + 29 * 86_400,
            "metadata": {"organization_id": org},
            "items": {"data": [{"price": {"id": price}}]},
        }},
    })
}

/// Posts `event` to the Stripe webhook signed with the test secret (or with `header`).
async fn stripe_event(stack: &TestStack, event: &Value, header: Option<String>) -> (u16, Value) {
    let body = serde_json::to_vec(event).expect("json");
    let header = header.unwrap_or_else(|| {
        gsign_core::billing::stripe_signature_header(
            STRIPE_TEST_SECRET,
            chrono::Utc::now().timestamp(),
            &body,
        )
    });
    let response = reqwest::Client::new()
        .post(format!("{}/v1/billing/stripe-webhook", stack.url))
        .header("content-type", "application/json")
        .header("stripe-signature", header)
        .body(body)
        .send()
        .await
        .expect("the runner answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The organization's plan and subscription as the API shows them.
async fn subscription(stack: &TestStack, owner: &Tenant) -> Value {
    stack
        .call(owner, "GET", "/v1/billing/subscription", None)
        .await
        .1
}

#[tokio::test(flavor = "multi_thread")]
async fn the_free_plan_limits_envelopes_certificates_and_members_and_usage_counts_exactly() {
    let db = TestDatabase::migrated().await;
    let pki = TestPki::new();
    let tsa = LocalTsa::start(&pki).await;
    let stack = stack_with_tsa(&db, &tsa).await;
    let owner = Tenant::create_on_free_plan(&db, "owner").await;
    let document = stack
        .upload_ready_pdf(&owner, "contract.pdf", contract_pdf(1))
        .await;
    let suffix = gsign_tests::unique();

    // Envelopes: five a month on the free plan.
    let mut signers = Vec::new();
    for i in 0..5 {
        let email = format!("s{i}-{suffix}@example.mn");
        send_envelope(
            &stack,
            &owner,
            &document,
            "sequential",
            &[(&email, "Дорж", "signer", 1)],
            |_| Vec::new(),
        )
        .await;
        signers.push(email);
    }
    let (status, draft) = stack
        .call(
            &owner,
            "POST",
            "/v1/envelopes",
            Some(json!({"document_id": document, "name": "Sixth"})),
        )
        .await;
    assert_eq!(status, 201, "{draft}");
    let sixth = format!("/v1/envelopes/{}", draft["id"].as_str().expect("id"));
    let (status, recipient) = stack
        .call(
            &owner,
            "POST",
            &format!("{sixth}/recipients"),
            Some(json!({"email": format!("six-{suffix}@example.mn"), "name": "Зургаа"})),
        )
        .await;
    assert_eq!(status, 201, "{recipient}");
    let (status, _) = stack
        .call(
            &owner,
            "PUT",
            &format!("{sixth}/fields"),
            Some(json!({"fields": [{"recipient_id": recipient["id"], "type": "signature", "page": 1, "x": 50.0, "y": 600.0, "width": 150.0, "height": 40.0}]})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, refused) = stack
        .call(&owner, "POST", &format!("{sixth}/send"), None)
        .await;
    assert_eq!(status, 402, "{refused}");
    assert_eq!(
        refused["type"]
            .as_str()
            .map(|t| t.ends_with("/quota-exceeded")),
        Some(true),
        "{refused}"
    );
    assert_eq!(
        (
            refused["limit"].as_str(),
            refused["allowed"].as_i64(),
            refused["used"].as_i64()
        ),
        (Some("envelopes_per_month"), Some(5), Some(5)),
        "{refused}"
    );
    assert_eq!(refused["upgrade"], "/v1/billing/checkout");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("free plan"),
        "{refused}"
    );

    // One signature applied.
    let token = mailed_token(&signers[0], "/sign").await;
    let (status, signed) = consent_and_sign(&stack, &token, json!({"signature": drawn()})).await;
    assert_eq!(status, 202, "{signed}");

    // Certificates: two on the free plan (the organization's CA and seal do not count).
    for label in ["one", "two"] {
        let (status, created) = stack
            .call(&owner, "POST", "/v1/certificates", Some(json!({"label": label, "key_type": "ec-p256", "subject": {"common_name": "Дорж"}})))
            .await;
        assert_eq!(status, 201, "{created}");
    }
    let (status, refused) = stack
        .call(&owner, "POST", "/v1/certificates", Some(json!({"label": "three", "key_type": "ec-p256", "subject": {"common_name": "Дорж"}})))
        .await;
    assert_eq!(
        (status, refused["limit"].as_str(), refused["used"].as_i64()),
        (402, Some("certificates"), Some(2)),
        "{refused}"
    );

    // Members: three on the free plan, invitations included.
    for i in 0..2 {
        let (status, invited) = stack
            .call(
                &owner,
                "POST",
                "/v1/organization/users",
                Some(json!({"email": format!("m{i}-{suffix}@example.mn"), "role": "member"})),
            )
            .await;
        assert_eq!(status, 201, "{invited}");
    }
    let (status, refused) = stack
        .call(
            &owner,
            "POST",
            "/v1/organization/users",
            Some(json!({"email": format!("m3-{suffix}@example.mn"), "role": "member"})),
        )
        .await;
    assert_eq!(
        (
            status,
            refused["limit"].as_str(),
            refused["allowed"].as_i64()
        ),
        (402, Some("users"), Some(3)),
        "{refused}"
    );

    // A subscription to Pro (Stripe's event) lifts the envelope limit.
    let (status, answer) = stripe_event(
        &stack,
        &subscription_event(
            "evt_pro",
            "customer.subscription.created",
            owner.org,
            "price_gsign_pro_monthly",
            100,
        ),
        None,
    )
    .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("applied")),
        "{answer}"
    );
    let (status, sent) = stack
        .call(&owner, "POST", &format!("{sixth}/send"), None)
        .await;
    assert_eq!(status, 200, "{sent}");
    envelope_when(
        &stack,
        &owner,
        &format!("/v1/envelopes/{}", signers_envelope(&db, &signers[0]).await),
        "signature applied",
        |e| e["status"] == "completed",
    )
    .await;

    // Usage equals what happened, exactly, in the API and in the table.
    let (status, subscription) = stack
        .call(&owner, "GET", "/v1/billing/subscription", None)
        .await;
    assert_eq!(status, 200, "{subscription}");
    assert_eq!(subscription["plan"]["code"], "pro");
    // The organization shows the plan billing enforces, not a column the upgrade missed.
    let (_, organization) = stack.call(&owner, "GET", "/v1/organization", None).await;
    assert_eq!(organization["plan"], "pro", "{organization}");
    assert_eq!(
        subscription["usage"],
        json!({"envelope": 6, "signature": 1, "certificate": 2}),
        "{subscription}"
    );
    let (status, usage) = stack.call(&owner, "GET", "/v1/billing/usage", None).await;
    assert_eq!(status, 200, "{usage}");
    assert_eq!(
        usage["totals"],
        json!({"envelope": 6, "signature": 1, "certificate": 2}),
        "{usage}"
    );
    let (status, _) = stack
        .call(&owner, "GET", "/v1/billing/usage?from=2026-13-01", None)
        .await;
    assert_eq!(status, 422);
    let csv = reqwest::Client::new()
        .get(format!("{}/v1/billing/usage.csv", stack.url))
        .header("authorization", &owner.bearer)
        .send()
        .await
        .expect("csv");
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.expect("text");
    let today = chrono::Utc::now().date_naive();
    assert_eq!(
        csv,
        format!("day,envelope,signature,certificate\n{today},6,1,2\n")
    );
    let (status, preview) = stack
        .call(&owner, "GET", "/v1/billing/invoice-preview", None)
        .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(
        (preview["plan"].as_str(), preview["total_cents"].as_i64()),
        (Some("pro"), Some(2900)),
        "{preview}"
    );
    assert_eq!(
        preview["lines"][1]["description"],
        "Envelopes sent: 6 of 100 included"
    );
    let rows: i64 = db
        .connect()
        .await
        .query_one(
            "SELECT count(*) FROM usage_records WHERE organization_id = $1",
            &[&owner.org],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(rows, 9);
    stack.stop().await;
}

/// The envelope a signer was asked to sign.
async fn signers_envelope(db: &TestDatabase, email: &str) -> String {
    db.connect()
        .await
        .query_one(
            "SELECT envelope_id::text FROM recipients WHERE email = $1",
            &[&email],
        )
        .await
        .expect("recipient")
        .get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn stripe_events_are_verified_applied_once_in_order_and_downgrades_wait_for_the_period_end() {
    let db = TestDatabase::migrated().await;
    let stack = gsign_tests::start_app(&db, &[]).await;
    let owner = Tenant::create_on_free_plan(&db, "owner").await;
    assert_eq!(subscription(&stack, &owner).await["plan"]["code"], "free");

    // Refused: a wrong secret, a stale timestamp, a header without v1.
    let created = subscription_event(
        "evt_1",
        "customer.subscription.created",
        owner.org,
        "price_gsign_business_monthly",
        10,
    );
    let body = serde_json::to_vec(&created).expect("json");
    let now = chrono::Utc::now().timestamp();
    for header in [
        gsign_core::billing::stripe_signature_header("whsec_wrong", now, &body),
        gsign_core::billing::stripe_signature_header(STRIPE_TEST_SECRET, now - 301, &body),
        "t=1".to_owned(),
    ] {
        let (status, problem) = stripe_event(&stack, &created, Some(header)).await;
        assert_eq!(status, 400, "{problem}");
        assert_eq!(
            problem["type"]
                .as_str()
                .map(|t| t.ends_with("/stripe-signature-invalid")),
            Some(true),
            "{problem}"
        );
    }
    assert_eq!(subscription(&stack, &owner).await["plan"]["code"], "free");

    // Applied once; the same event again changes nothing.
    for expected in ["applied", "duplicate"] {
        let (status, answer) = stripe_event(&stack, &created, None).await;
        assert_eq!(
            (status, answer["outcome"].as_str()),
            (200, Some(expected)),
            "{answer}"
        );
    }
    let now_on = subscription(&stack, &owner).await;
    assert_eq!(
        (now_on["plan"]["code"].as_str(), now_on["status"].as_str()),
        (Some("business"), Some("active")),
        "{now_on}"
    );

    // A downgrade within the period waits for its end; an older event arriving late is ignored.
    let (_, answer) = stripe_event(
        &stack,
        &subscription_event(
            "evt_3",
            "customer.subscription.updated",
            owner.org,
            "price_gsign_pro_monthly",
            30,
        ),
        None,
    )
    .await;
    assert_eq!(answer["outcome"], "applied");
    let now_on = subscription(&stack, &owner).await;
    assert_eq!(
        (
            now_on["plan"]["code"].as_str(),
            now_on["pending_plan"].as_str()
        ),
        (Some("business"), Some("pro")),
        "{now_on}"
    );
    let (_, answer) = stripe_event(
        &stack,
        &subscription_event(
            "evt_2",
            "customer.subscription.updated",
            owner.org,
            "price_gsign_business_monthly",
            20,
        ),
        None,
    )
    .await;
    assert_eq!(answer["outcome"], "stale", "{answer}");

    // Payment failed, then paid.
    let invoice = |id: &str, kind: &str, created: i64| {
        json!({"id": id, "type": kind, "created": chrono::Utc::now().timestamp() - 1000 + created,
               "data": {"object": {"object": "invoice", "subscription": format!("sub_{}", owner.org)}}})
    };
    let (_, answer) = stripe_event(
        &stack,
        &invoice("evt_4", "invoice.payment_failed", 40),
        None,
    )
    .await;
    assert_eq!(answer["outcome"], "applied");
    assert_eq!(subscription(&stack, &owner).await["status"], "past_due");
    let (_, answer) = stripe_event(&stack, &invoice("evt_5", "invoice.paid", 50), None).await;
    assert_eq!(answer["outcome"], "applied");
    assert_eq!(subscription(&stack, &owner).await["status"], "active");

    // The period ends: the downgrade applies.
    db.connect()
        .await
        .execute(
            "UPDATE subscriptions SET current_period_end = now() - interval '1 second' WHERE organization_id = $1",
            &[&owner.org],
        )
        .await
        .expect("period ended");
    assert_eq!(subscription(&stack, &owner).await["plan"]["code"], "pro");

    // Canceled; an unknown organization is recorded, not applied.
    let (_, answer) = stripe_event(
        &stack,
        &subscription_event(
            "evt_6",
            "customer.subscription.deleted",
            owner.org,
            "price_gsign_pro_monthly",
            60,
        ),
        None,
    )
    .await;
    assert_eq!(answer["outcome"], "applied");
    let (_, answer) = stripe_event(
        &stack,
        &subscription_event(
            "evt_7",
            "customer.subscription.created",
            uuid::Uuid::new_v4(),
            "price_gsign_pro_monthly",
            70,
        ),
        None,
    )
    .await;
    assert_eq!(answer["outcome"], "unknown_organization");
    let outcomes: Vec<(String, String)> = db
        .connect()
        .await
        .query("SELECT id, outcome FROM stripe_events ORDER BY id", &[])
        .await
        .expect("events")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("evt_1", "applied"),
            ("evt_2", "stale"),
            ("evt_3", "applied"),
            ("evt_4", "applied"),
            ("evt_5", "applied"),
            ("evt_6", "applied"),
            ("evt_7", "unknown_organization")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .to_vec()
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn checkout_and_portal_links_come_from_stripe_with_the_organization_in_the_subscription() {
    let stripe = gsign_tests::stripe::RecordedStripe::start().await;
    let db = TestDatabase::migrated().await;
    let stack = gsign_tests::start_app(&db, &[("StripeApiBase", stripe.url.clone())]).await;
    let owner = Tenant::create_on_free_plan(&db, "owner").await;

    // Only paid plans are for sale; members may not buy.
    let (status, problem) = stack
        .call(
            &owner,
            "POST",
            "/v1/billing/checkout",
            Some(json!({"plan": "free"})),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    let member = owner.colleague(&db, "member").await;
    let (status, _) = stack
        .call(
            &member,
            "POST",
            "/v1/billing/checkout",
            Some(json!({"plan": "pro"})),
        )
        .await;
    assert_eq!(status, 403);

    // Checkout: the plan's price, one seat, the organization in the subscription's metadata.
    let (status, session) = stack
        .call(
            &owner,
            "POST",
            "/v1/billing/checkout",
            Some(json!({"plan": "pro"})),
        )
        .await;
    assert_eq!(status, 201, "{session}");
    assert!(
        session["url"]
            .as_str()
            .unwrap_or_default()
            .starts_with("https://checkout.stripe.com/"),
        "{session}"
    );
    let (path, auth, body) = stripe
        .requests
        .lock()
        .expect("lock")
        .last()
        .cloned()
        .expect("a request");
    assert_eq!(path, "/v1/checkout/sessions");
    assert!(
        auth.starts_with("Basic "),
        "the secret key as basic auth: {auth}"
    );
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(form["mode"], "subscription");
    assert_eq!(form["line_items[0][price]"], "price_gsign_pro_monthly");
    assert_eq!(
        form["subscription_data[metadata][organization_id]"],
        owner.org.to_string()
    );
    assert!(!form.contains_key("customer"), "no customer yet: {form:?}");

    // The portal needs a customer: after the subscription event, it opens with it.
    let (status, problem) = stack.call(&owner, "POST", "/v1/billing/portal", None).await;
    assert_eq!(status, 409, "{problem}");
    let (_, answer) = stripe_event(
        &stack,
        &subscription_event(
            "evt_c1",
            "customer.subscription.created",
            owner.org,
            "price_gsign_pro_monthly",
            10,
        ),
        None,
    )
    .await;
    assert_eq!(answer["outcome"], "applied");
    let (status, portal) = stack.call(&owner, "POST", "/v1/billing/portal", None).await;
    assert_eq!(status, 201, "{portal}");
    assert!(
        portal["url"]
            .as_str()
            .unwrap_or_default()
            .starts_with("https://billing.stripe.com/"),
        "{portal}"
    );
    let (path, _, body) = stripe
        .requests
        .lock()
        .expect("lock")
        .last()
        .cloned()
        .expect("a request");
    assert_eq!(path, "/v1/billing_portal/sessions");
    assert!(
        body.contains(&format!("customer=cus_{}", owner.org)),
        "{body}"
    );
    // An upgrade from there carries the customer.
    stack
        .call(
            &owner,
            "POST",
            "/v1/billing/checkout",
            Some(json!({"plan": "business"})),
        )
        .await;
    let (_, _, body) = stripe
        .requests
        .lock()
        .expect("lock")
        .last()
        .cloned()
        .expect("a request");
    assert!(
        body.contains(&format!("customer=cus_{}", owner.org)),
        "{body}"
    );

    // Stripe refusing: a clear 502, never the key.
    stripe.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let (status, problem) = stack
        .call(
            &owner,
            "POST",
            "/v1/billing/checkout",
            Some(json!({"plan": "pro"})),
        )
        .await;
    assert_eq!(status, 502, "{problem}");
    assert!(!problem.to_string().contains("sk_test"), "{problem}");
    stack.stop().await;
}
