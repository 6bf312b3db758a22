//! The local runner: one process that serves every `HttpApi` route of `template.yaml` (with
//! its Lambda authorizer), drives every SQS event source (long polling, batch size, partial
//! batch failures, so poison messages reach the dead-letter queue through the queue's own
//! redrive policy) and fires every schedule, by calling in-process the very same `init` and
//! handlers the Lambda binaries run. Each function gets the environment the template declares
//! for it, evaluated against the locally provisioned resources.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use axum::extract::{ConnectInfo, Path as AxumPath, State};
use axum::response::IntoResponse;
use base64::Engine as _;
use bytes::Bytes;
use chrono::Utc;
use gsign_core::Env;
use gsign_platform::lambda::{Function, Handler, InvokeError};
use http::{HeaderMap, Method, StatusCode};
use serde_json::{json, Map, Value};
use tokio::sync::{watch, OnceCell};
use tracing::Instrument;

use crate::provision::{self, LocalAws, Provisioned};
use crate::schedule::ScheduleExpr;
use crate::template::{AuthorizerDef, EventDef, Resolver, Template, LOCAL_ACCOUNT};

/// API Gateway HTTP APIs refuse payloads over 10 MB.
const MAX_PAYLOAD: usize = 10 * 1024 * 1024;

/// The functions this build can run, by name (each function's `Handler`).
#[derive(Clone, Default)]
pub struct Registry {
    specs: BTreeMap<&'static str, Function>,
}

impl Registry {
    /// A registry of `specs`.
    pub fn new(specs: impl IntoIterator<Item = Function>) -> Self {
        Self {
            specs: specs.into_iter().map(|s| (s.name(), s)).collect(),
        }
    }

    /// The spec of the function `name`.
    pub fn get(&self, name: &str) -> Option<Function> {
        self.specs.get(name).copied()
    }

    /// Every function's name.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.specs.keys().copied()
    }
}

/// How to run the stack.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// Path of `template.yaml`.
    pub template_path: PathBuf,
    /// Stack name (prefix of every physical name).
    pub stack_name: String,
    /// Region the functions see.
    pub region: String,
    /// Parameter overrides (like `sam deploy --parameter-overrides`).
    pub parameters: BTreeMap<String, String>,
    /// Variables every function gets in addition to the template's (endpoint, credentials,
    /// log level, `SOFTHSM2_CONF`), as Lambda adds its own.
    pub base_env: Env,
    /// SQS long-poll wait (seconds).
    pub sqs_wait_seconds: i32,
    /// The built web app (`web/dist`) to serve at `/`, as CloudFront does in AWS.
    pub web_dist: Option<PathBuf>,
}

/// The variables Lambda (or the deployment) gives every function besides the template's:
/// the AWS endpoint, region and credentials, the log level, and `SOFTHSM2_CONF`; and the
/// shared database pool of a process that serves every function.
pub fn base_env(process: &Env) -> Env {
    let passed: Vec<(String, String)> = process
        .names()
        .filter(|name| {
            (name.starts_with("AWS_") && !name.starts_with("AWS_LAMBDA_"))
                || [
                    "RUST_LOG",
                    "GSIGN_LOG_FORMAT",
                    "SOFTHSM2_CONF",
                    // Where the data-api backend's statements go locally (the runner's own
                    // /_local/rds-data); unset, and unused, with the postgres backend.
                    "DATABASE_DATA_API_ENDPOINT_URL",
                ]
                .contains(name)
        })
        .filter_map(|name| process.get(name).map(|v| (name.to_owned(), v.to_owned())))
        .chain([
            // Every function runs in this one process: they share one pool per database
            // rather than holding up to four connections each (80 functions would exhaust a
            // default Postgres). Connections open as needed; 40 carries the benchmarks' 20
            // envelopes in flight, which 20 did not (requests timed out waiting for one).
            ("DATABASE_SHARED_POOL".to_owned(), "true".to_owned()),
            ("DATABASE_POOL_SIZE".to_owned(), "40".to_owned()),
        ])
        .collect();
    Env::from_pairs(passed)
}

/// One function of the stack, initialised on first use like a Lambda cold start.
pub struct LocalFunction {
    /// Logical id in the template.
    pub logical_id: String,
    /// Its `Handler`: the function's name (the key into the registry and `events/`).
    pub handler: String,
    /// The area binary that serves it in AWS (`Metadata.BuildProperties.Binary`).
    pub binary: String,
    /// Physical function name.
    pub name: String,
    /// The environment the template gives it (plus the base environment).
    pub env: Env,
    spec: Function,
    started: OnceCell<Handler>,
}

impl LocalFunction {
    /// A dotenv file of what the template gives this function on this stack, plus
    /// `GSIGN_FUNCTION` naming it, for running its area binary outside the runner
    /// (`cargo lambda watch --env-file`, where no `Handler` says which function to be).
    pub fn dotenv(&self) -> String {
        let mut text = String::new();
        let names = self
            .env
            .names()
            .filter(|name| !matches!(*name, "AWS_LAMBDA_FUNCTION_NAME" | "GSIGN_FUNCTION"));
        for name in names {
            let value = self.env.get(name).unwrap_or_default();
            let quoted = value.replace('\\', "\\\\").replace('"', "\\\"");
            text.push_str(&format!("{name}=\"{quoted}\"\n"));
        }
        text.push_str(&format!("GSIGN_FUNCTION=\"{}\"\n", self.handler));
        text
    }

