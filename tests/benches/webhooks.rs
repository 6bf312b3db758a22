//! Webhook figures through the local runner (every function in-process, moto SQS/DynamoDB/KMS,
//! Postgres), with a receiver on 127.0.0.1 answering 200 at once:
//!
//! - the time from a state change's commit (the event's timestamp, taken in its transaction)
//!   to the webhook's arrival at the receiver: median and p99 over 200 `webhook.test` events,
//!   one at a time;
//! - deliveries per second with 16 endpoints: 50 events, each fanned out to all 16 (800
//!   signed deliveries), from the first event queued to the last delivery received.
//!
//! Run: `cargo bench -p gsign-tests --bench webhooks` (local stack up).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use gsign_tests::{start_app, Tenant, TestDatabase, TestStack};
use serde_json::{json, Value};

const LATENCY_EVENTS: usize = 200;
const ENDPOINTS: usize = 16;
const FAN_OUT_EVENTS: usize = 50;

/// Arrival time and body of every request.
type Arrivals = Arc<Mutex<Vec<(chrono::DateTime<Utc>, Value)>>>;

async fn receiver() -> (String, Arrivals) {
    let arrivals: Arrivals = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&arrivals);
    let app = axum::Router::new().route(
        "/hook/{n}",
        axum::routing::post(move |body: String| {
            let seen = Arc::clone(&seen);
            async move {
                let at = Utc::now();
                let body = serde_json::from_str(&body).unwrap_or(Value::Null);
                seen.lock().expect("lock").push((at, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, arrivals)
}

async fn register(stack: &TestStack, owner: &Tenant, url: &str, types: Value) -> String {
    let (status, hook) = stack
        .call(
            owner,
            "POST",
            "/v1/webhooks",
            Some(json!({"url": url, "event_types": types})),
        )
        .await;
    assert_eq!(status, 201, "{hook}");
    hook["id"].as_str().expect("id").to_owned()
}

async fn wait_for(arrivals: &Arrivals, count: usize) {
    let started = Instant::now();
    while arrivals.lock().expect("lock").len() < count {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "deliveries stalled"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    gsign_tests::bench::require_optimized("webhooks");
    let db = TestDatabase::migrated().await;
    let stack = start_app(&db, &[("RateLimitPerIp", "1000000".to_owned())]).await;
    let owner = Tenant::create(&db, "owner").await;
    let (base, arrivals) = receiver().await;

    // Commit -> arrival, one event at a time.
    let hook = register(
        &stack,
        &owner,
        &format!("{base}/latency"),
        json!(["webhook.test"]),
    )
    .await;
    let mut latencies = Vec::with_capacity(LATENCY_EVENTS);
    for n in 0..=LATENCY_EVENTS {
        let (status, _) = stack
            .call(&owner, "POST", &format!("/v1/webhooks/{hook}/test"), None)
            .await;
        assert_eq!(status, 202);
        wait_for(&arrivals, n + 1).await;
        let (at, body) = arrivals.lock().expect("lock")[n].clone();
        let committed: chrono::DateTime<Utc> = body["timestamp"]
            .as_str()
            .expect("timestamp")
            .parse()
            .expect("time");
        // The first one warms the functions up.
        if n > 0 {
            latencies.push((at - committed).num_microseconds().unwrap_or(0) as f64 / 1000.0);
        }
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "commit -> webhook arrival over {LATENCY_EVENTS} events: median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    );

    // Fan-out throughput: every event to 16 endpoints.
    for n in 0..ENDPOINTS {
        register(
            &stack,
            &owner,
            &format!("{base}/{n}"),
            json!(["envelope.expired"]),
        )
        .await;
    }
    arrivals.lock().expect("lock").clear();
    let sqs = gsign_platform::aws::sqs(&gsign_tests::sdk().await);
    let queue = sqs
        .get_queue_url()
        .queue_name(format!("{}-webhook-events", stack.name))
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("url");
    let started = Instant::now();
    for _ in 0..FAN_OUT_EVENTS {
        let event = gsign_core::webhooks::Event {
            id: uuid::Uuid::now_v7(),
            event_type: gsign_core::webhooks::EventType::EnvelopeExpired,
            timestamp: Utc::now(),
            data: json!({"envelope_id": uuid::Uuid::new_v4(), "status": "expired"}),
        };
        let message = gsign_platform::outbox::Message {
            id: uuid::Uuid::new_v4(),
            kind: gsign_platform::outbox::Kind::Webhook,
            organization_id: Some(owner.org),
            payload: serde_json::to_value(&event).expect("event"),
            created_at: Utc::now(),
        };
        sqs.send_message()
            .queue_url(&queue)
            .message_body(serde_json::to_string(&message).expect("json"))
            .send()
            .await
            .expect("queued");
    }
    let total = ENDPOINTS * FAN_OUT_EVENTS;
    wait_for(&arrivals, total).await;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{total} deliveries ({FAN_OUT_EVENTS} events x {ENDPOINTS} endpoints): {elapsed:.2} s = {:.0} deliveries/s",
        total as f64 / elapsed
    );
    stack.stop().await;
}
