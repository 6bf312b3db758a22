//! Rate limits: per IP (tighter on sign-in routes), per email address on login, per API key;
//! 429 with Retry-After and RateLimit headers; without Redis the general limits let requests
//! through while login refuses (fails closed).

use gsign_platform::credentials;
use gsign_tests::{start_app, unique, PrivateRedis, TestDatabase, TestStack};
use secrecy::ExposeSecret;
use serde_json::json;

async fn login(stack: &TestStack, email: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/v1/auth/login", stack.url))
        .json(&json!({"email": email, "password": "not the password"}))
        .send()
        .await
        .expect("the runner answers")
}

#[tokio::test]
async fn sign_in_is_limited_per_address_and_per_ip_with_retry_after() {
    let db = TestDatabase::migrated().await;
    let stack = start_app(
        &db,
        &[
            ("RateLimitSensitivePerIp", "5".to_owned()),
            ("RateLimitPerIdentifier", "2".to_owned()),
        ],
    )
    .await;
    let target = format!("victim-{}@example.com", unique());
    assert_eq!(login(&stack, &target).await.status().as_u16(), 401);
    let second = login(&stack, &target).await;
    assert_eq!(second.status().as_u16(), 401);
    assert_eq!(
        second.headers()["ratelimit-limit"],
        "5",
        "the per-IP limit is reported"
    );
    let third = login(&stack, &target).await;
    assert_eq!(third.status().as_u16(), 429, "third guess at one address");
    assert!(third.headers().contains_key("retry-after"));
    let body: serde_json::Value = third.json().await.expect("problem");
    assert_eq!(body["type"], "https://gsign.dev/problems/rate-limited");

    // Other addresses from the same IP: two more pass, then the per-IP limit binds.
    assert_eq!(
        login(&stack, &format!("a-{}@example.com", unique()))
            .await
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        login(&stack, &format!("b-{}@example.com", unique()))
            .await
            .status()
            .as_u16(),
        401
    );
    let over = login(&stack, &format!("c-{}@example.com", unique())).await;
    assert_eq!(over.status().as_u16(), 429);
    assert_eq!(over.headers()["ratelimit-remaining"], "0");
    let retry: u64 = over.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    stack.stop().await;
}

#[tokio::test]
async fn api_keys_have_their_own_limit() {
    let db = TestDatabase::migrated().await;
    let stack = start_app(&db, &[("RateLimitPerApiKey", "2".to_owned())]).await;
    let client = db.connect().await;
    let org: uuid::Uuid = client
        .query_one(
            "INSERT INTO organizations (name, slug) VALUES ('K', $1) RETURNING id",
            &[&format!("k-{}", unique())],
        )
        .await
        .expect("org")
        .get(0);
    // A key lives while its creator is an active member.
    let creator: uuid::Uuid = client
        .query_one(
            "INSERT INTO users (organization_id, email, role) VALUES ($1, $2, 'admin') RETURNING id",
            &[&org, &format!("k-{}@example.com", unique())],
        )
        .await
        .expect("creator")
        .get(0);
    let key = credentials::new_api_key();
    client
        .execute(
            "INSERT INTO api_keys (organization_id, created_by, name, prefix, key_hash, role, scopes) VALUES ($1, $2, 'k', $3, $4, 'admin', ARRAY['organization:read'])",
            &[&org, &creator, &key.prefix, &key.hash],
        )
        .await
        .expect("key");
    let get = || async {
        reqwest::Client::new()
            .get(format!("{}/v1/organization", stack.url))
            .bearer_auth(key.key.expose_secret())
            .send()
            .await
            .expect("answer")
    };
    assert_eq!(get().await.status().as_u16(), 200);
    let second = get().await;
    assert_eq!(second.status().as_u16(), 200);
    assert_eq!(second.headers()["x-ratelimit-remaining"], "0");
    assert_eq!(get().await.status().as_u16(), 429);
    stack.stop().await;
}

#[tokio::test]
async fn without_redis_general_limits_fail_open_and_login_fails_closed() {
    let db = TestDatabase::migrated().await;
    let mut redis = PrivateRedis::start();
    let stack = start_app(&db, &[("RedisUrl", redis.url())]).await;
    redis.stop();
    let (status, _) = {
        let response = reqwest::Client::new()
            .post(format!("{}/v1/auth/register", stack.url))
            .json(&json!({"organization_name": "NoRedis", "email": format!("nr-{}@example.com", unique()), "password": "correct horse battery staple"}))
            .send()
            .await
            .expect("answer");
        (response.status().as_u16(), ())
    };
    assert_eq!(status, 202, "registration does not depend on the limiter");
    let refused = login(&stack, "someone@example.com").await;
    assert_eq!(refused.status().as_u16(), 503, "no counting, no guessing");
    let body: serde_json::Value = refused.json().await.expect("problem");
    assert_eq!(
        body["type"],
        "https://gsign.dev/problems/rate-limiter-unavailable"
    );
    stack.stop().await;
}
