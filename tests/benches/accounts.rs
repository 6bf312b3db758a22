//! Accounts figures, against the real local stack (release build):
//!
//! - authorizer latency per request in a warm container, access-token path (session found in
//!   Redis) and API-key path (Postgres lookup + constant-time compare);
//! - login latency through the runner (dominated by argon2id, m = 19 MiB, t = 2, p = 1);
//! - requests per second of `GET /v1/me` through the runner with 16 concurrent clients.
//!
//! Run: `cargo bench -p gsign-tests --bench accounts` (local stack up).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use gsign_functions_accounts::http::authorize::Authorizer;
use gsign_platform::cache::CacheConfig;
use gsign_platform::credentials::{self, AccessTokens};
use gsign_platform::db::{DbConfig, DbTls};
use gsign_tests::{local_parameters, root, stack_var, start_stack, unique, TestDatabase};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    format!(
        "n={} mean {:.3} ms, p50 {:.3} ms, p99 {:.3} ms",
        samples.len(),
        mean.as_secs_f64() * 1e3,
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    gsign_tests::bench::require_optimized("accounts");
    let db = TestDatabase::create().await;
    let all = gsign_platform::migrations::embedded()?;
    gsign_platform::migrations::up(&db.database(), &all, None).await?;
    let client = db.connect().await;
    let org: uuid::Uuid = client
        .query_one(
            "INSERT INTO organizations (name, slug) VALUES ('Bench', $1) RETURNING id",
            &[&format!("b-{}", unique())],
        )
        .await?
        .get(0);
    let email = format!("bench-{}@example.com", unique());
    let hash = credentials::hash_password(&SecretString::from("bench passphrase one".to_owned()))?;
    let user: uuid::Uuid = client
        .query_one("INSERT INTO users (organization_id, email, password_hash, role, email_verified_at) VALUES ($1, $2, $3, 'owner', now()) RETURNING id", &[&org, &email, &hash])
        .await?
        .get(0);
    let family = uuid::Uuid::new_v4();
    client
        .execute(
            "INSERT INTO user_sessions (user_id, organization_id, family_id, refresh_token_hash, expires_at) VALUES ($1, $2, $3, $4, now() + interval '1 day')",
            &[&user, &org, &family, &credentials::new_token().hash],
        )
        .await?;
    let key = credentials::new_api_key();
    client
        .execute(
            "INSERT INTO api_keys (organization_id, created_by, name, prefix, key_hash, role, scopes) VALUES ($1, $2, 'b', $3, $4, 'owner', ARRAY['organization:read'])",
            &[&org, &user, &key.prefix, &key.hash],
        )
        .await?;
    let signing_key = SecretString::from(stack_var("GSIGN_ACCESS_TOKEN_KEY"));
    let tokens = AccessTokens::new(&signing_key, "gsign", "gsign-api", 900)?;
    let now = chrono_now();
    let access = tokens.issue(
        &user.to_string(),
        &org.to_string(),
        "owner",
        &family.to_string(),
        now,
    )?;

    // 1. The authorizer in a warm container.
    let db_config = DbConfig {
        url: Some(SecretString::from(db.url.clone())),
        tls: DbTls::Disable,
        ca_file: None,
        pool_size: 2,
        connect_timeout: Duration::from_secs(3),
        shared: false,
        backend: gsign_platform::database::Backend::Postgres,
        data_api: None,
    };
    let cache_config = CacheConfig {
        url: SecretString::from(stack_var("REDIS_URL")),
        timeout: Duration::from_secs(1),
    };
    let authorizer = Authorizer::new(
        gsign_platform::db::pool(&db_config)?.into(),
        &cache_config,
        &signing_key,
        "gsign",
        "gsign-api",
    )?;
    for (label, credential) in [
        ("access token", access.as_str()),
        ("API key", key.key.expose_secret()),
    ] {
        for _ in 0..100 {
            authorizer
                .decide(credential)
                .await?
                .ok_or_else(|| anyhow::anyhow!("refused"))?;
        }
        let mut samples = Vec::with_capacity(3000);
        for _ in 0..3000 {
            let started = Instant::now();
            let decision = authorizer.decide(credential).await?;
            samples.push(started.elapsed());
            anyhow::ensure!(decision.is_some(), "refused");
        }
        println!("authorizer, {label:<12}: {}", summary(samples));
    }

    // 2 and 3 through the runner.
    let mut parameters: BTreeMap<String, String> = local_parameters();
    parameters.insert("DatabaseUrl".to_owned(), db.url.clone());
    for (name, value) in [
        ("RateLimitPerIp", "100000000"),
        ("RateLimitSensitivePerIp", "100000000"),
        ("RateLimitPerIdentifier", "100000000"),
    ] {
        parameters.insert(name.to_owned(), value.to_owned());
    }
    let stack = start_stack(
        &root().join("template.yaml"),
        &gsign_local::registry(),
        parameters,
    )
    .await;
    let http = reqwest::Client::new();
    let mut samples = Vec::new();
    for i in 0..41 {
        let started = Instant::now();
        let response = http
            .post(format!("{}/v1/auth/login", stack.url))
            .json(&json!({"email": email, "password": "bench passphrase one"}))
            .send()
            .await?;
        anyhow::ensure!(response.status() == 200, "login {}", response.status());
        if i > 0 {
            samples.push(started.elapsed());
        }
    }
    println!(
        "login (argon2id m=19456 KiB, t=2, p=1), via the runner: {}",
        summary(samples)
    );

    let clients = 16;
    let duration = Duration::from_secs(10);
    let deadline = Instant::now() + duration;
    let mut workers = Vec::new();
    for _ in 0..clients {
        let (http, url, token) = (http.clone(), format!("{}/v1/me", stack.url), access.clone());
        workers.push(tokio::spawn(async move {
            let mut done = 0u64;
            let mut errors = 0u64;
            while Instant::now() < deadline {
                match http.get(&url).bearer_auth(&token).send().await {
                    Ok(r) if r.status() == 200 => done += 1,
                    _ => errors += 1,
                }
            }
            (done, errors)
        }));
    }
    let (mut done, mut errors) = (0, 0);
    for worker in workers {
        let (d, e) = worker.await?;
        done += d;
        errors += e;
    }
    println!(
        "GET /v1/me via the runner, {clients} concurrent clients, {} s: {:.0} requests/s ({done} ok, {errors} errors)",
        duration.as_secs(),
        done as f64 / duration.as_secs_f64()
    );
    stack.stop().await;
    Ok(())
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}
