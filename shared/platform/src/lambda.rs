//! The contract between a function and whatever runs it.
//!
//! A function is an HTTP route declared in its area's table ([`RouteSpec`]) or a job
//! ([`FunctionSpec`]): a name (its `Handler` in `template.yaml`) and an `init` that builds its
//! [`Handler`] from an [`Env`] (the cold start). An area ([`AreaSpec`]) is one Lambda binary
//! serving all of its functions under the Lambda runtime ([`main`]); the local runner calls the
//! very same `init` and handler in-process.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use gsign_core::openapi::Operation;
use gsign_core::{Action, ConfigError, Env};
use lambda_http::{Body, Request, Response};
use lambda_runtime::{service_fn, LambdaEvent};
use tracing::Instrument as _;

use crate::idempotency::IdempotentRoute;
use crate::ratelimit::Policy;

pub use crate::handler::{
    FailureKind, Handler, HttpHandler, InvokeError, InvokeHandler, SqsHandler,
};

/// An HTTP route as every function wraps it: with `Idempotency-Key` support when its spec
/// names a replay label (the POSTs that create; `db` stores the replies), then the rate
/// limit of its policy, which counts replays too.
pub fn http_route(
    handler: Arc<dyn HttpHandler>,
    spec: &RouteSpec,
    limiter: crate::ratelimit::RateLimiter,
    db: impl Into<crate::database::Database>,
) -> Handler {
    let handler = match spec.idempotency {
        Some(route) => crate::idempotency::Idempotent::wrap(handler, db, route),
        None => handler,
    };
    let handler = crate::ratelimit::RateLimited::wrap(handler, limiter, spec.policy);
    Handler::Http(Arc::new(ScreenedParameters { inner: handler }))
}

