//! Stripe's API for tests.

/// Stripe's API answered from recorded responses (`tests/fixtures/stripe`), keeping every
/// request: localstripe, the stand-in from PyPI, has no Checkout or portal sessions.
pub struct RecordedStripe {
    /// Its base URL (`StripeApiBase`).
    pub url: String,
    /// Every request: path, `Authorization`, body.
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<(String, String, String)>>>,
    /// While set, every request answers Stripe's invalid-request error.
    pub fail: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl RecordedStripe {
    /// Serves on a free port.
    pub async fn start() -> Self {
        use axum::extract::State;
        use axum::http::{HeaderMap, StatusCode, Uri};
        type Shared = (
            std::sync::Arc<std::sync::Mutex<Vec<(String, String, String)>>>,
            std::sync::Arc<std::sync::atomic::AtomicBool>,
        );
        async fn answer(
            State((requests, fail)): State<Shared>,
            uri: Uri,
            headers: HeaderMap,
            body: String,
        ) -> (StatusCode, [(&'static str, &'static str); 1], String) {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            requests
                .lock()
                .expect("lock")
                .push((uri.path().to_owned(), auth, body));
            let fixture = |name: &str| {
                std::fs::read_to_string(crate::root().join("tests/fixtures/stripe").join(name))
                    .expect("fixture")
            };
            let json = [("content-type", "application/json")];
            if fail.load(std::sync::atomic::Ordering::SeqCst) {
                return (
                    StatusCode::BAD_REQUEST,
                    json,
                    fixture("error_invalid_request.json"),
                );
            }
            match uri.path() {
                "/v1/checkout/sessions" => (StatusCode::OK, json, fixture("checkout_session.json")),
                "/v1/billing_portal/sessions" => {
                    (StatusCode::OK, json, fixture("billing_portal_session.json"))
                }
                _ => (StatusCode::NOT_FOUND, json, "{}".to_owned()),
            }
        }
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let fail = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let app = axum::Router::new().fallback(answer).with_state((
            std::sync::Arc::clone(&requests),
            std::sync::Arc::clone(&fail),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url,
            requests,
            fail,
        }
    }
}
