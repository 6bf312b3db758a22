//! Plans, usage and quotas through the local runner: the free plan refuses the envelope, the
//! certificate and the member one over its limits with a problem that says which limit, the
//! usage and how to upgrade; a subscription lifts the envelope limit; usage records equal what
//! happened, exactly.

use gsign_tests::bench::contract_pdf;
use gsign_tests::envelopes::{
    consent_and_sign, drawn, envelope_when, send_envelope, stack_with_tsa,
};
use gsign_tests::pki::{LocalTsa, TestPki};
use gsign_tests::{mailed_token, Tenant, TestDatabase};
use serde_json::json;

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

    // A subscription to Pro lifts the envelope limit.
    db.connect()
        .await
        .execute(
            "INSERT INTO subscriptions (organization_id, plan_id, status, current_period_start, current_period_end) \
             SELECT $1, id, 'active', now() - interval '1 day', now() + interval '29 days' FROM plans WHERE code = 'pro'",
            &[&owner.org],
        )
        .await
        .expect("subscribed");
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
