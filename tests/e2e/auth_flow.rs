//! The accounts story as a new customer lives it, through the runner: register, the
//! verification email, login, the profile, refresh with rotation, reuse detection, logout;
//! the audit trail in DynamoDB; and no side effect lost when the process dies after commit.

use std::collections::BTreeMap;
use std::time::Duration;

use gsign_tests::{
    eventually, stack_var, start_app, unique, verify_mailed_address, TestDatabase, TestStack,
};
use serde_json::{json, Value};

async fn post(stack: &TestStack, path: &str, body: Value, bearer: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", stack.url))
        .header("user-agent", "story-test/1.0")
        .json(&body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the runner answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn me(stack: &TestStack, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}/v1/me", stack.url))
        .bearer_auth(token)
        .send()
        .await
        .expect("the runner answers")
        .status()
        .as_u16()
}

/// Emails moto's SES accepted for `to`. moto's `data.json` sometimes answers 500 while other
/// tests write DynamoDB items (it fails to serialise a `DynamoType` key): that reads as "no
/// email yet", and the caller polls again.
async fn emails_to(to: &str) -> Vec<Value> {
    let data: Value = match reqwest::get(format!(
        "{}/moto-api/data.json",
        stack_var("AWS_ENDPOINT_URL")
    ))
    .await
    .expect("moto answers")
    .json()
    .await
    {
        Ok(data) => data,
        Err(_) => return Vec::new(),
    };
    data["ses"]["Message"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .filter(|m| {
                    m["destinations"]["ToAddresses"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x == to))
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// Audit events of `org` in the stack's DynamoDB table, oldest first.
async fn audit_events(stack: &TestStack, org: &str) -> Vec<BTreeMap<String, String>> {
    let ddb = gsign_platform::aws::dynamodb(&gsign_tests::sdk().await);
    let table = format!("{}-audit-events", stack.name);
    let items = ddb
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("ORG#{org}")),
        )
        .send()
        .await
        .expect("query audit events");
    items
        .items()
        .iter()
        .map(|item| {
            item.iter()
                .filter_map(|(k, v)| v.as_s().ok().map(|s| (k.clone(), s.clone())))
                .collect()
        })
        .collect()
}

async fn wait_for_action(stack: &TestStack, org: &str, action: &str) -> BTreeMap<String, String> {
    eventually(Duration::from_secs(20), action, || async {
        audit_events(stack, org)
            .await
            .into_iter()
            .find(|e| e.get("action").map(String::as_str) == Some(action))
    })
    .await
}

#[tokio::test]
async fn a_new_customer_registers_verifies_logs_in_refreshes_and_logs_out() {
    let db = TestDatabase::migrated().await;
    let stack = start_app(&db, &[]).await;
    let email = format!("ana-{}@example.com", unique());

    let (status, registered) = post(
        &stack,
        "/v1/auth/register",
        json!({"organization_name": "Acme Signing", "email": email, "password": "correct horse battery staple", "first_name": "Ana"}),
        None,
    )
    .await;
    assert_eq!(status, 202, "{registered}");
    assert_eq!(registered["status"], "verification_mail_sent");
    let (org, role): (uuid::Uuid, String) = {
        let row = db
            .connect()
            .await
            .query_one(
                "SELECT organization_id, role FROM users WHERE email = $1",
                &[&email],
            )
            .await
            .expect("the new account");
        (row.get(0), row.get(1))
    };
    let org = org.to_string();
    assert_eq!(role, "owner");

    // The verification email arrives with a single-use link.
    let mail = eventually(
        Duration::from_secs(20),
        "the verification email",
        || async { emails_to(&email).await.into_iter().next() },
    )
    .await;
    assert!(
        mail["body"]
            .as_str()
            .unwrap_or("")
            .contains("verify-email?token="),
        "{mail}"
    );
    assert!(mail["source"].as_str().unwrap_or("").contains("no-reply@"));
    let registered_event = wait_for_action(&stack, &org, "user.registered").await;
    assert_eq!(
        registered_event.get("user_agent").map(String::as_str),
        Some("story-test/1.0")
    );
    assert_eq!(
        registered_event.get("ip").map(String::as_str),
        Some("127.0.0.1")
    );

    // Same email again (whatever its case): the same answer, no second account, and the
    // address's owner is told by mail; wrong password: 401, audited with where it came from.
    let (status, again) = post(&stack, "/v1/auth/register", json!({"organization_name": "Other", "email": email.to_uppercase(), "password": "another fine passphrase"}), None).await;
    assert_eq!(status, 202, "{again}");
    assert_eq!(again["status"], registered["status"]);
    gsign_tests::mailed_containing(&email, "already has one").await;
    let accounts: i64 = db
        .connect()
        .await
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(accounts, 1, "emails are unique whatever their case");
    let (status, body) = post(
        &stack,
        "/v1/auth/login",
        json!({"email": email, "password": "wrong password!"}),
        None,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        body["type"],
        "https://gsign.dev/problems/invalid-credentials"
    );
    let failed = wait_for_action(&stack, &org, "auth.login_failed").await;
    assert_eq!(failed.get("ip").map(String::as_str), Some("127.0.0.1"));

    // The right password before the address is verified: no session, a clear problem.
    let (status, body) = post(
        &stack,
        "/v1/auth/login",
        json!({"email": email, "password": "correct horse battery staple"}),
        None,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["type"],
        "https://gsign.dev/problems/email-not-verified"
    );
    verify_mailed_address(&stack.url, &email).await;

    // Login, then the profile.
    let (status, tokens) = post(
        &stack,
        "/v1/auth/login",
        json!({"email": email, "password": "correct horse battery staple"}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert_eq!(me(&stack, &access).await, 200);
    wait_for_action(&stack, &org, "auth.login_succeeded").await;

    // Refresh rotates; presenting the old refresh token again revokes the whole family.
    let (status, rotated) = post(
        &stack,
        "/v1/auth/refresh",
        json!({"refresh_token": refresh}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let new_access = rotated["access_token"].as_str().expect("access").to_owned();
    let new_refresh = rotated["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert_ne!(new_refresh, refresh);
    assert_eq!(me(&stack, &new_access).await, 200);
    let (status, _) = post(
        &stack,
        "/v1/auth/refresh",
        json!({"refresh_token": refresh}),
        None,
    )
    .await;
    assert_eq!(status, 401, "reuse refused");
    wait_for_action(&stack, &org, "auth.refresh_token_reused").await;
    assert_eq!(
        me(&stack, &new_access).await,
        403,
        "the family is revoked at once"
    );
    let (status, _) = post(
        &stack,
        "/v1/auth/refresh",
        json!({"refresh_token": new_refresh}),
        None,
    )
    .await;
    assert_eq!(
        status, 401,
        "the newest token of a revoked family is dead too"
    );

    // A fresh login; logout ends it for the authorizer on the next request.
    let (_, tokens) = post(
        &stack,
        "/v1/auth/login",
        json!({"email": email, "password": "correct horse battery staple"}),
        None,
    )
    .await;
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    assert_eq!(me(&stack, &access).await, 200);
    let (status, _) = post(&stack, "/v1/auth/logout", json!({}), Some(&access)).await;
    assert_eq!(status, 204);
    assert_eq!(me(&stack, &access).await, 403);
    wait_for_action(&stack, &org, "auth.logout").await;

    // Signing out everywhere ends the sessions of every device: a phone and a laptop.
    let login = || async {
        let (_, tokens) = post(
            &stack,
            "/v1/auth/login",
            json!({"email": email, "password": "correct horse battery staple"}),
            None,
        )
        .await;
        (
            tokens["access_token"].as_str().expect("access").to_owned(),
            tokens["refresh_token"]
                .as_str()
                .expect("refresh")
                .to_owned(),
        )
    };
    let (phone, phone_refresh) = login().await;
    let (laptop, _) = login().await;
    assert_eq!(me(&stack, &phone).await, 200);
    let (status, problem) = post(
        &stack,
        "/v1/auth/logout",
        json!({"refresh_token": phone_refresh}),
        Some(&laptop),
    )
    .await;
    assert_eq!(status, 400, "an unknown member is refused: {problem}");
    let (status, _) = post(
        &stack,
        "/v1/auth/logout",
        json!({"everywhere": true}),
        Some(&laptop),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(me(&stack, &laptop).await, 403);
    assert_eq!(
        me(&stack, &phone).await,
        403,
        "the other device is signed out too"
    );
    let (status, _) = post(
        &stack,
        "/v1/auth/refresh",
        json!({"refresh_token": phone_refresh}),
        None,
    )
    .await;
    assert_eq!(status, 401, "and cannot refresh its way back");
    wait_for_action(&stack, &org, "auth.logout_everywhere").await;
    stack.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_problem_listing_every_issue() {
    let db = TestDatabase::migrated().await;
    let stack = start_app(&db, &[]).await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/auth/register", stack.url);

    let malformed = client
        .post(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("answer");
    assert_eq!(malformed.status().as_u16(), 400);
    assert_eq!(
        malformed.headers()["content-type"],
        "application/problem+json"
    );

    let (status, body) = post(&stack, "/v1/auth/register", json!({"organization_name": "X", "email": "x@example.com", "password": "correct horse battery staple", "role": "owner"}), None).await;
    assert_eq!(
        status, 400,
        "unknown fields that try to set privileges are refused: {body}"
    );
    let (status, body) = post(&stack, "/v1/auth/register", json!({"organization_name": "X", "email": "x@example.com", "password": "correct horse battery staple", "organization_id": "00000000-0000-4000-8000-000000000001"}), None).await;
    assert_eq!(status, 400, "{body}");

    let (status, body) = post(
        &stack,
        "/v1/auth/register",
        json!({"organization_name": " ", "email": "not-an-email", "password": "password"}),
        None,
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let pointers: Vec<&str> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["pointer"].as_str())
        .collect();
    assert!(
        pointers.contains(&"/organization_name")
            && pointers.contains(&"/email")
            && pointers.contains(&"/password"),
        "{body}"
    );

    let (status, _) = post(
        &stack,
        "/v1/auth/register",
        json!({"organization_name": 5, "email": [], "password": null}),
        None,
    )
    .await;
    assert_eq!(status, 400, "wrong types");
    let huge = json!({"organization_name": "x".repeat(20_000), "email": "x@example.com", "password": "correct horse battery staple"});
    assert_eq!(post(&stack, "/v1/auth/register", huge, None).await.0, 413);
    let text = client
        .post(&url)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .expect("answer");
    assert_eq!(text.status().as_u16(), 415);
    stack.stop().await;
}

#[tokio::test]
async fn side_effects_committed_but_never_published_are_swept_and_delivered() {
    let db = TestDatabase::migrated().await;
    let stack = start_app(&db, &[]).await;
    let client = db.connect().await;
    let org: uuid::Uuid = client
        .query_one(
            "INSERT INTO organizations (name, slug) VALUES ('Crash', $1) RETURNING id",
            &[&format!("crash-{}", unique())],
        )
        .await
        .expect("org")
        .get(0);
    let to = format!("crash-{}@example.com", unique());
    // The state change commits with its outbox rows, then the process "dies": no publish.
    {
        let mut conn = db.connect().await;
        let tx = conn.transaction().await.expect("tx");
        gsign_platform::outbox::audit(
            &tx,
            &gsign_platform::outbox::AuditEvent {
                action: "test.crashed_before_publish".to_owned(),
                organization_id: org,
                actor_user_id: None,
                actor_api_key_id: None,
                resource_type: "organization".to_owned(),
                resource_id: org.to_string(),
                ip: Some("198.51.100.7".to_owned()),
                user_agent: Some("crash-test".to_owned()),
                details: json!({}),
            },
        )
        .await
        .expect("audit row");
        gsign_platform::outbox::email(
            &tx,
            org,
            &gsign_platform::outbox::Email {
                template: "password_reset".to_owned(),
                to: to.clone(),
                data: json!({"link": "https://app.gsign.example/reset?token=t"}),
                ..Default::default()
            },
        )
        .await
        .expect("email row");
        tx.commit().await.expect("commit");
    }
    // The scheduled sweeper (the same function, with no grace period) publishes them.
    let sweeper = stack
        .running
        .stack
        .function("schedule-sweep-outbox")
        .expect("sweeper");
    let env = sweeper.env.clone().with("OUTBOX_SWEEP_GRACE_SECONDS", "0");
    let gsign_platform::lambda::Handler::Invoke(sweep) =
        (gsign_functions_system::jobs::outbox::SWEEP_OUTBOX.init)(env)
            .await
            .expect("init")
    else {
        panic!("the sweeper is an invoke handler");
    };
    let swept = sweep.handle(json!({})).await.expect("sweep");
    assert_eq!(swept["published"], 2);
    let event = wait_for_action(&stack, &org.to_string(), "test.crashed_before_publish").await;
    assert_eq!(event.get("ip").map(String::as_str), Some("198.51.100.7"));
    eventually(Duration::from_secs(20), "the swept email", || async {
        emails_to(&to).await.into_iter().next()
    })
    .await;
    // A second sweep finds nothing left.
    assert_eq!(
        sweep.handle(json!({})).await.expect("sweep")["published"],
        0
    );
    stack.stop().await;
}
