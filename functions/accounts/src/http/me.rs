//! `GET /v1/me`'s glue.

use crate::error::AccountsError;
use async_trait::async_trait;
use gsign_core::Env;
use gsign_platform::aws::{self, AwsConfig};
use gsign_platform::cache::{Cache, CacheConfig};
use gsign_platform::db::{self, DbConfig};
use gsign_platform::http as web;
use gsign_platform::lambda::{http_route, HttpHandler, InitFuture, RouteSpec};
use gsign_platform::ratelimit::{RateLimitConfig, RateLimiter};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use std::sync::Arc;

use crate::service::me::GetMe;

/// The cold start of `GET /v1/me`, declared by `spec`.
pub(crate) fn init(env: Env, spec: &'static RouteSpec) -> InitFuture {
    Box::pin(async move {
        let mut r = env.reader();
        let config = DbConfig::read(&mut r);
        let aws = AwsConfig::read(&mut r);
        let cache = CacheConfig::read(&mut r);
        let limits = RateLimitConfig::read(&mut r);
        let (config, aws, cache, limits) = r.finish(|| Some((config?, aws?, cache?, limits?)))?;
        let db =
            db::database(&config, &aws::sdk_config(&aws).await).map_err(anyhow::Error::from)?;
        let cache = Arc::new(Cache::new(&cache).map_err(anyhow::Error::from)?);
        let limiter = RateLimiter::new(cache, limits);
        Ok(http_route(
            Arc::new(GetMe { db: db.clone() }),
            spec,
            limiter,
            db,
        ))
    })
}

#[async_trait]
impl HttpHandler for GetMe {
    async fn handle(&self, req: Request) -> Response<Body> {
        let Some(principal) = web::principal(&req) else {
            return web::error(AccountsError::Unauthenticated, &req);
        };
        match self.profile(&principal).await {
            Ok(profile) => web::json(StatusCode::OK, &profile),
            Err(err) => web::error(err, &req),
        }
    }
}
