use std::time::Duration;

use gsign_tests::{
    eventually, local_parameters, root, stack_var, start_stack, start_stack_at, PrivateMoto,
    PrivateRedis, LOCAL_HEALTH_TOKEN,
};
use serde_json::{json, Value};

async fn health_as(url: &str, bearer: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().get(format!("{url}/v1/health"));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the runner answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

/// The operator's monitor's view: which dependency is down, with latencies.
async fn health(url: &str) -> (u16, Value) {
    health_as(url, Some(LOCAL_HEALTH_TOKEN)).await
}

fn down(body: &Value) -> Vec<&str> {
    body["down"]
        .as_array()
        .map(|d| d.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_started_stack_answers_healthy_with_every_dependency() {
    let (status, body) = health(&stack_var("GSIGN_URL")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    for dependency in ["postgres", "redis", "s3", "sqs", "kms", "dynamodb", "hsm"] {
        assert_eq!(
            body["checks"][dependency]["status"], "up",
            "{dependency}: {body}"
        );
        assert!(body["checks"][dependency]["latency_ms"].is_u64());
    }
    let (status, body) = health_as(&stack_var("GSIGN_URL"), None).await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));
}

#[tokio::test]
async fn health_names_redis_while_it_is_down_and_recovers_without_a_restart() {
    let mut redis = PrivateRedis::start();
    let mut parameters = local_parameters();
    parameters.insert("RedisUrl".to_owned(), redis.url());
    let stack = start_stack(
        &root().join("template.yaml"),
        &gsign_local::registry(),
        parameters,
    )
    .await;

    let (status, body) = health(&stack.url).await;
    assert_eq!(status, 200, "{body}");

    redis.stop();
    let body = eventually(Duration::from_secs(10), "503 naming redis", || async {
        let (status, body) = health(&stack.url).await;
        (status == 503).then_some(body)
    })
    .await;
    assert_eq!(down(&body), ["redis"], "only redis is down: {body}");
    assert_eq!(body["checks"]["redis"]["status"], "down");

    redis.resume();
    eventually(
        Duration::from_secs(15),
        "200 after redis returns",
        || async { (health(&stack.url).await.0 == 200).then_some(()) },
    )
    .await;
    stack.stop().await;
}

#[tokio::test]
async fn health_names_postgres_and_the_hsm_when_they_cannot_be_reached() {
    let mut parameters = local_parameters();
    let dead_port = gsign_tests::free_port();
    parameters.insert(
        "DatabaseUrl".to_owned(),
        format!("postgres://postgres@127.0.0.1:{dead_port}/gsign"),
    );
    parameters.insert("HsmTokenLabel".to_owned(), "no-such-token".to_owned());
    let stack = start_stack(
        &root().join("template.yaml"),
        &gsign_local::registry(),
        parameters,
    )
    .await;
    let (status, body) = health(&stack.url).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(down(&body), ["hsm", "postgres"], "{body}");
    // The reason is a category, never the error text.
    assert!(!body.to_string().contains(&dead_port.to_string()));
    // An API route that needs the database says to come back, not that it broke.
    let response = reqwest::Client::new()
        .post(format!("{}/v1/auth/login", stack.url))
        .json(&json!({"email": "someone@example.com", "password": "a long passphrase"}))
        .send()
        .await
        .expect("the runner answers");
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.headers().get("retry-after").is_some());
    let problem: Value = response.json().await.expect("problem");
    assert_eq!(
        problem["type"], "https://gsign.dev/problems/unavailable",
        "{problem}"
    );
    // Anyone else, or a wrong token, learns that something is down, not what.
    for bearer in [None, Some("gsign-local-health-guess"), Some("")] {
        let (status, body) = health_as(&stack.url, bearer).await;
        assert_eq!(
            (status, body),
            (503, json!({"status": "down"})),
            "{bearer:?}"
        );
    }
    stack.stop().await;
}

#[tokio::test]
async fn health_names_the_aws_services_while_moto_is_down_and_recovers_when_it_returns() {
    let mut moto = PrivateMoto::start();
    let stack = start_stack_at(
        &root().join("template.yaml"),
        &gsign_local::registry(),
        local_parameters(),
        &moto.url(),
    )
    .await;
    eventually(Duration::from_secs(10), "200 with a fresh moto", || async {
        (health(&stack.url).await.0 == 200).then_some(())
    })
    .await;

    moto.stop();
    let body = eventually(
        Duration::from_secs(10),
        "503 naming the AWS services",
        || async {
            let (status, body) = health(&stack.url).await;
            (status == 503).then_some(body)
        },
    )
    .await;
    assert_eq!(down(&body), ["dynamodb", "kms", "s3", "sqs"], "{body}");

    // A restarted moto is empty: the runner provisions the stack again by itself.
    moto.resume();
    eventually(
        Duration::from_secs(30),
        "200 after moto returns",
        || async { (health(&stack.url).await.0 == 200).then_some(()) },
    )
    .await;
    stack.stop().await;
}
