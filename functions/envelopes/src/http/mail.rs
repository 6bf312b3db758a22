//! The mail routes' glue (suppression list, one-click unsubscribe, address correction,
//! handed-out signing links): parse, authorize, call [`EnvelopesApi`], map the answer.

use crate::error::EnvelopesError;
use crate::service::mail::Added;
use crate::service::EnvelopesApi;
use async_trait::async_trait;
use gsign_core::Env;
use gsign_platform::http::{self as web};
use gsign_platform::lambda::{http_route, HttpHandler, InitFuture, RouteSpec};
use gsign_platform::pagination::PageRequest;
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use std::sync::Arc;

/// Which route a function serves (its entry in [`crate::AREA`] says the rest).
#[derive(Debug, Clone, Copy)]
pub(crate) enum MailRoute {
    ListSuppressions,
    AddSuppression,
    RemoveSuppression,
    Unsubscribe,
}

struct MailRouteHandler {
    api: EnvelopesApi,
    spec: &'static RouteSpec,
    route: MailRoute,
}

impl MailRouteHandler {
    #[tracing::instrument(skip_all)]
    async fn answer(&self, req: &Request) -> Result<Response<Body>, EnvelopesError> {
        let api = &self.api;
        if let MailRoute::Unsubscribe = self.route {
            api.unsubscribe(web::query(req, "token")).await?;
            return Ok(web::json(
                StatusCode::OK,
                &serde_json::json!({"unsubscribed": true}),
            ));
        }
        let caller = self.spec.caller(req)?;
        Ok(match self.route {
            MailRoute::ListSuppressions => {
                let mut errors = Vec::new();
                let page = PageRequest::read(req, 50, 200, &mut errors);
                if !errors.is_empty() {
                    return Err(EnvelopesError::Validation(errors));
                }
                let email = web::query(req, "email");
                web::json(
                    StatusCode::OK,
                    &api.list_suppressions(&caller, page, email).await?,
                )
            }
            MailRoute::AddSuppression => {
                match api
                    .add_suppression(&caller, web::parse_json(req, 4096)?)
                    .await?
                {
                    Added::New(view) => web::json(StatusCode::CREATED, &view),
                    Added::Already(view) => web::json(StatusCode::OK, &view),
                }
            }
            MailRoute::RemoveSuppression => {
                let email = web::path(req, "email")
                    .map(|raw| {
                        percent_encoding::percent_decode_str(raw)
                            .decode_utf8_lossy()
                            .into_owned()
                    })
                    .ok_or(EnvelopesError::NotFound("suppressed address"))?;
                api.remove_suppression(&caller, &email).await?;
                web::no_content()
            }
            MailRoute::Unsubscribe => unreachable!("answered above"),
        })
    }
}

#[async_trait]
impl HttpHandler for MailRouteHandler {
    async fn handle(&self, req: Request) -> Response<Body> {
        match self.answer(&req).await {
            Ok(response) => response,
            Err(err) => web::error(err, &req),
        }
    }
}

pub(crate) fn init_mail_route(env: Env, spec: &'static RouteSpec, route: MailRoute) -> InitFuture {
    Box::pin(async move {
        let api = EnvelopesApi::from_env(&env).await?;
        let limiter = api.base.limiter.clone();
        let db = api.base.db.clone();
        Ok(http_route(
            Arc::new(MailRouteHandler { api, spec, route }),
            spec,
            limiter,
            db,
        ))
    })
}
