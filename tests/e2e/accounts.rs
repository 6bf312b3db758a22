use gsign_platform::cache::{Cache, CacheConfig};
use gsign_platform::credentials::{self, AccessTokens};
use gsign_tests::{stack_var, start_app, PrivateRedis, TestDatabase, TestStack};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

struct Member {
    org: Uuid,
    user: Uuid,
    family: Uuid,
}

/// An organization with one active user of `role` holding one live session.
async fn member(db: &TestDatabase, role: &str) -> Member {
    let client = db.connect().await;
    let slug = format!("org-{}", gsign_tests::unique());
    let org: Uuid = client
        .query_one(
            "INSERT INTO organizations (name, slug) VALUES ('Acme', $1) RETURNING id",
            &[&slug],
        )
        .await
        .expect("organization")
        .get(0);
    let email = format!("{slug}@example.com");
    let user: Uuid = client
        .query_one(
            "INSERT INTO users (organization_id, email, role, first_name) VALUES ($1, $2, $3, 'Батбаяр') RETURNING id",
            &[&org, &email, &role],
        )
        .await
        .expect("user")
        .get(0);
    let family = Uuid::new_v4();
    client
        .execute(
            "INSERT INTO user_sessions (user_id, organization_id, family_id, refresh_token_hash, expires_at)
             VALUES ($1, $2, $3, $4, now() + interval '30 days')",
            &[&user, &org, &family, &credentials::new_token().hash],
        )
        .await
        .expect("session");
    Member { org, user, family }
}

fn tokens() -> AccessTokens {
    AccessTokens::new(
        &SecretString::from(stack_var("GSIGN_ACCESS_TOKEN_KEY")),
        "gsign",
        "gsign-api",
        900,
    )
    .expect("key")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn access_token(m: &Member, org: Uuid) -> String {
    tokens()
        .issue(
            &m.user.to_string(),
            &org.to_string(),
            "owner",
            &m.family.to_string(),
            now(),
        )
        .expect("token")
}

async fn stack_with(db: &TestDatabase, redis_url: Option<String>) -> TestStack {
    let overrides: Vec<(&str, String)> =
        redis_url.map(|url| ("RedisUrl", url)).into_iter().collect();
    start_app(db, &overrides).await
}

async fn get_me(
    stack: &TestStack,
    authorization: Option<&str>,
) -> (u16, String, serde_json::Value) {
    let mut request = reqwest::Client::new().get(format!("{}/v1/me", stack.url));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.expect("the runner answers");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (
        status,
        content_type,
        response.json().await.unwrap_or_default(),
    )
}

async fn revoke(db: &TestDatabase, m: &Member, redis_url: &str) {
    db.connect()
        .await
        .execute(
            "UPDATE user_sessions SET revoked_at = now() WHERE family_id = $1",
            &[&m.family],
        )
        .await
        .expect("revoke");
    let config = CacheConfig {
        url: SecretString::from(redis_url.to_owned()),
        timeout: std::time::Duration::from_secs(1),
    };
    let cache = Cache::new(&config).expect("cache");
    // Redis may be down in a test; Postgres is the truth either way.
    let _ = gsign_platform::sessions::forget(&cache, m.user, m.family).await;
}

#[tokio::test]
async fn me_answers_a_live_session_with_the_current_role_and_refuses_it_once_revoked() {
    let db = TestDatabase::migrated().await;
    let m = member(&db, "admin").await;
    let stack = stack_with(&db, None).await;
    let bearer = format!("Bearer {}", access_token(&m, m.org));

    let (status, _, body) = get_me(&stack, Some(&bearer)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], m.user.to_string());
    assert_eq!(
        body["role"], "admin",
        "the current role, not the token's claim"
    );
    assert_eq!(body["first_name"], "Батбаяр");
    assert_eq!(body["organization"]["id"], m.org.to_string());

    // Served from Redis now; revocation must still apply on the very next request.
    assert_eq!(get_me(&stack, Some(&bearer)).await.0, 200);
    revoke(&db, &m, &stack_var("REDIS_URL")).await;
    assert_eq!(get_me(&stack, Some(&bearer)).await.0, 403);
    stack.stop().await;
}

#[tokio::test]
async fn without_redis_the_authorizer_answers_from_postgres_and_still_refuses_revoked_sessions() {
    let db = TestDatabase::migrated().await;
    let m = member(&db, "member").await;
    let mut redis = PrivateRedis::start();
    let stack = stack_with(&db, Some(redis.url())).await;
    let bearer = format!("Bearer {}", access_token(&m, m.org));
    assert_eq!(
        get_me(&stack, Some(&bearer)).await.0,
        200,
        "cached in Redis"
    );

    redis.stop();
    assert_eq!(
        get_me(&stack, Some(&bearer)).await.0,
        200,
        "Postgres answers"
    );
    revoke(&db, &m, &redis.url()).await;
    assert_eq!(
        get_me(&stack, Some(&bearer)).await.0,
        403,
        "revoked while Redis was down"
    );

    // Redis comes back empty (a private Redis keeps nothing on disk): Postgres decides.
    redis.resume();
    let status = get_me(&stack, Some(&bearer)).await.0;
    assert_eq!(
        status, 403,
        "a restarted Redis is empty, so Postgres decides"
    );
    stack.stop().await;
}

