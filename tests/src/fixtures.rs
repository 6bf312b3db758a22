//! Fixture functions for the runner's own tests (`tests/fixtures/runner-template.yaml`): an
//! echo route, an authorizer that admits one token, and a queue consumer that refuses
//! messages whose body is `poison`. They run against the real moto SQS; only the functions
//! are test-made.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use gsign_core::Env;
use gsign_local::Registry;
use gsign_platform::lambda::{
    each_message, Function, FunctionSpec, Handler, HttpHandler, InitFuture, InvokeError,
    InvokeHandler, MessageOutcome, SqsHandler,
};
use lambda_http::{Body, Request, RequestExt, Response};

/// The token the fixture authorizer admits.
pub const GOOD_TOKEN: &str = "Bearer letmein";

static SINKS: Mutex<BTreeMap<String, Vec<String>>> = Mutex::new(BTreeMap::new());

/// The bodies the consumer of sink `id` processed successfully, in order.
pub fn processed(id: &str) -> Vec<String> {
    SINKS
        .lock()
        .map(|sinks| sinks.get(id).cloned().unwrap_or_default())
        .unwrap_or_default()
}

struct Echo;

#[async_trait]
impl HttpHandler for Echo {
    async fn handle(&self, req: Request) -> Response<Body> {
        let authorizer = req
            .request_context_ref()
            .and_then(|ctx| match ctx {
                lambda_http::request::RequestContext::ApiGatewayV2(ctx) => ctx.authorizer.clone(),
                _ => None,
            })
            .and_then(|a| a.fields.get("principal").cloned());
        let body = serde_json::json!({
            "method": req.method().as_str(),
            "path": req.uri().path(),
            "pathParameters": req.path_parameters().iter().collect::<BTreeMap<_, _>>(),
            "query": req.query_string_parameters().iter().collect::<BTreeMap<_, _>>(),
            "principal": authorizer,
            "body": String::from_utf8_lossy(req.body().as_ref()),
        });
        gsign_platform::http::json(http::StatusCode::OK, &body)
    }
}

struct Authorize;

#[async_trait]
impl InvokeHandler for Authorize {
    async fn handle(&self, event: serde_json::Value) -> Result<serde_json::Value, InvokeError> {
        let token = event["identitySource"][0].as_str().unwrap_or_default();
        Ok(serde_json::json!({
            "isAuthorized": token == GOOD_TOKEN,
            "context": {"principal": "tester"},
        }))
    }
}

struct Consumer {
    sink: String,
}

#[async_trait]
impl SqsHandler for Consumer {
    async fn handle(&self, event: SqsEvent) -> Result<SqsBatchResponse, InvokeError> {
        Ok(each_message(event, |message| async move {
            let body = message.body.unwrap_or_default();
            if body == "poison" {
                return MessageOutcome::Retry(anyhow::anyhow!("this message always fails"));
            }
            if let Ok(mut sinks) = SINKS.lock() {
                sinks.entry(self.sink.clone()).or_default().push(body);
            }
            MessageOutcome::Done
        })
        .await)
    }
}

fn echo(_: Env) -> InitFuture {
    Box::pin(async { Ok(Handler::Http(Arc::new(Echo))) })
}

fn authorize(_: Env) -> InitFuture {
    Box::pin(async { Ok(Handler::Invoke(Arc::new(Authorize))) })
}

fn consumer(env: Env) -> InitFuture {
    Box::pin(async move {
        let mut r = env.reader();
        let sink = r.required::<String>("SINK_ID");
        let sink = r.finish(|| sink)?;
        Ok(Handler::Sqs(Arc::new(Consumer { sink })))
    })
}

/// The fixture functions.
pub fn registry() -> Registry {
    Registry::new(
        [
            FunctionSpec {
                name: "test-echo",
                init: echo,
            },
            FunctionSpec {
                name: "test-authorize",
                init: authorize,
            },
            FunctionSpec {
                name: "test-consumer",
                init: consumer,
            },
        ]
        .map(Function::Job),
    )
}
