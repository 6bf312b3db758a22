//! Does a sign-in or a password-reset request tell whether an address has an account? The
//! p50 of 200 failed sign-ins (and of 200 reset requests) for an address that has an account
//! and for one that does not, interleaved, through the runner (issue #18, item 10).
//!
//! Run: `cargo bench -p gsign-tests --bench enumeration` (local stack up). The known
//! account's failure counters are cleared between tries (outside the timing), so every try
//! takes the wrong-password path rather than the locked one.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use gsign_platform::credentials;
use gsign_tests::{local_parameters, root, start_stack, unique, TestDatabase};
use secrecy::SecretString;
use serde_json::json;

const TRIES: usize = 200;

fn p50(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    gsign_tests::bench::require_optimized("enumeration");
    let db = TestDatabase::migrated().await;
    let client = db.connect().await;
    let org: uuid::Uuid = client
        .query_one(
            "INSERT INTO organizations (name, slug) VALUES ('Bench', $1) RETURNING id",
            &[&format!("b-{}", unique())],
        )
        .await?
        .get(0);
    let known = format!("known-{}@example.com", unique());
    let hash = credentials::hash_password(&SecretString::from("bench passphrase one".to_owned()))?;
    client
        .execute(
            "INSERT INTO users (organization_id, email, password_hash, role, email_verified_at) VALUES ($1, $2, $3, 'owner', now())",
            &[&org, &known, &hash],
        )
        .await?;
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
    for (route, body, expected) in [
        (
            "/v1/auth/login",
            json!({"password": "not the passphrase"}),
            401,
        ),
        ("/v1/auth/password-reset", json!({}), 202),
    ] {
        let (mut with_account, mut without) = (Vec::new(), Vec::new());
        for i in 0..=TRIES {
            for has_account in [true, false] {
                let email = if has_account {
                    known.clone()
                } else {
                    format!("nobody-{}@example.com", unique())
                };
                let mut body = body.clone();
                body["email"] = json!(email);
                let started = Instant::now();
                let status = http
                    .post(format!("{}{route}", stack.url))
                    .json(&body)
                    .send()
                    .await?
                    .status();
                let took = started.elapsed();
                anyhow::ensure!(status.as_u16() == expected, "{route}: {status}");
                // The first round warms both paths up.
                if i > 0 {
                    if has_account {
                        with_account.push(took);
                    } else {
                        without.push(took);
                    }
                }
            }
            client
                .execute(
                    "UPDATE users SET failed_logins = 0, login_lockouts = 0, login_locked_until = NULL WHERE email = $1",
                    &[&known],
                )
                .await?;
        }
        let (a, b) = (p50(with_account), p50(without));
        println!(
            "{route}: p50 with an account {:.2} ms, without {:.2} ms, difference {:+.2} ms ({TRIES} tries each)",
            ms(a),
            ms(b),
            ms(a) - ms(b)
        );
    }
    stack.stop().await;
    Ok(())
}