#[tokio::test]
async fn bad_expired_foreign_or_missing_credentials_are_refused() {
    let db = TestDatabase::migrated().await;
    let m = member(&db, "owner").await;
    let other = member(&db, "owner").await;
    let stack = stack_with(&db, None).await;

    assert_eq!(get_me(&stack, None).await.0, 401, "no credential");
    assert_eq!(get_me(&stack, Some("Basic dXNlcjpwYXNz")).await.0, 403);
    let token = access_token(&m, m.org);
    let tampered = format!("Bearer {}x", token);
    assert_eq!(get_me(&stack, Some(&tampered)).await.0, 403);
    let expired = tokens()
        .issue(
            &m.user.to_string(),
            &m.org.to_string(),
            "owner",
            &m.family.to_string(),
            now() - 3600,
        )
        .expect("token");
    assert_eq!(
        get_me(&stack, Some(&format!("Bearer {expired}"))).await.0,
        403
    );
    // A token claiming another tenant for this session is refused.
    let foreign = access_token(&m, other.org);
    assert_eq!(
        get_me(&stack, Some(&format!("Bearer {foreign}"))).await.0,
        403
    );
    // Signed with another key.
    let forged = AccessTokens::new(
        &SecretString::from("x".repeat(40)),
        "gsign",
        "gsign-api",
        900,
    )
    .expect("key")
    .issue(
        &m.user.to_string(),
        &m.org.to_string(),
        "owner",
        &m.family.to_string(),
        now(),
    )
    .expect("token");
    assert_eq!(
        get_me(&stack, Some(&format!("Bearer {forged}"))).await.0,
        403
    );
    stack.stop().await;
}

#[tokio::test]
async fn api_keys_pass_the_authorizer_but_have_no_profile_and_revoked_keys_do_not_pass() {
    let db = TestDatabase::migrated().await;
    let m = member(&db, "owner").await;
    let key = credentials::new_api_key();
    let client = db.connect().await;
    let key_id: Uuid = client
        .query_one(
            "INSERT INTO api_keys (organization_id, created_by, name, prefix, key_hash, role, scopes)
             VALUES ($1, $2, 'ci', $3, $4, 'owner', ARRAY['organization:read']) RETURNING id",
            &[&m.org, &m.user, &key.prefix, &key.hash],
        )
        .await
        .expect("key")
        .get(0);
    let stack = stack_with(&db, None).await;
    let bearer = format!("Bearer {}", key.key.expose_secret());

    let (status, content_type, body) = get_me(&stack, Some(&bearer)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        content_type, "application/problem+json",
        "refused by the route, not the gateway"
    );
    assert_eq!(body["type"], "https://gsign.dev/problems/forbidden");
    let used: bool = client
        .query_one(
            "SELECT last_used_at IS NOT NULL FROM api_keys WHERE id = $1",
            &[&key_id],
        )
        .await
        .expect("key")
        .get(0);
    assert!(used, "last use recorded");

    // A key that differs only after the prefix is refused.
    let mut wrong = key.key.expose_secret().to_owned();
    // Another last character, whatever the random key ended with (a fixed 'Q' was flaky).
    let last = wrong.pop();
    wrong.push(if last == Some('Q') { 'R' } else { 'Q' });
    let (status, content_type, _) = get_me(&stack, Some(&format!("Bearer {wrong}"))).await;
    assert_eq!((status, content_type.as_str()), (403, "application/json"));

    client
        .execute(
            "UPDATE api_keys SET revoked_at = now() WHERE id = $1",
            &[&key_id],
        )
        .await
        .expect("revoke");
    let (status, content_type, _) = get_me(&stack, Some(&bearer)).await;
    assert_eq!(
        (status, content_type.as_str()),
        (403, "application/json"),
        "the gateway refuses"
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_session_refill_that_read_the_old_role_cannot_restore_it_after_a_demotion() {
    use gsign_core::Role;
    use gsign_platform::sessions;
    let db = TestDatabase::migrated().await;
    let m = member(&db, "admin").await;
    let config = CacheConfig {
        url: SecretString::from(stack_var("REDIS_URL")),
        timeout: std::time::Duration::from_secs(1),
    };
    let cache = Cache::new(&config).expect("cache");
    let pool = gsign_platform::db::pool(&gsign_platform::db::DbConfig {
        url: Some(SecretString::from(db.url.clone())),
        tls: gsign_platform::db::DbTls::Disable,
        ca_file: None,
        pool_size: 2,
        connect_timeout: std::time::Duration::from_secs(3),
        shared: false,
        backend: gsign_platform::database::Backend::Postgres,
        data_api: None,
    })
    .expect("pool");
    let db_port = gsign_platform::database::Database::from(pool);
    let role = || sessions::active_role(&cache, &db_port, m.user, m.org, m.family);
    assert_eq!(role().await.expect("answer"), Some(Role::Admin));

    // The demotion commits (version bumped) and invalidates the cache...
    let client = db.connect().await;
    let version: i64 = client
        .query_one(
            "UPDATE users SET role = 'viewer', session_version = session_version + 1
              WHERE id = $1 RETURNING session_version",
            &[&m.user],
        )
        .await
        .expect("demote")
        .get(0);
    sessions::invalidate(&cache, m.user, version).await;
    // ...and only then does a refill that read the row before the change write its answer.
    let stale = sessions::remember(&cache, m.user, m.family, Role::Admin, version - 1)
        .await
        .expect("redis");
    assert!(!stale, "the stale refill is refused");
    assert_eq!(role().await.expect("answer"), Some(Role::Viewer));

    // Entries never outlive an access token.
    let mut conn = cache.connection().await.expect("redis");
    let ttl: i64 = redis::cmd("TTL")
        .arg(sessions::session_key(m.user))
        .query_async(&mut conn)
        .await
        .expect("ttl");
    assert!((1..=900).contains(&ttl), "ttl {ttl}");
}