    /// The handler, running `init` on first use; a failed init is retried on the next call,
    /// as Lambda retries a failed cold start on the next invocation.
    pub async fn handler(&self) -> anyhow::Result<Handler> {
        self.started
            .get_or_try_init(|| async {
                self.spec
                    .init(self.env.clone())
                    .await
                    .map_err(|e| anyhow!("{} cold start failed: {e}", self.handler))
            })
            .await
            .cloned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    Greedy(String),
}

struct Route {
    method: String,
    route_key: String,
    segments: Option<Vec<Segment>>, // None = $default
    function: Arc<LocalFunction>,
    authorizer: Option<(AuthorizerDef, Arc<LocalFunction>)>,
}

struct SqsSource {
    function: Arc<LocalFunction>,
    queue_url: String,
    queue_arn: String,
    batch_size: i32,
    report_batch_item_failures: bool,
    /// Pollers running batches at once (the event source's maximum concurrency).
    concurrency: usize,
}

struct ScheduleSource {
    function: Arc<LocalFunction>,
    rule: String,
    expression: ScheduleExpr,
    input: Option<Value>,
}

/// A provisioned, ready-to-serve local stack.
pub struct LocalStack {
    config: StackConfig,
    functions: BTreeMap<String, Arc<LocalFunction>>,
    routes: Vec<Route>,
    sqs_sources: Vec<SqsSource>,
    schedules: Vec<ScheduleSource>,
    aws: LocalAws,
    template: Template,
    resolver: tokio::sync::Mutex<Resolver>,
    provisioned: std::sync::Mutex<Vec<Provisioned>>,
    web: Option<axum::Router>,
}

fn parse_path(path: &str) -> Vec<Segment> {
    path.trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => match name.strip_suffix('+') {
                    Some(greedy) => Segment::Greedy(greedy.to_owned()),
                    None => Segment::Param(name.to_owned()),
                },
                None => Segment::Literal(s.to_owned()),
            },
        )
        .collect()
}

/// Matches `path` against `segments`; returns the path parameters and a specificity score
/// (literal beats parameter beats greedy, segment by segment, as API Gateway chooses).
fn match_segments(segments: &[Segment], path: &str) -> Option<(BTreeMap<String, String>, Vec<u8>)> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let parts: Vec<&str> = if parts == [""] { Vec::new() } else { parts };
    let mut params = BTreeMap::new();
    let mut score = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        match segment {
            Segment::Literal(lit) => {
                if parts.get(i) != Some(&lit.as_str()) {
                    return None;
                }
                score.push(3);
            }
            Segment::Param(name) => {
                let part = parts.get(i).filter(|p| !p.is_empty())?;
                params.insert(name.clone(), decode(part));
                score.push(2);
            }
            Segment::Greedy(name) => {
                let rest = parts.get(i..).filter(|r| !r.is_empty())?;
                params.insert(name.clone(), decode(&rest.join("/")));
                score.push(1);
                return Some((params, score));
            }
        }
    }
    (parts.len() == segments.len()).then_some((params, score))
}

fn decode(part: &str) -> String {
    percent_encoding::percent_decode_str(part)
        .decode_utf8_lossy()
        .into_owned()
}