/// One HTTP route, declared once in its area's table: what clients see (the OpenAPI
/// operation, whose `function` is the Lambda's name), what the caller must be allowed to do,
/// its rate limit, whether `Idempotency-Key` replays it, and how its function starts. The
/// Lambda binaries, the local runner and the OpenAPI document all read the tables.
#[derive(Clone, Copy)]
pub struct RouteSpec {
    /// What clients see; `operation.function` names the Lambda.
    pub operation: Operation,
    /// What the caller must be allowed to do; `None` on public routes, which authenticate by
    /// what they are given (a link's token, a provider's signature) or not at all, and on
    /// routes any signed-in principal may call.
    pub action: Option<Action>,
    /// Its rate limit.
    pub policy: Policy,
    /// How `Idempotency-Key` replays it, if it does.
    pub idempotency: Option<IdempotentRoute>,
    /// Reads configuration and builds clients (the cold start), given this very spec.
    pub init: fn(Env, &'static RouteSpec) -> InitFuture,
}

impl RouteSpec {
    /// A route for callers allowed `action`, at the standard rate limit, not replayed.
    pub const fn new(
        operation: Operation,
        action: Action,
        init: fn(Env, &'static RouteSpec) -> InitFuture,
    ) -> Self {
        Self {
            operation,
            action: Some(action),
            policy: Policy::Standard,
            idempotency: None,
            init,
        }
    }

    /// A route for any signed-in caller, whatever they may do (`GET /v1/me`, logout): the
    /// authorizer's principal is the only requirement.
    pub const fn signed_in(
        operation: Operation,
        init: fn(Env, &'static RouteSpec) -> InitFuture,
    ) -> Self {
        Self {
            operation,
            action: None,
            policy: Policy::Standard,
            idempotency: None,
            init,
        }
    }

    /// A route anyone may call (the operation is described as public too).
    pub const fn public(
        operation: Operation,
        init: fn(Env, &'static RouteSpec) -> InitFuture,
    ) -> Self {
        Self {
            operation: operation.public(),
            action: None,
            policy: Policy::Standard,
            idempotency: None,
            init,
        }
    }

    /// The same route under another rate-limit policy.
    pub const fn limited(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The same route replayed under `Idempotency-Key`, its records labelled `label` (scoped
    /// to the caller, or to the IP address on a public route).
    pub const fn idempotent(mut self, label: &'static str) -> Self {
        self.idempotency = Some(match (self.action, self.operation.access) {
            (Some(action), _) => IdempotentRoute::new(label, action),
            (None, gsign_core::openapi::Access::Public) => IdempotentRoute::anonymous(label),
            // Scoping a signed-in caller's replays by IP would mix different callers' records;
            // the tables are constants, so this stops the build.
            (None, gsign_core::openapi::Access::Caller) => {
                panic!("a signed-in route is replayed under an action: use RouteSpec::new")
            }
        });
        self
    }

    /// The same route's replays never stored: its successful answer carries a secret shown
    /// once (after [`RouteSpec::idempotent`]).
    pub const fn holding_a_secret(mut self) -> Self {
        if let Some(route) = self.idempotency {
            self.idempotency = Some(route.holding_a_secret());
        }
        self
    }

    /// The function's name (its `Handler` in the templates).
    pub const fn name(&self) -> &'static str {
        self.operation.function
    }

    /// The caller of `req`, if the route's action allows them. A public or `signed_in` route
    /// has no action to check, so no caller (401): those read what they need from the request.
    pub fn caller(&self, req: &Request) -> Result<crate::http::Caller, crate::http::CallerError> {
        match self.action {
            Some(action) => crate::http::Caller::of(req, action),
            None => Err(crate::http::CallerError::Unauthenticated),
        }
    }
}

/// One area: its Lambda binary, the routes it declares and its other functions (SQS
/// consumers, schedules, invocations). Its binary's `main`, the local runner's registry and
/// the OpenAPI document's tag and operations come from here.
#[derive(Clone, Copy)]
pub struct AreaSpec {
    /// The area's binary (`gsign-envelopes`).
    pub binary: &'static str,
    /// Its tag in the OpenAPI document (`envelopes`).
    pub name: &'static str,
    /// What the area is for, in a sentence.
    pub description: &'static str,
    /// Its HTTP routes, in the document's order.
    pub routes: &'static [RouteSpec],
    /// Its other functions.
    pub jobs: &'static [FunctionSpec],
}

impl AreaSpec {
    /// Every function of the area: its routes, then its jobs.
    pub fn functions(&'static self) -> impl Iterator<Item = Function> {
        self.routes
            .iter()
            .map(Function::Route)
            .chain(self.jobs.iter().copied().map(Function::Job))
    }

    /// The area as the OpenAPI document describes it.
    pub fn api(&self) -> gsign_core::openapi::Area {
        gsign_core::openapi::Area {
            name: self.name,
            description: self.description,
            operations: self.routes.iter().map(|route| route.operation).collect(),
        }
    }
}

/// A function an area binary or the local runner can start: a route or a job.
#[derive(Clone, Copy)]
pub enum Function {
    /// An HTTP route.
    Route(&'static RouteSpec),
    /// An SQS consumer, a schedule or a directly invoked function.
    Job(FunctionSpec),
}

impl Function {
    /// Its name (its `Handler` in the templates, `events/<name>/`).
    pub fn name(&self) -> &'static str {
        match self {
            Function::Route(route) => route.name(),
            Function::Job(job) => job.name,
        }
    }

    /// Its cold start.
    pub fn init(&self, env: Env) -> InitFuture {
        match self {
            Function::Route(route) => (route.init)(env, route),
            Function::Job(job) => (job.init)(env),
        }
    }
}

/// Refuses requests whose query or path parameters hold refused characters
/// ([`crate::http::refused_parameters`]) before rate limiting, replay or the handler see them.
struct ScreenedParameters {
    inner: Arc<dyn HttpHandler>,
}

#[async_trait]
impl HttpHandler for ScreenedParameters {
    async fn handle(&self, req: Request) -> Response<Body> {
        match crate::http::refused_parameters(&req) {
            Some(problem) => crate::http::problem(problem, &crate::http::request_id(&req)),
            None => self.inner.handle(req).await,
        }
    }
}

/// Why a function could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The environment is wrong; every problem is listed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A client could not be built.
    #[error("{0:#}")]
    Setup(#[from] anyhow::Error),
}

/// The future `init` returns.
pub type InitFuture = Pin<Box<dyn Future<Output = Result<Handler, StartupError>> + Send>>;

/// One Lambda function: its unique name and its cold start.
#[derive(Clone, Copy)]
pub struct FunctionSpec {
    /// The function's name = its `Handler` in the templates = `events/<name>/`.
    pub name: &'static str,
    /// Reads configuration and builds clients; runs once per container.
    pub init: fn(Env) -> InitFuture,
}

/// Entry point of an area's Lambda binary, which serves every function of the area: each
/// function stays its own Lambda (role, memory, timeout, environment) and the binary runs the
/// one [`function_name`] names. Exits non-zero (Lambda reports an init error) when the name is
/// none of `functions` or configuration is wrong.
pub fn main(area: &'static AreaSpec) -> ExitCode {
    main_of(&area.functions().collect::<Vec<_>>())
}

/// Entry point of a binary serving `functions` (the `migrate` binary serves one).
pub fn main_of(functions: &[Function]) -> ExitCode {
    let env = Env::from_process();
    crate::telemetry::init(&env);
    let spec = match select(functions, &env) {
        Ok(spec) => spec,
        Err(problem) => {
            tracing::error!(error = %problem, "cold start failed");
            return ExitCode::FAILURE;
        }
    };
    run(spec, env)
}

/// Which function this process is: `GSIGN_FUNCTION` when set (`cargo lambda watch` and
/// benches, which run a binary without a `Handler`), else the function's `Handler` setting,
/// which Lambda passes as `_HANDLER` (the templates set it to the function's name).
pub fn function_name(env: &Env) -> Option<&str> {
    ["GSIGN_FUNCTION", "_HANDLER"]
        .into_iter()
        .find_map(|name| env.get(name).filter(|value| !value.is_empty()))
}

/// The spec `env` names among `functions`, or why none.
pub fn select(functions: &[Function], env: &Env) -> Result<Function, String> {
    let known = || {
        functions
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(name) = function_name(env) else {
        return Err(format!(
            "cannot tell which function to run: neither _HANDLER nor GSIGN_FUNCTION is set \
             (this binary serves {})",
            known()
        ));
    };
    functions
        .iter()
        .find(|f| f.name() == name)
        .copied()
        .ok_or_else(|| format!("this binary does not serve {name:?}; it serves {}", known()))
}

/// Runs one function: clients, then the runtime loop.
fn run(spec: Function, env: Env) -> ExitCode {
    // One request at a time per container: a current-thread runtime starts fastest; blocking
    // work (hashing, PKCS#11) goes to `spawn_blocking`.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!(error = %err, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let handler = match spec.init(env).await {
            Ok(handler) => handler,
            Err(err) => {
                tracing::error!(function = spec.name(), error = %err, "cold start failed");
                return ExitCode::FAILURE;
            }
        };
        match serve(handler, spec.name()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                tracing::error!(function = spec.name(), error = %err, "runtime loop ended");
                ExitCode::FAILURE
            }
        }
    })
}

async fn serve(handler: Handler, function: &'static str) -> Result<(), lambda_runtime::Error> {
    match handler {
        Handler::Http(h) => {
            let area = std::env::var("GSIGN_AREA").unwrap_or_default();
            lambda_http::run(service_fn(move |req: Request| {
                let h = Arc::clone(&h);
                let area = area.clone();
                // The id a client sees in a problem's `instance`, on every line of the request.
                let span = tracing::info_span!(
                    "request",
                    apiRequestId = %crate::http::request_id(&req)
                );
                async move {
                    let started = std::time::Instant::now();
                    let response = h.handle(req).instrument(span).await;
                    crate::telemetry::request_metrics(
                        function,
                        &area,
                        response.status().as_u16(),
                        started.elapsed().as_secs_f64() * 1000.0,
                    );
                    Ok::<_, Infallible>(response)
                }
            }))
            .await
        }
        Handler::Sqs(h) => {
            lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
                let h = Arc::clone(&h);
                async move { h.handle(event.payload).await }
            }))
            .await
        }
        Handler::Invoke(h) => {
            lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
                let h = Arc::clone(&h);
                async move { h.handle(event.payload).await }
            }))
            .await
        }
    }
}

