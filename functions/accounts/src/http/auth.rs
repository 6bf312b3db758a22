//! The sign-up and session routes' glue: parse, call [`AuthService`], map the answer.

use crate::error::{AccountsCase, AccountsError};
use async_trait::async_trait;
use gsign_core::Env;
use gsign_platform::http as web;
use gsign_platform::lambda::{http_route, HttpHandler, InitFuture, RouteSpec};
use gsign_platform::ratelimit::{self};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use std::sync::Arc;

use super::client_info;
use crate::service::auth::{AuthService, LogoutInput};

/// Largest body these routes read.
const BODY_LIMIT: usize = 16 * 1024;

/// Which route a function serves (its entry in [`crate::AREA`] says the rest).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Route {
    Register,
    Login,
    Refresh,
    Logout,
    VerifyEmail,
    PasswordReset,
    PasswordResetConfirm,
    AcceptInvitation,
}

fn status_only(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = status;
    response
}

struct AuthRoute {
    service: AuthService,
    route: Route,
}

impl AuthRoute {
    #[tracing::instrument(skip_all)]
    async fn answer(&self, req: &Request) -> Result<Response<Body>, AccountsError> {
        let client = client_info(req);
        Ok(match self.route {
            Route::Register => {
                let input = web::parse_json(req, BODY_LIMIT)?;
                web::json(
                    StatusCode::ACCEPTED,
                    &self.service.register(input, &client).await?,
                )
            }
            Route::Login => {
                let input = web::parse_json(req, BODY_LIMIT)?;
                web::json(StatusCode::OK, &self.service.login(input, &client).await?)
            }
            Route::Refresh => {
                let input = web::parse_json(req, BODY_LIMIT)?;
                web::json(StatusCode::OK, &self.service.refresh(input, &client).await?)
            }
            Route::Logout => {
                let principal = web::principal(req).ok_or(AccountsError::Unauthenticated)?;
                let input = if req.body().is_empty() {
                    LogoutInput::default()
                } else {
                    web::parse_json(req, BODY_LIMIT)?
                };
                self.service.logout(&principal, input, &client).await?;
                status_only(StatusCode::NO_CONTENT)
            }
            Route::VerifyEmail => {
                self.service
                    .verify_email(web::parse_json(req, BODY_LIMIT)?, &client)
                    .await?;
                status_only(StatusCode::NO_CONTENT)
            }
            Route::PasswordReset => {
                self.service
                    .request_password_reset(web::parse_json(req, BODY_LIMIT)?, &client)
                    .await?;
                status_only(StatusCode::ACCEPTED)
            }
            Route::PasswordResetConfirm => {
                self.service
                    .confirm_password_reset(web::parse_json(req, BODY_LIMIT)?, &client)
                    .await?;
                status_only(StatusCode::NO_CONTENT)
            }
            Route::AcceptInvitation => {
                self.service
                    .accept_invitation(web::parse_json(req, BODY_LIMIT)?, &client)
                    .await?;
                status_only(StatusCode::NO_CONTENT)
            }
        })
    }
}

#[async_trait]
impl HttpHandler for AuthRoute {
    async fn handle(&self, req: Request) -> Response<Body> {
        match self.answer(&req).await {
            Ok(response) => response,
            Err(AccountsError::Area(AccountsCase::RateLimited(decision))) => {
                ratelimit::too_many(&decision, &web::request_id(&req))
            }
            Err(err) => web::error(err, &req),
        }
    }
}

pub(crate) fn init_route(env: Env, spec: &'static RouteSpec, route: Route) -> InitFuture {
    Box::pin(async move {
        let service =
            AuthService::from_env(&env, matches!(route, Route::Login | Route::Refresh)).await?;
        let limiter = service.limiter.clone();
        let db = service.db.clone();
        Ok(http_route(
            Arc::new(AuthRoute { service, route }),
            spec,
            limiter,
            db,
        ))
    })
}