impl LocalStack {
    /// Provisions the template's resources and prepares every function and trigger.
    pub async fn build(
        config: StackConfig,
        registry: &Registry,
        sdk: &aws_config::SdkConfig,
    ) -> anyhow::Result<Self> {
        let template = Template::load(&config.template_path)?;
        let mut resolver = Resolver::new(
            &template,
            &config.stack_name,
            &config.region,
            &config.parameters,
        )?;
        let aws = LocalAws::new(sdk);
        let provisioned = provision::provision(&template, &mut resolver, &aws)
            .await
            .context("provisioning the local stack")?;

        let mut functions = BTreeMap::new();
        let defs = template.functions()?;
        for def in &defs {
            let spec = registry.get(&def.handler).ok_or_else(|| {
                anyhow!(
                    "{} (binary {}) is in the template but not in the runner's registry",
                    def.logical_id,
                    def.handler
                )
            })?;
            let mut env = config.base_env.clone();
            for (name, value) in &def.environment {
                let value = resolver.eval(value)?;
                if !value.is_null() {
                    env = env.with(name.clone(), resolver.eval_string(&value)?);
                }
            }
            let name = resolver.physical[&def.logical_id].reference.clone();
            env = env
                .with("AWS_LAMBDA_FUNCTION_NAME", name.clone())
                .with("AWS_REGION", config.region.clone());
            functions.insert(
                def.logical_id.clone(),
                Arc::new(LocalFunction {
                    logical_id: def.logical_id.clone(),
                    handler: def.handler.clone(),
                    binary: def.binary.clone(),
                    name,
                    env,
                    spec,
                    started: OnceCell::new(),
                }),
            );
        }

        let auth = template.http_api_auth()?;
        let mut routes = Vec::new();
        let mut sqs_sources = Vec::new();
        let mut schedules = Vec::new();
        for def in &defs {
            let function = Arc::clone(&functions[&def.logical_id]);
            for event in &def.events {
                match event {
                    EventDef::Http {
                        method,
                        path,
                        authorizer,
                        ..
                    } => {
                        let name = authorizer
                            .clone()
                            .or_else(|| auth.default_authorizer.clone());
                        let authorizer = match name.as_deref() {
                            None | Some("NONE") => None,
                            Some(name) => {
                                let def = auth.authorizers.get(name).ok_or_else(|| {
                                    anyhow!("{method} {path}: authorizer {name} is not declared")
                                })?;
                                let function =
                                    functions.get(&def.function_logical_id).ok_or_else(|| {
                                        anyhow!(
                                            "authorizer {name}: {} is not a function",
                                            def.function_logical_id
                                        )
                                    })?;
                                Some((def.clone(), Arc::clone(function)))
                            }
                        };
                        routes.push(Route {
                            route_key: if path == "$default" {
                                "$default".to_owned()
                            } else {
                                format!("{method} {path}")
                            },
                            method: method.clone(),
                            segments: (path != "$default").then(|| parse_path(path)),
                            function: Arc::clone(&function),
                            authorizer,
                        });
                    }
                    EventDef::Sqs {
                        queue,
                        batch_size,
                        report_batch_item_failures,
                        maximum_concurrency,
                        ..
                    } => {
                        let queue_arn = resolver.eval_string(queue)?;
                        let queue_url = resolver
                            .physical
                            .values()
                            .find(|p| p.attributes.get("Arn") == Some(&queue_arn))
                            .map(|p| p.reference.clone())
                            .ok_or_else(|| {
                                anyhow!(
                                    "{}: queue {queue_arn} is not in the template",
                                    def.logical_id
                                )
                            })?;
                        sqs_sources.push(SqsSource {
                            function: Arc::clone(&function),
                            queue_url,
                            queue_arn,
                            batch_size: *batch_size,
                            report_batch_item_failures: *report_batch_item_failures,
                            concurrency: *maximum_concurrency,
                        });
                    }
                    EventDef::Schedule {
                        name,
                        expression,
                        input,
                        enabled,
                    } => {
                        let parsed: ScheduleExpr = expression
                            .parse()
                            .map_err(|e| anyhow!("{}.{name}: {e}", def.logical_id))?;
                        let input = input
                            .as_deref()
                            .map(serde_json::from_str)
                            .transpose()
                            .with_context(|| {
                                format!("{}.{name}: Input is not JSON", def.logical_id)
                            })?;
                        if *enabled {
                            schedules.push(ScheduleSource {
                                function: Arc::clone(&function),
                                rule: format!("{}-{}-{name}", config.stack_name, def.logical_id),
                                expression: parsed,
                                input,
                            });
                        }
                    }
                }
            }
        }
        // The short-lived PDF links point at the local S3 (moto): the pages may fetch from it.
        let web = match &config.web_dist {
            Some(dist) => {
                let s3_origins: Vec<String> = config
                    .base_env
                    .get("AWS_ENDPOINT_URL")
                    .and_then(|endpoint| url::Url::parse(endpoint).ok())
                    .map(|endpoint| endpoint.origin().ascii_serialization())
                    .into_iter()
                    .collect();
                Some(crate::web::router(dist, &s3_origins)?)
            }
            None => None,
        };
        Ok(Self {
            web,
            config,
            functions,
            routes,
            sqs_sources,
            schedules,
            aws,
            template,
            resolver: tokio::sync::Mutex::new(resolver),
            provisioned: std::sync::Mutex::new(provisioned),
        })
    }

    /// Deletes what provisioning created (queues, buckets, tables, key aliases), so a test stack
    /// leaves nothing behind in the shared moto server.
    pub async fn teardown(&self) -> anyhow::Result<()> {
        provision::teardown(&self.provisioned(), &self.aws).await
    }

    /// What provisioning created or found (the latest provisioning).
    pub fn provisioned(&self) -> Vec<Provisioned> {
        self.provisioned
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default()
    }

    /// Provisions again if moto answers but has lost the stack (moto keeps its state in
    /// memory, so a restarted moto is empty). Returns whether it re-provisioned. Names are
    /// derived from the stack name and functions reference KMS keys by alias, so the
    /// functions' environment stays valid.
    pub async fn reprovision_if_lost(&self) -> anyhow::Result<bool> {
        let Some(sentinel) = self
            .provisioned()
            .into_iter()
            .find(|p| p.resource_type == "AWS::SQS::Queue")
        else {
            return Ok(false);
        };
        let name = sentinel.physical.rsplit('/').next().unwrap_or_default();
        match self.aws.sqs.get_queue_url().queue_name(name).send().await {
            Ok(_) => Ok(false),
            Err(err) => {
                let lost = err
                    .as_service_error()
                    .is_some_and(|e| e.is_queue_does_not_exist());
                if !lost {
                    // moto is down (or unreachable): nothing to do until it answers.
                    return Ok(false);
                }
                let mut resolver = self.resolver.lock().await;
                let provisioned =
                    provision::provision(&self.template, &mut resolver, &self.aws).await?;
                if let Ok(mut current) = self.provisioned.lock() {
                    *current = provisioned;
                }
                tracing::warn!("moto had lost the stack (restarted?): provisioned it again");
                Ok(true)
            }
        }
    }

