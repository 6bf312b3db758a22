//! The three kinds of handler a function is, and how an invocation fails.
//!
//! Its own module (re-exported by [`crate::lambda`]) so that the wrappers every route gets
//! (idempotency, rate limits) implement [`HttpHandler`] without importing the Lambda glue
//! that composes them.

use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_http::{Body, Request, Response};

/// Whether trying a failed invocation again can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// A dependency failed or timed out: SQS redelivers the batch (then moves it to the DLQ), a
    /// scheduler or caller may try again.
    Retryable,
    /// The event itself is wrong (or what it names is gone): the same event fails the same way.
    Permanent,
}

impl FailureKind {
    /// The `errorType` Lambda records for the failed invocation.
    pub fn error_type(self) -> &'static str {
        match self {
            FailureKind::Retryable => "Retryable",
            FailureKind::Permanent => "Permanent",
        }
    }
}

/// The error a non-HTTP handler returns: the invocation fails (SQS retries the batch, a direct
/// invoke reports it), with its [`FailureKind`] as Lambda's `errorType` and its whole cause
/// chain as the message. `?` on any error makes a retryable one; [`InvokeError::permanent`]
/// says retrying cannot help.
pub struct InvokeError {
    kind: FailureKind,
    error: anyhow::Error,
}

impl InvokeError {
    /// A failure the same event would meet again.
    pub fn permanent(error: impl Into<anyhow::Error>) -> Self {
        Self {
            kind: FailureKind::Permanent,
            error: crate::telemetry::located(error),
        }
    }

    /// A failure that may pass when tried again.
    pub fn retryable(error: impl Into<anyhow::Error>) -> Self {
        Self {
            kind: FailureKind::Retryable,
            error: crate::telemetry::located(error),
        }
    }

    /// Whether retrying can help.
    pub fn kind(&self) -> FailureKind {
        self.kind
    }

    /// The failure with its causes.
    pub fn error(&self) -> &anyhow::Error {
        &self.error
    }
}

impl<E: Into<anyhow::Error>> From<E> for InvokeError {
    fn from(error: E) -> Self {
        Self::retryable(error)
    }
}

/// What the runtime logs (once, in the invocation's span, which carries the request id): the
/// kind and the whole cause chain on one line.
impl std::fmt::Debug for InvokeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} failure: {:#}", self.kind.error_type(), self.error)
    }
}

impl std::fmt::Display for InvokeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl From<InvokeError> for lambda_runtime::Diagnostic {
    fn from(err: InvokeError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: err.kind.error_type().to_owned(),
            error_message: format!("{:#}", err.error),
        }
    }
}

/// A function behind an API Gateway HTTP API route. Never fails: every error is a response.
#[async_trait]
pub trait HttpHandler: Send + Sync {
    /// Answers one request.
    async fn handle(&self, req: Request) -> Response<Body>;
}

/// A function driven by an SQS event source with `ReportBatchItemFailures`.
#[async_trait]
pub trait SqsHandler: Send + Sync {
    /// Processes one batch; the response lists the messages to retry. An `Err` fails the whole
    /// batch.
    async fn handle(&self, event: SqsEvent) -> Result<SqsBatchResponse, InvokeError>;
}

/// A function invoked with a JSON event: schedules, the authorizer, `migrate`.
#[async_trait]
pub trait InvokeHandler: Send + Sync {
    /// Handles one event.
    async fn handle(&self, event: serde_json::Value) -> Result<serde_json::Value, InvokeError>;
}

/// A ready-to-run handler of one of the three trigger kinds.
#[derive(Clone)]
pub enum Handler {
    /// HTTP API route.
    Http(Arc<dyn HttpHandler>),
    /// SQS event source.
    Sqs(Arc<dyn SqsHandler>),
    /// Direct invoke, schedule or authorizer.
    Invoke(Arc<dyn InvokeHandler>),
}
