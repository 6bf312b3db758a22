//! Rate limits in Redis: fixed windows counted with `INCR` + `EXPIRE NX`, under the seed's
//! key scheme namespaced by stack (`rate:{stack}:ip:{ip}`, `rate:{stack}:api:{key}`,
//! `rate:{stack}:login:{sha256(email)}`), since several stages may share one Redis.
//!
//! [`RateLimited`] wraps an HTTP handler: per source IP on every route (tighter on the
//! unauthenticated auth routes) and per API key; over the limit it answers 429 with
//! `Retry-After`, `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (and the
//! `X-RateLimit-*` twins). When Redis cannot answer, these general limits fail open with a
//! warning: availability wins over counting. [`RateLimiter::check_identifier`] (login and
//! reset attempts per address) fails closed instead.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gsign_core::{Credential, EnvReader, Problem};
use http::{HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

use crate::cache::Cache;
use crate::handler::HttpHandler;

/// Limits per window, from the environment.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// `RATE_LIMIT_PER_IP`: requests per IP per window on ordinary routes (600).
    pub per_ip: u64,
    /// `RATE_LIMIT_SENSITIVE_PER_IP`: per IP on login, register, reset and verification (20).
    pub sensitive_per_ip: u64,
    /// `RATE_LIMIT_PER_API_KEY`: per API key (1200).
    pub per_api_key: u64,
    /// `RATE_LIMIT_PER_IDENTIFIER`: login or reset attempts per email address (10).
    pub per_identifier: u64,
    /// `RATE_LIMIT_PER_SIGNING_LINK`: requests per signing link (120). A signing page views,
    /// unlocks, consents, signs and polls on one link; offices put many signers behind one
    /// address, so the ceremony is limited per link, under the ordinary per-IP ceiling.
    pub per_signing_link: u64,
    /// `RATE_LIMIT_WINDOW_SECONDS` (60).
    pub window: Duration,
    /// `GSIGN_STACK`: the key namespace.
    pub namespace: String,
}

impl RateLimitConfig {
    /// Reads the limits, recording problems in `r`.
    pub fn read(r: &mut EnvReader<'_>) -> Option<Self> {
        let config = Self {
            per_ip: r.or("RATE_LIMIT_PER_IP", 600),
            sensitive_per_ip: r.or("RATE_LIMIT_SENSITIVE_PER_IP", 20),
            per_api_key: r.or("RATE_LIMIT_PER_API_KEY", 1200),
            per_identifier: r.or("RATE_LIMIT_PER_IDENTIFIER", 10),
            per_signing_link: r.or("RATE_LIMIT_PER_SIGNING_LINK", 120),
            window: Duration::from_secs(r.or("RATE_LIMIT_WINDOW_SECONDS", 60)),
            namespace: r.or("GSIGN_STACK", "gsign".to_owned()),
        };
        if config.window.is_zero() {
            r.problem("RATE_LIMIT_WINDOW_SECONDS must be at least 1");
        }
        Some(config)
    }
}

/// The outcome of one count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// The limit of the window.
    pub limit: u64,
    /// Requests left in the window.
    pub remaining: u64,
    /// Seconds until the window resets.
    pub reset_seconds: u64,
}

/// Counts requests in Redis.
#[derive(Clone)]
pub struct RateLimiter {
    cache: Arc<Cache>,
    config: RateLimitConfig,
}

/// Which limits a route is under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Ordinary routes.
    Standard,
    /// Unauthenticated routes that guess-or-spam could target (login, register, reset, ...).
    Sensitive,
    /// The signing ceremony, authenticated by the link's token (the `token` path parameter):
    /// per link, and per IP at the ordinary ceiling. Guessing a link (256 random bits) is no
    /// threat the per-IP limit needs to meet; guessing an access code is met by the link's
    /// lockouts.
    SigningLink,
}

impl RateLimiter {
    /// A limiter over `cache`.
    pub fn new(cache: Arc<Cache>, config: RateLimitConfig) -> Self {
        Self { cache, config }
    }