    /// A function by name (its `Handler`), logical id or physical name.
    pub fn function(&self, name: &str) -> Option<&Arc<LocalFunction>> {
        self.functions
            .values()
            .find(|f| f.handler == name || f.logical_id == name || f.name == name)
    }

    /// Every function.
    pub fn functions(&self) -> impl Iterator<Item = &Arc<LocalFunction>> {
        self.functions.values()
    }

    /// Invokes `function` with a raw event, as `cargo lambda invoke` would: an API Gateway v2
    /// event for HTTP functions (the answer is the API Gateway response), an SQS event for
    /// queue consumers (the answer is the batch response), any JSON otherwise.
    pub async fn invoke(&self, function: &str, event: Value) -> anyhow::Result<Value> {
        let function = self
            .function(function)
            .ok_or_else(|| anyhow!("no function {function} in the template"))?;
        let span = tracing::info_span!("invoke", requestId = %uuid::Uuid::new_v4(), function = %function.handler);
        async {
            match function.handler().await? {
                Handler::Http(h) => {
                    let request = lambda_http::request::from_str(&event.to_string())
                        .context("the event is not an API Gateway request")?;
                    let response = isolate(async move { h.handle(request).await }).await?;
                    Ok(gateway_response_json(response))
                }
                Handler::Sqs(h) => {
                    let event: SqsEvent =
                        serde_json::from_value(event).context("the event is not an SQS event")?;
                    let response = isolate(async move { h.handle(event).await })
                        .await?
                        .map_err(FunctionFailed::from)?;
                    Ok(serde_json::to_value(response)?)
                }
                Handler::Invoke(h) => isolate(async move { h.handle(event).await })
                    .await?
                    .map_err(|e| FunctionFailed::from(e).into()),
            }
        }
        .instrument(span)
        .await
    }

    fn match_route(
        &self,
        method: &Method,
        path: &str,
    ) -> Option<(&Route, BTreeMap<String, String>)> {
        self.routes
            .iter()
            .filter_map(|route| {
                let method_rank: u8 = if route.method == method.as_str() {
                    1
                } else if route.method == "ANY" {
                    0
                } else {
                    return None;
                };
                let (params, score) = match &route.segments {
                    Some(segments) => match_segments(segments, path)?,
                    None => (BTreeMap::new(), Vec::new()),
                };
                // Any real route beats `$default`; then the most literal path; then an exact
                // method over ANY.
                let rank = (route.segments.is_some(), score, method_rank);
                Some((rank, route, params))
            })
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, route, params)| (route, params))
    }
}

/// Runs `work` on its own task so a panicking handler fails this invocation only.
async fn isolate<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> anyhow::Result<T> {
    use tracing::Instrument as _;
    // The task keeps the caller's span: the function's log lines carry the request id, as
    // they do in Lambda.
    tokio::spawn(work.instrument(tracing::Span::current()))
        .await
        .map_err(|e| anyhow!("the handler panicked or was cancelled: {e}"))
}

fn body_bytes(body: lambda_http::Body) -> Vec<u8> {
    match body {
        lambda_http::Body::Empty => Vec::new(),
        lambda_http::Body::Text(text) => text.into_bytes(),
        lambda_http::Body::Binary(bytes) => bytes,
        _ => Vec::new(),
    }
}

fn gateway_response_json(response: http::Response<lambda_http::Body>) -> Value {
    let (parts, body) = response.into_parts();
    let bytes = body_bytes(body);
    let mut headers = Map::new();
    for (name, value) in &parts.headers {
        headers.insert(
            name.as_str().to_owned(),
            Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned()),
        );
    }
    let (body, encoded) = match String::from_utf8(bytes) {
        Ok(text) => (text, false),
        Err(err) => (
            base64::engine::general_purpose::STANDARD.encode(err.as_bytes()),
            true,
        ),
    };
    json!({
        "statusCode": parts.status.as_u16(),
        "headers": headers,
        "body": body,
        "isBase64Encoded": encoded,
    })
}

/// API Gateway's own error bodies (not problem+json: these come from the gateway, not us).
fn gateway_error(status: StatusCode, message: &str, request_id: &str) -> axum::response::Response {
    let mut response = (status, axum::Json(json!({ "message": message }))).into_response();
    if let Ok(value) = http::HeaderValue::from_str(request_id) {
        response.headers_mut().insert("apigw-requestid", value);
    }
    response
}

struct ApiEvent {
    event: Value,
    request_id: String,
}

