use std::collections::BTreeMap;
use std::time::Duration;

use gsign_tests::fixtures::{self, GOOD_TOKEN};
use gsign_tests::{eventually, root, start_stack, unique, TestStack};
use serde_json::Value;

async fn fixture_stack(sink: &str) -> TestStack {
    start_stack(
        &root().join("tests/fixtures/runner-template.yaml"),
        &fixtures::registry(),
        BTreeMap::from([("SinkId".to_owned(), sink.to_owned())]),
    )
    .await
}

async fn call(method: reqwest::Method, url: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(token) = token {
        request = request.header("authorization", token);
    }
    let response = request
        .body("hello")
        .send()
        .await
        .expect("the runner answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn routes_run_the_authorizer_and_pass_path_parameters_and_its_context() {
    let stack = fixture_stack(&unique()).await;
    let url = &stack.url;
    use reqwest::Method;

    let (status, body) = call(
        Method::GET,
        &format!("{url}/v1/things/42?x=1"),
        Some(GOOD_TOKEN),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["pathParameters"]["id"], "42");
    assert_eq!(body["query"]["x"], "1");
    assert_eq!(
        body["principal"], "tester",
        "authorizer context reaches the route"
    );

    // A literal route beats a parameter route.
    let (_, body) = call(
        Method::GET,
        &format!("{url}/v1/things/search"),
        Some(GOOD_TOKEN),
    )
    .await;
    assert_eq!(body["pathParameters"], serde_json::json!({}));

    // Greedy path with ANY method.
    let (status, body) = call(
        Method::DELETE,
        &format!("{url}/v1/files/a/b%20c.pdf"),
        Some(GOOD_TOKEN),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["pathParameters"]["path"], "a/b c.pdf");

    // No identity: 401 without calling the authorizer; wrong identity: 403.
    assert_eq!(
        call(Method::GET, &format!("{url}/v1/things/42"), None)
            .await
            .0,
        401
    );
    assert_eq!(
        call(
            Method::GET,
            &format!("{url}/v1/things/42"),
            Some("Bearer nope")
        )
        .await
        .0,
        403
    );

    // A route with `Auth: {Authorizer: NONE}` is public and gets the body.
    let (status, body) = call(Method::POST, &format!("{url}/v1/public"), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["body"], "hello");

    // Unknown path or method: the gateway's 404.
    assert_eq!(
        call(Method::GET, &format!("{url}/v1/nothing"), Some(GOOD_TOKEN))
            .await
            .0,
        404
    );
    assert_eq!(
        call(
            Method::PUT,
            &format!("{url}/v1/things/42"),
            Some(GOOD_TOKEN)
        )
        .await
        .0,
        404
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_message_that_always_fails_reaches_the_dlq_while_the_others_are_processed_once() {
    let sink = unique();
    let stack = fixture_stack(&sink).await;
    let sqs = aws_sdk_sqs::Client::new(&gsign_tests::sdk().await);
    let queue = |suffix: &str| {
        let name = format!("{}-{suffix}", stack.name);
        let sqs = sqs.clone();
        async move {
            sqs.get_queue_url()
                .queue_name(name)
                .send()
                .await
                .expect("queue exists")
                .queue_url()
                .expect("url")
                .to_owned()
        }
    };
    let (jobs, dlq) = (queue("jobs").await, queue("jobs-dlq").await);
    for body in ["ok-1", "poison", "ok-2", "ok-3"] {
        sqs.send_message()
            .queue_url(&jobs)
            .message_body(body)
            .send()
            .await
            .expect("send");
    }

    let dead = eventually(
        Duration::from_secs(30),
        "the poison message in the DLQ",
        || async {
            let received = sqs
                .receive_message()
                .queue_url(&dlq)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("receive from DLQ");
            received
                .messages()
                .first()
                .and_then(|m| m.body().map(str::to_owned))
        },
    )
    .await;
    assert_eq!(dead, "poison");

    let mut processed = fixtures::processed(&sink);
    processed.sort();
    assert_eq!(
        processed,
        ["ok-1", "ok-2", "ok-3"],
        "each good message exactly once"
    );

    // The runner keeps consuming after the poison message left.
    sqs.send_message()
        .queue_url(&jobs)
        .message_body("ok-4")
        .send()
        .await
        .expect("send");
    eventually(Duration::from_secs(10), "ok-4 processed", || async {
        fixtures::processed(&sink)
            .contains(&"ok-4".to_owned())
            .then_some(())
    })
    .await;
    stack.stop().await;
}

#[tokio::test]
async fn direct_invoke_reaches_invoke_handlers_and_reports_bad_events() {
    let stack = fixture_stack(&unique()).await;
    let client = reqwest::Client::new();
    let answer: Value = client
        .post(format!("{}/_local/invoke/test-authorize", stack.url))
        .json(&serde_json::json!({"identitySource": [GOOD_TOKEN]}))
        .send()
        .await
        .expect("invoke")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["isAuthorized"], true);
    let bad = client
        .post(format!("{}/_local/invoke/test-echo", stack.url))
        .body("not json")
        .send()
        .await
        .expect("invoke");
    assert_eq!(bad.status().as_u16(), 400);
    stack.stop().await;
}
