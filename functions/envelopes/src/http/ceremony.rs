//! The signing ceremony's routes' glue (`/v1/signing/{token}/…`): parse, call the
//! ceremony's use cases, map the answer.

use crate::error::CeremonyError;
use crate::service::ceremony::Visit;
use crate::service::EnvelopesApi;
use async_trait::async_trait;
use gsign_core::Env;
use gsign_platform::http as web;
use gsign_platform::lambda::{http_route, HttpHandler, InitFuture, RouteSpec};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use std::sync::Arc;

const BODY_LIMIT: usize = 16 * 1024;
/// A drawn signature (base64 PNG) and every field value.
const SIGN_BODY_LIMIT: usize = 1024 * 1024;

/// Which step of the signing ceremony a function serves (its entry in [`crate::AREA`]
/// says the rest).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step {
    View,
    AccessCode,
    Consent,
    Sign,
    Decline,
    NewLink,
}

struct CeremonyRoute {
    api: EnvelopesApi,
    step: Step,
}

impl CeremonyRoute {
    #[tracing::instrument(skip_all)]
    async fn answer(&self, req: &Request) -> Result<Response<Body>, CeremonyError> {
        let api = &self.api;
        let (ip, user_agent) = web::client(req);
        let visit = &Visit {
            token: web::path(req, "token").map(str::to_owned),
            ip,
            user_agent,
        };
        Ok(match self.step {
            Step::View => web::json(StatusCode::OK, &api.view(visit).await?),
            Step::AccessCode => {
                api.access_code(visit, web::parse_json(req, BODY_LIMIT)?)
                    .await?;
                web::no_content()
            }
            Step::Consent => {
                api.consent(visit, web::parse_json(req, BODY_LIMIT)?)
                    .await?;
                web::no_content()
            }
            Step::Sign => web::json(
                StatusCode::ACCEPTED,
                &api.sign(visit, web::parse_json(req, SIGN_BODY_LIMIT)?)
                    .await?,
            ),
            Step::Decline => {
                api.decline(visit, web::parse_json(req, BODY_LIMIT)?)
                    .await?;
                web::no_content()
            }
            Step::NewLink => web::json(StatusCode::ACCEPTED, &api.new_link(visit).await?),
        })
    }
}

#[async_trait]
impl HttpHandler for CeremonyRoute {
    async fn handle(&self, req: Request) -> Response<Body> {
        match self.answer(&req).await {
            Ok(response) => response,
            Err(err) => web::error(err, &req),
        }
    }
}

/// The cold start of the signing step `step`, declared by `spec`. The link is the
/// credential: the route is limited per link (a page's views, polls and steps) and per IP at
/// the ordinary ceiling, so an office of signers behind one address is never refused for
/// being many.
pub(crate) fn init_step(env: Env, spec: &'static RouteSpec, step: Step) -> InitFuture {
    Box::pin(async move {
        let api = EnvelopesApi::from_env(&env).await?;
        let limiter = api.base.limiter.clone();
        let db = api.base.db.clone();
        let handler = Arc::new(CeremonyRoute { api, step });
        Ok(http_route(handler, spec, limiter, db))
    })
}