fn api_event(
    method: &Method,
    uri: &http::Uri,
    headers: &HeaderMap,
    body: &Bytes,
    source: SocketAddr,
    route: &Route,
    params: &BTreeMap<String, String>,
) -> ApiEvent {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut header_map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == http::header::COOKIE {
            cookies.extend(value.split(';').map(|c| c.trim().to_owned()));
        } else {
            header_map
                .entry(name.as_str().to_owned())
                .or_default()
                .push(value);
        }
    }
    let headers_json: Map<String, Value> = header_map
        .into_iter()
        .map(|(k, v)| (k, Value::String(v.join(","))))
        .collect();
    let raw_query = uri.query().unwrap_or("");
    let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        query
            .entry(k.into_owned())
            .or_default()
            .push(v.into_owned());
    }
    let query_json: Map<String, Value> = query
        .into_iter()
        .map(|(k, v)| (k, Value::String(v.join(","))))
        .collect();
    let (body, is_base64) = match std::str::from_utf8(body) {
        Ok(text) => (Value::String(text.to_owned()), false),
        Err(_) => (
            Value::String(base64::engine::general_purpose::STANDARD.encode(body)),
            true,
        ),
    };
    let now = Utc::now();
    let user_agent = headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let host = headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    let mut event = json!({
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": uri.path(),
        "rawQueryString": raw_query,
        "headers": headers_json,
        "requestContext": {
            "accountId": LOCAL_ACCOUNT,
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or(host),
            "http": {
                "method": method.as_str(),
                "path": uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": source.ip().to_string(),
                "userAgent": user_agent,
            },
            "requestId": request_id,
            "routeKey": route.route_key,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "isBase64Encoded": is_base64,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !query_json.is_empty() {
        event["queryStringParameters"] = Value::Object(query_json);
    }
    if !params.is_empty() {
        event["pathParameters"] = json!(params);
    }
    if !body.as_str().is_some_and(str::is_empty) {
        event["body"] = body;
    }
    ApiEvent { event, request_id }
}

enum Denied {
    Unauthorized,
    Forbidden,
    Failed(anyhow::Error),
}

/// Runs the route's Lambda authorizer (payload 2.0) and returns its context.
async fn authorize(
    def: &AuthorizerDef,
    function: &LocalFunction,
    api_event: &Value,
    method: &Method,
    path: &str,
) -> Result<Value, Denied> {
    let headers = &api_event["headers"];
    let mut identity = Vec::new();
    for name in &def.identity_headers {
        match headers[name.as_str()].as_str().filter(|v| !v.is_empty()) {
            Some(value) => identity.push(Value::String(value.to_owned())),
            // API Gateway answers 401 without calling the authorizer.
            None => return Err(Denied::Unauthorized),
        }
    }
    let mut event = api_event.clone();
    if let Some(map) = event.as_object_mut() {
        map.remove("body");
        map.remove("isBase64Encoded");
        map.insert("type".to_owned(), json!("REQUEST"));
        map.insert("identitySource".to_owned(), Value::Array(identity));
        map.insert(
            "routeArn".to_owned(),
            json!(format!(
                "arn:aws:execute-api:local:{LOCAL_ACCOUNT}:local/$default/{method}{path}"
            )),
        );
    }
    let handler = function.handler().await.map_err(Denied::Failed)?;
    let Handler::Invoke(h) = handler else {
        return Err(Denied::Failed(anyhow!(
            "authorizer {} is not an invoke handler",
            function.handler
        )));
    };
    let answer = isolate(async move { h.handle(event).await })
        .await
        .map_err(Denied::Failed)?
        .map_err(|e| Denied::Failed(FunctionFailed::from(e).into()))?;
    let allowed = if def.simple_responses {
        answer["isAuthorized"].as_bool() == Some(true)
    } else {
        let statements = &answer["policyDocument"]["Statement"];
        statements
            .as_array()
            .is_some_and(|s| s.iter().all(|st| st["Effect"] == "Allow") && !s.is_empty())
    };
    if allowed {
        Ok(answer.get("context").cloned().unwrap_or_else(|| json!({})))
    } else {
        Err(Denied::Forbidden)
    }
}

async fn dispatch(
    State(stack): State<Arc<LocalStack>>,
    ConnectInfo(source): ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
) -> axum::response::Response {
    // What no route of the template serves is the web app's (as CloudFront's default
    // behaviour is), except under /v1/, which stays the API's (its own 404s).
    if let Some(web) = stack.web.as_ref() {
        let path = request.uri().path();
        if !path.starts_with("/v1/") && stack.match_route(request.method(), path).is_none() {
            use tower::ServiceExt as _;
            return match web.clone().oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
        }
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_PAYLOAD).await else {
        return gateway_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request Entity Too Large",
            "",
        );
    };
    let Some((route, params)) = stack.match_route(&parts.method, parts.uri.path()) else {
        return gateway_error(StatusCode::NOT_FOUND, "Not Found", "");
    };
    let ApiEvent {
        mut event,
        request_id,
    } = api_event(
        &parts.method,
        &parts.uri,
        &parts.headers,
        &body,
        source,
        route,
        &params,
    );
    let span = tracing::info_span!(
        "request",
        requestId = %request_id,
        function = %route.function.handler,
        route = %route.route_key,
    );
    async {
        if let Some((def, authorizer)) = &route.authorizer {
            match authorize(def, authorizer, &event, &parts.method, parts.uri.path()).await {
                Ok(context) => event["requestContext"]["authorizer"] = json!({ "lambda": context }),
                Err(Denied::Unauthorized) => {
                    return gateway_error(StatusCode::UNAUTHORIZED, "Unauthorized", &request_id)
                }
                Err(Denied::Forbidden) => {
                    return gateway_error(StatusCode::FORBIDDEN, "Forbidden", &request_id)
                }
                Err(Denied::Failed(err)) => {
                    tracing::error!(error = format!("{err:#}"), "authorizer failed");
                    return gateway_error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Internal Server Error",
                        &request_id,
                    );
                }
            }
        }
        let handler = match route.function.handler().await {
            Ok(Handler::Http(h)) => h,
            Ok(_) => {
                tracing::error!("route target is not an HTTP handler");
                return gateway_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal Server Error",
                    &request_id,
                );
            }
            Err(err) => {
                tracing::error!(error = format!("{err:#}"), "function failed to start");
                return gateway_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal Server Error",
                    &request_id,
                );
            }
        };
        let request = match lambda_http::request::from_str(&event.to_string()) {
            Ok(request) => request,
            Err(err) => {
                tracing::error!(error = %err, "could not build the Lambda request");
                return gateway_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal Server Error",
                    &request_id,
                );
            }
        };
        let started = std::time::Instant::now();
        let answer = isolate(async move { handler.handle(request).await }).await;
        // What CloudWatch would get from the function's log (a panic is API Gateway's 500).
        gsign_platform::telemetry::request_metrics(
            &route.function.handler,
            route.function.env.get("GSIGN_AREA").unwrap_or_default(),
            answer
                .as_ref()
                .map_or(500, |response| response.status().as_u16()),
            started.elapsed().as_secs_f64() * 1000.0,
        );
        match answer {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                if let Ok(value) = http::HeaderValue::from_str(&request_id) {
                    parts.headers.insert("apigw-requestid", value);
                }
                axum::response::Response::from_parts(
                    parts,
                    axum::body::Body::from(body_bytes(body)),
                )
            }
            Err(err) => {
                tracing::error!(error = format!("{err:#}"), "handler failed");
                gateway_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal Server Error",
                    &request_id,
                )
            }
        }
    }
    .instrument(span)
    .await
}

