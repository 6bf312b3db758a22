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

/// What a signing page sends on one link: view, consent, sign, then the polls while the
/// worker applies the signature (every 1.5 s for ~20 s), all from `ip` (X-Forwarded-For is
/// not trusted: the runner's source address is the one counted, the same for everyone here).
async fn a_signing_page(stack: &TestStack, token: &str) -> Vec<u16> {
    use gsign_tests::envelopes::{by_link, drawn};
    let mut statuses = Vec::new();
    let link = format!("/v1/signing/{token}");
    statuses.push(by_link(stack, "GET", &link, None).await.0);
    let consent = json!({"disclosure_version": "2026-11", "accepted": true});
    statuses.push(
        by_link(stack, "POST", &format!("{link}/consent"), Some(consent))
            .await
            .0,
    );
    let sign = json!({"signature": drawn()});
    statuses.push(
        by_link(stack, "POST", &format!("{link}/sign"), Some(sign))
            .await
            .0,
    );
    for _ in 0..14 {
        statuses.push(by_link(stack, "GET", &link, None).await.0);
    }
    statuses
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_signers_behind_one_address_are_never_refused_while_one_link_is_limited() {
    use gsign_tests::envelopes::{by_link, send_envelope};
    let db = TestDatabase::migrated().await;
    // The per-link limit low enough to reach, the sign-in routes' per-IP limit as deployed.
    let stack = start_app(&db, &[("RateLimitPerSigningLink", "25".to_owned())]).await;
    let sender = gsign_tests::Tenant::create(&db, "member").await;
    let document = stack
        .upload_ready_pdf(
            &sender,
            "contract.pdf",
            gsign_tests::bench::contract_pdf(40),
        )
        .await;
    let suffix = unique();
    // An eleventh signer who has not signed yet keeps the envelope open (completion replaces
    // every link).
    let emails: Vec<String> = (0..11)
        .map(|i| format!("office{i}-{suffix}@example.mn"))
        .collect();
    let names: Vec<String> = (0..11).map(|i| format!("Signer {i}")).collect();
    let recipients: Vec<(&str, &str, &str, i32)> = emails
        .iter()
        .zip(&names)
        .map(|(email, name)| (email.as_str(), name.as_str(), "signer", 1))
        .collect();
    send_envelope(&stack, &sender, &document, "parallel", &recipients, |_| {
        Vec::new()
    })
    .await;
    let tokens =
        gsign_tests::mailed_tokens(&emails, "/sign", std::time::Duration::from_secs(60)).await;

    // Ten pages at once from one address: 170 requests in well under a minute, none refused
    // (the per-IP limit of the sign-in routes, 20, refused the 21st before).
    let pages = tokens[..10]
        .iter()
        .map(|token| a_signing_page(&stack, token));
    let statuses: Vec<u16> = futures::future::join_all(pages).await.concat();
    assert_eq!(statuses.len(), 170);
    assert!(
        statuses.iter().all(|s| *s != 429),
        "refused: {:?}",
        statuses.iter().filter(|s| **s == 429).count()
    );
    assert!(
        statuses.iter().all(|s| (200..300).contains(s)),
        "{statuses:?}"
    );

    // One link hammered past its own limit is refused, with Retry-After.
    let link = format!("/v1/signing/{}", tokens[0]);
    let mut refused = None;
    for _ in 0..10 {
        let response = reqwest::get(format!("{}{link}", stack.url))
            .await
            .expect("answers");
        if response.status() == 429 {
            refused = Some(response);
            break;
        }
    }
    let refused = refused.expect("the link's own limit refuses at last");
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(refused.headers()["ratelimit-limit"], "25");
    // The other links are not affected.
    let (status, _) = by_link(&stack, "GET", &format!("/v1/signing/{}", tokens[10]), None).await;
    assert_eq!(status, 200);
    stack.stop().await;
}