/// What became of one SQS message.
#[derive(Debug)]
pub enum MessageOutcome {
    /// Done (or already done before: consumers are idempotent); delete it.
    Done,
    /// A permanent failure the handler has recorded (e.g. a document marked `failed` with its
    /// reason); delete it, retrying cannot help.
    Rejected(String),
    /// A transient failure; leave it for SQS to redeliver (and, after `maxReceiveCount`, to move
    /// to the DLQ).
    Retry(anyhow::Error),
}

/// Processes every message of a batch concurrently, each in a span carrying its message id,
/// and reports only the ones to retry.
pub async fn each_message<F, Fut>(event: SqsEvent, process: F) -> SqsBatchResponse
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = MessageOutcome>,
{
    let work = event.records.into_iter().map(|message| {
        let id = message.message_id.clone().unwrap_or_default();
        let span = tracing::info_span!("message", messageId = %id);
        let fut = process(message);
        async move {
            match fut.await {
                MessageOutcome::Done => None,
                MessageOutcome::Rejected(reason) => {
                    tracing::warn!(
                        error_type = FailureKind::Permanent.error_type(),
                        %reason,
                        "message rejected permanently"
                    );
                    crate::telemetry::metric("MessagesRejected", 1.0, "Count");
                    None
                }
                MessageOutcome::Retry(err) => {
                    tracing::warn!(
                        error_type = FailureKind::Retryable.error_type(),
                        error = format!("{err:#}"),
                        "message will be retried"
                    );
                    Some(id)
                }
            }
        }
        .instrument(span)
    });
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = futures::future::join_all(work)
        .await
        .into_iter()
        .flatten()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn not_started(_: Env) -> InitFuture {
        Box::pin(async { Err(StartupError::Setup(anyhow::anyhow!("not started in tests"))) })
    }

    const HEALTH: RouteSpec = RouteSpec::public(
        Operation::new(
            "api-health",
            "GET",
            "/v1/health",
            "Health.",
            gsign_core::openapi::Reply::Empty(200),
        ),
        |env, _| not_started(env),
    );

    const AREA: [Function; 2] = [
        Function::Route(&HEALTH),
        Function::Job(FunctionSpec {
            name: "sqs-send-email",
            init: not_started,
        }),
    ];

    #[test]
    fn a_failed_invocation_tells_lambda_whether_retrying_helps_and_gives_every_cause() {
        use anyhow::Context as _;
        // `?` on any error: a dependency failed, worth retrying.
        let timed_out: Result<(), std::io::Error> = Err(std::io::Error::other("timed out"));
        let retryable: InvokeError = timed_out
            .context("reading the queue")
            .expect_err("failed")
            .into();
        let diagnostic = lambda_runtime::Diagnostic::from(retryable);
        assert_eq!(diagnostic.error_type, "Retryable");
        assert_eq!(diagnostic.error_message, "reading the queue: timed out");

        let permanent = InvokeError::permanent(anyhow::anyhow!("the event is not a command"));
        assert_eq!(permanent.kind(), FailureKind::Permanent);
        assert_eq!(
            format!("{permanent:?}"),
            "Permanent failure: the event is not a command"
        );
        let diagnostic = lambda_runtime::Diagnostic::from(permanent);
        assert_eq!(diagnostic.error_type, "Permanent");
    }

    #[test]
    fn an_area_binary_runs_the_function_its_handler_names() {
        let env = Env::from_pairs([("_HANDLER", "sqs-send-email")]);
        assert_eq!(select(&AREA, &env).map(|f| f.name()), Ok("sqs-send-email"));
        // GSIGN_FUNCTION wins: cargo lambda watch sets no handler of ours.
        let env = env.with("GSIGN_FUNCTION", "api-health");
        assert_eq!(select(&AREA, &env).map(|f| f.name()), Ok("api-health"));
    }

    #[test]
    fn an_unknown_or_missing_function_name_is_a_cold_start_error_naming_what_is_served() {
        let unknown = select(&AREA, &Env::from_pairs([("_HANDLER", "bootstrap")]))
            .map(|f| f.name())
            .expect_err("unknown");
        assert!(unknown.contains("\"bootstrap\""), "{unknown}");
        assert!(unknown.contains("api-health, sqs-send-email"), "{unknown}");
        let missing = select(&AREA, &Env::from_pairs::<&str, &str>([]))
            .map(|f| f.name())
            .expect_err("missing");
        assert!(missing.contains("_HANDLER"), "{missing}");
    }
}