/// `/pki/*`: what CloudFront's `/pki/*` behaviour serves in AWS (infra/aws/web.yaml), the
/// objects of the template's `PkiBucket` under `pki/` (the organization CAs' CRLs, which
/// every certificate they issue names as its distribution point).
async fn pki_object(
    State(stack): State<Arc<LocalStack>>,
    AxumPath(key): AxumPath<String>,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let bucket = stack
        .provisioned()
        .into_iter()
        .find(|p| p.logical_id == "PkiBucket")
        .map(|p| p.physical);
    let Some(bucket) = bucket else {
        return (StatusCode::NOT_FOUND, "no PkiBucket in the template").into_response();
    };
    let object = stack
        .aws
        .s3
        .get_object()
        .bucket(&bucket)
        .key(format!("pki/{key}"))
        .send()
        .await;
    let Ok(object) = object else {
        return (StatusCode::NOT_FOUND, "no such object").into_response();
    };
    let content_type = object
        .content_type()
        .unwrap_or("application/octet-stream")
        .to_owned();
    let cache_control = object.cache_control().map(str::to_owned);
    match object.body.collect().await {
        Ok(bytes) => {
            let mut response = (
                StatusCode::OK,
                [(http::header::CONTENT_TYPE, content_type)],
                bytes.into_bytes(),
            )
                .into_response();
            if let Some(value) = cache_control.and_then(|v| v.parse().ok()) {
                response
                    .headers_mut()
                    .insert(http::header::CACHE_CONTROL, value);
            }
            response
        }
        Err(err) => (
            StatusCode::BAD_GATEWAY,
            format!("reading the object: {err}"),
        )
            .into_response(),
    }
}

async fn invoke_route(
    State(stack): State<Arc<LocalStack>>,
    AxumPath(function): AxumPath<String>,
    body: Bytes,
) -> axum::response::Response {
    let event: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(event) => event,
            Err(err) => {
                return (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({ "errorMessage": format!("event is not JSON: {err}") })),
                )
                    .into_response()
            }
        }
    };
    match stack.invoke(&function, event).await {
        Ok(result) => axum::Json(result).into_response(),
        // The function failed: Lambda's error shape, with its `errorType`.
        Err(err) => match err.downcast_ref::<FunctionFailed>() {
            Some(failed) => (
                StatusCode::OK,
                [("x-amz-function-error", "Unhandled")],
                axum::Json(json!({
                    "errorType": failed.error_type,
                    "errorMessage": failed.message,
                })),
            )
                .into_response(),
            None => (
                StatusCode::BAD_GATEWAY,
                axum::Json(json!({ "errorMessage": format!("{err:#}") })),
            )
                .into_response(),
        },
    }
}

