//! Idempotency-Key on the POSTs that create: same key and body replays the stored response,
//! same key with another body is refused (422), a bad key is refused (400), and keys are
//! scoped to the tenant.

use gsign_tests::{start_app, unique, verify_mailed_address, TestDatabase, TestStack};
use serde_json::{json, Value};

async fn post(
    stack: &TestStack,
    path: &str,
    key: Option<&str>,
    bearer: Option<&str>,
    body: Value,
) -> (u16, Option<String>, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", stack.url))
        .json(&body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("answer");
    let status = response.status().as_u16();
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (
        status,
        replayed,
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_retried_create_returns_the_first_answer_and_creates_nothing_twice() {
    let db = TestDatabase::migrated().await;
    let stack = start_app(&db, &[]).await;
    let email = format!("idem-{}@example.com", unique());
    let body = json!({"organization_name": "Idem", "email": email, "password": "correct horse battery staple"});
    let key = unique();

    let (status, replayed, first) =
        post(&stack, "/v1/auth/register", Some(&key), None, body.clone()).await;
    assert_eq!((status, replayed), (202, None), "{first}");
    let (status, replayed, again) =
        post(&stack, "/v1/auth/register", Some(&key), None, body.clone()).await;
    assert_eq!((status, replayed.as_deref()), (202, Some("true")));
    assert_eq!(again, first, "the stored response, byte for byte");
    let organizations: i64 = db
        .connect()
        .await
        .query_one("SELECT count(*) FROM organizations", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(organizations, 1, "created once");

    let mut other = body.clone();
    other["organization_name"] = json!("Different");
    let (status, _, refused) = post(&stack, "/v1/auth/register", Some(&key), None, other).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(
        refused["type"],
        "https://gsign.dev/problems/idempotency-key-reused"
    );
    let (status, _, _) = post(
        &stack,
        "/v1/auth/register",
        Some(&"k".repeat(300)),
        None,
        body,
    )
    .await;
    assert_eq!(status, 400);

    // Authenticated creates. The same key used by another person is another request.
    let login = |email: String| {
        let stack = &stack;
        async move {
            verify_mailed_address(&stack.url, &email).await;
            let (_, _, tokens) = post(
                stack,
                "/v1/auth/login",
                None,
                None,
                json!({"email": email, "password": "correct horse battery staple"}),
            )
            .await;
            tokens["access_token"].as_str().expect("token").to_owned()
        }
    };
    let owner = login(email).await;
    let create = json!({"name": "ci", "scopes": ["documents:read"]});
    let (s1, _, k1) = post(
        &stack,
        "/v1/api-keys",
        Some("create-ci-key"),
        Some(&owner),
        create.clone(),
    )
    .await;
    assert_eq!(s1, 201, "{k1}");
    // The answer held the key itself: it was not kept, so it is not replayed.
    let (s2, _, k2) = post(
        &stack,
        "/v1/api-keys",
        Some("create-ci-key"),
        Some(&owner),
        create.clone(),
    )
    .await;
    assert_eq!(s2, 409, "{k2}");
    assert_eq!(
        k2["type"],
        "https://gsign.dev/problems/idempotency-answer-withheld"
    );
    let keys: i64 = db
        .connect()
        .await
        .query_one("SELECT count(*) FROM api_keys", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(keys, 1, "one key, not two");

    let other_email = format!("idem2-{}@example.com", unique());
    post(&stack, "/v1/auth/register", None, None, json!({"organization_name": "Idem2", "email": other_email, "password": "correct horse battery staple"})).await;
    let other_owner = login(other_email).await;
    let (s3, r3, k3) = post(
        &stack,
        "/v1/api-keys",
        Some("create-ci-key"),
        Some(&other_owner),
        create,
    )
    .await;
    assert_eq!((s3, r3), (201, None), "scoped to the tenant");
    assert_ne!(k3["id"], k1["id"]);
    stack.stop().await;
}