    /// The limits.
    pub fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    async fn count(&self, key: &str, limit: u64) -> redis::RedisResult<Decision> {
        let window = self.config.window.as_secs().max(1);
        let (count, ttl): (u64, i64) = self
            .cache
            .try_run(|mut conn| async move {
                redis::pipe()
                    .cmd("INCR")
                    .arg(key)
                    .cmd("EXPIRE")
                    .arg(key)
                    .arg(window)
                    .arg("NX")
                    .ignore()
                    .cmd("TTL")
                    .arg(key)
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        Ok(Decision {
            allowed: count <= limit,
            limit,
            remaining: limit.saturating_sub(count),
            reset_seconds: u64::try_from(ttl).unwrap_or(window),
        })
    }

    /// Counts a request against a general limit; fails open when Redis cannot answer.
    pub async fn check(&self, kind: &str, subject: &str, limit: u64) -> Option<Decision> {
        let key = format!("rate:{}:{kind}:{subject}", self.config.namespace);
        match self.count(&key, limit).await {
            Ok(decision) => Some(decision),
            Err(err) => {
                tracing::warn!(error = %err, kind, "rate limiter unavailable: request allowed");
                None
            }
        }
    }

    /// Counts an attempt for an identifier (an email address); fails closed: `Err` when Redis
    /// cannot answer.
    pub async fn check_identifier(
        &self,
        kind: &str,
        identifier: &str,
    ) -> redis::RedisResult<Decision> {
        let hashed = crate::credentials::sha256_hex(&identifier.to_lowercase());
        let key = format!("rate:{}:{kind}:{hashed}", self.config.namespace);
        self.count(&key, self.config.per_identifier).await
    }
}

/// Adds the rate-limit headers of `decision` to `response`.
pub fn annotate(response: &mut Response<Body>, decision: &Decision) {
    let headers = response.headers_mut();
    for (name, value) in [
        ("ratelimit-limit", decision.limit),
        ("ratelimit-remaining", decision.remaining),
        ("ratelimit-reset", decision.reset_seconds),
        ("x-ratelimit-limit", decision.limit),
        ("x-ratelimit-remaining", decision.remaining),
        ("x-ratelimit-reset", decision.reset_seconds),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
            headers.insert(name, value);
        }
    }
}

/// The 429 answer for `decision`.
pub fn too_many(decision: &Decision, request_id: &str) -> Response<Body> {
    let problem = Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        "Too many requests",
    )
    .with_detail(format!(
        "Limit of {} requests reached; retry in {} s.",
        decision.limit, decision.reset_seconds
    ))
    .with_extension("retry_after", serde_json::json!(decision.reset_seconds));
    let mut response = crate::http::problem(problem, request_id);
    annotate(&mut response, decision);
    if let Ok(value) = HeaderValue::from_str(&decision.reset_seconds.to_string()) {
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, value);
    }
    response
}

/// An HTTP handler under rate limits.
pub struct RateLimited {
    inner: Arc<dyn HttpHandler>,
    limiter: RateLimiter,
    policy: Policy,
}

impl RateLimited {
    /// Wraps `inner`.
    pub fn wrap(
        inner: Arc<dyn HttpHandler>,
        limiter: RateLimiter,
        policy: Policy,
    ) -> Arc<dyn HttpHandler> {
        Arc::new(Self {
            inner,
            limiter,
            policy,
        })
    }
}

fn source_ip(req: &Request) -> Option<String> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        _ => None,
    }
}

#[async_trait]
impl HttpHandler for RateLimited {
    async fn handle(&self, req: Request) -> Response<Body> {
        let config = self.limiter.config();
        let mut decisions = Vec::new();
        if let Some(ip) = source_ip(&req) {
            let (kind, limit) = match self.policy {
                Policy::Standard | Policy::SigningLink => ("ip", config.per_ip),
                Policy::Sensitive => ("ip-auth", config.sensitive_per_ip),
            };
            decisions.extend(self.limiter.check(kind, &ip, limit).await);
        }
        if self.policy == Policy::SigningLink {
            if let Some(token) = crate::http::path(&req, "token") {
                // Counted under the token's hash: the link itself never reaches Redis.
                let link = crate::credentials::sha256_hex(token);
                decisions.extend(
                    self.limiter
                        .check("link", &link, config.per_signing_link)
                        .await,
                );
            }
        }
        if let Some(Credential::ApiKey { key_id, .. }) =
            crate::http::principal(&req).map(|p| p.credential)
        {
            decisions.extend(self.limiter.check("api", &key_id, config.per_api_key).await);
        }
        // Report the binding limit: a refusal first, otherwise the one with least room left.
        match decisions
            .into_iter()
            .min_by_key(|d| (d.allowed, d.remaining))
        {
            Some(decision) if !decision.allowed => {
                too_many(&decision, &crate::http::request_id(&req))
            }
            Some(decision) => {
                let mut response = self.inner.handle(req).await;
                annotate(&mut response, &decision);
                response
            }
            None => self.inner.handle(req).await,
        }
    }
}