/// A function's own failed invocation (not the runner's), as Lambda reports it: `errorType`
/// says whether retrying can help.
#[derive(Debug, thiserror::Error)]
#[error("{error_type}: {message}")]
struct FunctionFailed {
    error_type: String,
    message: String,
}

impl From<InvokeError> for FunctionFailed {
    fn from(err: InvokeError) -> Self {
        Self {
            error_type: err.kind().error_type().to_owned(),
            message: format!("{:#}", err.error()),
        }
    }
}

fn sqs_event(
    messages: &[aws_sdk_sqs::types::Message],
    source: &SqsSource,
    region: &str,
) -> anyhow::Result<SqsEvent> {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: Map<String, Value> = m
                .attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.as_str().to_owned(), Value::String(v.clone())))
                        .collect()
                })
                .unwrap_or_default();
            let message_attributes: Map<String, Value> = m
                .message_attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                json!({
                                    "stringValue": v.string_value(),
                                    "dataType": v.data_type(),
                                    "stringListValues": [],
                                    "binaryListValues": [],
                                }),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "md5OfBody": m.md5_of_body(),
                "md5OfMessageAttributes": m.md5_of_message_attributes(),
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "eventSource": "aws:sqs",
                "eventSourceARN": source.queue_arn,
                "awsRegion": region,
            })
        })
        .collect();
    Ok(serde_json::from_value(json!({ "Records": records }))?)
}

/// Which messages of a batch to delete, given the invocation's outcome.
fn messages_to_delete(
    ids: &[String],
    outcome: &anyhow::Result<SqsBatchResponse>,
    report_batch_item_failures: bool,
) -> Vec<String> {
    match outcome {
        // A failed invocation: the whole batch becomes visible again.
        Err(_) => Vec::new(),
        Ok(_) if !report_batch_item_failures => ids.to_vec(),
        Ok(response) => {
            let failed: Vec<&str> = response
                .batch_item_failures
                .iter()
                .map(|f| f.item_identifier.as_str())
                .collect();
            // Like Lambda: an empty or unknown identifier fails the whole batch.
            if failed
                .iter()
                .any(|f| f.is_empty() || !ids.iter().any(|id| id == f))
            {
                return Vec::new();
            }
            ids.iter()
                .filter(|id| !failed.contains(&id.as_str()))
                .cloned()
                .collect()
        }
    }
}

async fn poll_queue(stack: Arc<LocalStack>, index: usize, mut shutdown: watch::Receiver<bool>) {
    let source = &stack.sqs_sources[index];
    let sqs = &stack.aws.sqs;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let receive = sqs
            .receive_message()
            .queue_url(&source.queue_url)
            .max_number_of_messages(source.batch_size.min(10))
            .wait_time_seconds(stack.config.sqs_wait_seconds)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send();
        let received = tokio::select! {
            _ = shutdown.changed() => return,
            received = receive => received,
        };
        let messages = match received {
            Ok(output) => output.messages.unwrap_or_default(),
            Err(err) => {
                tracing::warn!(queue = %source.queue_url, error = %aws_sdk_sqs::error::DisplayErrorContext(&err), "receive failed; retrying");
                tokio::select! {
                    _ = shutdown.changed() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        if messages.is_empty() {
            continue;
        }
        let ids: Vec<String> = messages
            .iter()
            .filter_map(|m| m.message_id().map(str::to_owned))
            .collect();
        let span = tracing::info_span!("sqs", requestId = %uuid::Uuid::new_v4(), function = %source.function.handler, batch = ids.len());
        let outcome: anyhow::Result<SqsBatchResponse> = async {
            let event = sqs_event(&messages, source, &stack.config.region)?;
            match source.function.handler().await? {
                Handler::Sqs(h) => isolate(async move { h.handle(event).await })
                    .await?
                    .map_err(|e| FunctionFailed::from(e).into()),
                _ => Err(anyhow!("{} is not an SQS handler", source.function.handler)),
            }
        }
        .instrument(span.clone())
        .await;
        if let Err(err) = &outcome {
            span.in_scope(|| tracing::warn!(error = format!("{err:#}"), "batch failed"));
        }
        let delete = messages_to_delete(&ids, &outcome, source.report_batch_item_failures);
        let entries: Vec<_> = messages
            .iter()
            .filter(|m| {
                m.message_id()
                    .is_some_and(|id| delete.iter().any(|d| d == id))
            })
            .enumerate()
            .filter_map(|(i, m)| {
                aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .build()
                    .ok()
            })
            .collect();
        for chunk in entries.chunks(10) {
            if let Err(err) = sqs
                .delete_message_batch()
                .queue_url(&source.queue_url)
                .set_entries(Some(chunk.to_vec()))
                .send()
                .await
            {
                tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&err), "delete failed; messages will be redelivered");
            }
        }
    }
}

async fn run_schedule(stack: Arc<LocalStack>, index: usize, mut shutdown: watch::Receiver<bool>) {
    let source = &stack.schedules[index];
    let mut after = Utc::now();
    while let Some(next) = source.expression.next_after(after) {
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        after = next;
        let event = source.input.clone().unwrap_or_else(|| {
            json!({
                "version": "0",
                "id": uuid::Uuid::new_v4().to_string(),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": LOCAL_ACCOUNT,
                "time": next.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "region": stack.config.region,
                "resources": [format!("arn:aws:events:{}:{LOCAL_ACCOUNT}:rule/{}", stack.config.region, source.rule)],
                "detail": {},
            })
        });
        if let Err(err) = stack.invoke(&source.function.logical_id, event).await {
            tracing::warn!(rule = %source.rule, error = format!("{err:#}"), "scheduled invocation failed");
        }
    }
}

async fn watch_moto(stack: Arc<LocalStack>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
        if let Err(err) = stack.reprovision_if_lost().await {
            tracing::warn!(
                error = format!("{err:#}"),
                "re-provisioning failed; retrying"
            );
        }
    }
}

/// A running stack; dropping it (or calling [`Running::stop`]) stops serving and polling.
pub struct Running {
    /// The address the HTTP API listens on.
    pub addr: SocketAddr,
    /// The stack.
    pub stack: Arc<LocalStack>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops everything and waits for the tasks to end.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }

    /// Waits until the server ends (it ends when stopped).
    pub async fn wait(mut self) {
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// Serves the stack's HTTP API on `listen` and starts its pollers and schedules.
pub async fn start(stack: LocalStack, listen: SocketAddr) -> anyhow::Result<Running> {
    start_with(stack, listen, Vec::new()).await
}

/// Like [`start`], also serving `extra` (paths and routers of local helpers, such as the
/// local TSA and the local Data API) beside the API.
pub async fn start_with(
    stack: LocalStack,
    listen: SocketAddr,
    extra: Vec<(&'static str, axum::Router)>,
) -> anyhow::Result<Running> {
    let stack = Arc::new(stack);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (is another runner using it?)"))?;
    let addr = listener.local_addr()?;
    let (shutdown, receiver) = watch::channel(false);
    let mut app = axum::Router::new()
        .route(
            "/_local/invoke/{function}",
            axum::routing::post(invoke_route),
        )
        .route("/pki/{*key}", axum::routing::get(pki_object))
        .fallback(dispatch)
        .with_state(Arc::clone(&stack));
    for (path, router) in extra {
        app = app.nest_service(path, router);
    }
    let mut tasks = Vec::new();
    let mut server_shutdown = receiver.clone();
    tasks.push(tokio::spawn(async move {
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = server_shutdown.changed().await;
        })
        .await;
        if let Err(err) = served {
            tracing::error!(error = %err, "HTTP server ended");
        }
    }));
    for (index, source) in stack.sqs_sources.iter().enumerate() {
        for _ in 0..source.concurrency {
            tasks.push(tokio::spawn(poll_queue(
                Arc::clone(&stack),
                index,
                receiver.clone(),
            )));
        }
    }
    tasks.push(tokio::spawn(watch_moto(
        Arc::clone(&stack),
        receiver.clone(),
    )));
    for index in 0..stack.schedules.len() {
        tasks.push(tokio::spawn(run_schedule(
            Arc::clone(&stack),
            index,
            receiver.clone(),
        )));
    }
    Ok(Running {
        addr,
        stack,
        shutdown,
        tasks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_segments_beat_parameters_and_greedy_paths() {
        let literal = parse_path("/v1/documents/search");
        let param = parse_path("/v1/documents/{id}");
        let greedy = parse_path("/v1/{proxy+}");
        let (_, a) = match_segments(&literal, "/v1/documents/search").expect("match");
        let (params, b) = match_segments(&param, "/v1/documents/search").expect("match");
        let (rest, c) = match_segments(&greedy, "/v1/documents/search").expect("match");
        assert!(a > b && b > c);
        assert_eq!(params["id"], "search");
        assert_eq!(rest["proxy"], "documents/search");
    }

    #[test]
    fn path_parameters_are_percent_decoded_and_never_empty() {
        let param = parse_path("/v1/documents/{id}");
        let (params, _) = match_segments(&param, "/v1/documents/a%20b").expect("match");
        assert_eq!(params["id"], "a b");
        assert!(match_segments(&param, "/v1/documents/").is_none());
        assert!(match_segments(&param, "/v1/documents/a/b").is_none());
    }

    fn response(failed: &[&str]) -> anyhow::Result<SqsBatchResponse> {
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = failed
            .iter()
            .map(|id| {
                let mut f = aws_lambda_events::sqs::BatchItemFailure::default();
                f.item_identifier = (*id).to_owned();
                f
            })
            .collect();
        Ok(response)
    }

    #[test]
    fn partial_batch_failures_keep_only_the_failed_messages() {
        let ids = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        assert_eq!(
            messages_to_delete(&ids, &response(&["b"]), true),
            ["a", "c"]
        );
        // Without ReportBatchItemFailures, Lambda ignores the list: all are deleted.
        assert_eq!(messages_to_delete(&ids, &response(&["b"]), false).len(), 3);
        // An unknown identifier fails the whole batch.
        assert!(messages_to_delete(&ids, &response(&["zzz"]), true).is_empty());
        assert!(messages_to_delete(&ids, &Err(anyhow!("boom")), true).is_empty());
    }
}
