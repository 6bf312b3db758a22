//! The envelope routes' glue (drafts, recipients, fields, send, void, remind, download,
//! evidence): parse, authorize, call [`EnvelopesApi`], map the answer.

use crate::error::EnvelopesError;
use crate::service::drafts::EnvelopeQuery;
use crate::service::EnvelopesApi;
use async_trait::async_trait;
use gsign_core::envelopes::EnvelopeStatus;
use gsign_core::{Env, FieldError};
use gsign_platform::http::{self as web, Caller};
use gsign_platform::lambda::{http_route, HttpHandler, InitFuture, RouteSpec};
use gsign_platform::pagination::PageRequest;
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use std::sync::Arc;
use uuid::Uuid;

const BODY_LIMIT: usize = 256 * 1024;

/// The most envelopes a page holds.
const MAX_PAGE: i64 = 100;

/// Reads `GET /v1/envelopes`' query; every problem at once.
fn envelope_query(caller: &Caller, req: &Request) -> Result<EnvelopeQuery, EnvelopesError> {
    let mut errors = Vec::new();
    let page = PageRequest::read(req, 50, MAX_PAGE, &mut errors);
    let status = web::query(req, "status").and_then(|raw| {
        let status = EnvelopeStatus::parse(raw);
        if status.is_none() {
            errors.push(FieldError::new("/status", "is not an envelope status"));
        }
        status
    });
    let document_id = web::query(req, "document_id").and_then(|raw| {
        raw.parse::<Uuid>()
            .map_err(|_| errors.push(FieldError::new("/document_id", "must be a document id")))
            .ok()
    });
    // `waiting_for=me`: what waits for the signed-in person (the web app's home).
    let waiting_for = match web::query(req, "waiting_for") {
        None => None,
        Some("me") if caller.user.is_some() => caller.user,
        Some("me") => {
            errors.push(FieldError::new(
                "/waiting_for",
                "me needs a signed-in person, not an API key",
            ));
            None
        }
        Some(_) => {
            errors.push(FieldError::new("/waiting_for", "must be me"));
            None
        }
    };
    if !errors.is_empty() {
        return Err(EnvelopesError::Validation(errors));
    }
    Ok(EnvelopeQuery {
        page,
        status,
        document_id,
        waiting_for,
    })
}

/// Which route a function serves (its entry in [`crate::AREA`] says the rest).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Route {
    Create,
    List,
    Counts,
    Get,
    Update,
    Delete,
    AddRecipient,
    UpdateRecipient,
    RemoveRecipient,
    SetFields,
    Events,
    Send,
    Void,
    Remind,
    Download,
    RecipientView,
    CorrectRecipient,
    SigningLink,
}

struct EnvelopeRoute {
    api: EnvelopesApi,
    spec: &'static RouteSpec,
    route: Route,
}

impl EnvelopeRoute {
    // Long: the route dispatch, one arm per envelope route.
    #[tracing::instrument(skip_all)]
    async fn answer(&self, req: &Request) -> Result<Response<Body>, EnvelopesError> {
        let caller = self.spec.caller(req)?;
        let id = || web::path_uuid(req, "id").ok_or(EnvelopesError::NotFound("envelope"));
        let recipient =
            || web::path_uuid(req, "recipient_id").ok_or(EnvelopesError::NotFound("recipient"));
        let api = &self.api;
        Ok(match self.route {
            Route::Create => web::json(
                StatusCode::CREATED,
                &api.create(&caller, web::parse_json(req, BODY_LIMIT)?)
                    .await?,
            ),
            Route::List => web::json(
                StatusCode::OK,
                &api.list(&caller, envelope_query(&caller, req)?).await?,
            ),
            Route::Counts => web::json(StatusCode::OK, &api.counts(&caller).await?),
            Route::Get => web::json(StatusCode::OK, &api.detail(&caller, id()?).await?),
            Route::Update => {
                let id = id()?;
                web::json(
                    StatusCode::OK,
                    &api.update(&caller, id, web::parse_json(req, BODY_LIMIT)?)
                        .await?,
                )
            }
            Route::Delete => {
                api.delete(&caller, id()?).await?;
                web::no_content()
            }
            Route::AddRecipient => {
                let id = id()?;
                web::json(
                    StatusCode::CREATED,
                    &api.add_recipient(&caller, id, web::parse_json(req, BODY_LIMIT)?)
                        .await?,
                )
            }
            Route::UpdateRecipient => {
                let (id, recipient) = (id()?, recipient()?);
                web::json(
                    StatusCode::OK,
                    &api.update_recipient(
                        &caller,
                        id,
                        recipient,
                        web::parse_json(req, BODY_LIMIT)?,
                    )
                    .await?,
                )
            }
            Route::RemoveRecipient => {
                api.remove_recipient(&caller, id()?, recipient()?).await?;
                web::no_content()
            }
            Route::SetFields => {
                let id = id()?;
                web::json(
                    StatusCode::OK,
                    &api.set_fields(&caller, id, web::parse_json(req, BODY_LIMIT)?)
                        .await?,
                )
            }
            Route::Events => web::json(StatusCode::OK, &api.events(&caller, id()?).await?),
            Route::Send => web::json(StatusCode::OK, &api.send(&caller, id()?).await?),
            Route::Void => {
                let id = id()?;
                web::json(
                    StatusCode::OK,
                    &api.void(&caller, id, web::parse_json(req, BODY_LIMIT)?)
                        .await?,
                )
            }
            Route::Remind => web::json(StatusCode::OK, &api.remind(&caller, id()?).await?),
            Route::CorrectRecipient => {
                let (id, recipient) = (id()?, recipient()?);
                web::json(
                    StatusCode::OK,
                    &api.correct_recipient(
                        &caller,
                        id,
                        recipient,
                        web::parse_json(req, BODY_LIMIT)?,
                    )
                    .await?,
                )
            }
            Route::SigningLink => web::json(
                StatusCode::CREATED,
                &api.hand_out_signing_link(&caller, id()?, recipient()?)
                    .await?,
            ),
            Route::RecipientView => web::json(
                StatusCode::CREATED,
                &api.recipient_view(&caller, id()?, recipient()?).await?,
            ),
            Route::Download => {
                let variant = web::query(req, "variant").unwrap_or("current");
                web::json(
                    StatusCode::OK,
                    &api.download(&caller, id()?, variant).await?,
                )
            }
        })
    }
}

#[async_trait]
impl HttpHandler for EnvelopeRoute {
    async fn handle(&self, req: Request) -> Response<Body> {
        match self.answer(&req).await {
            Ok(response) => response,
            Err(err) => web::error(err, &req),
        }
    }
}

pub(crate) fn init_route(env: Env, spec: &'static RouteSpec, route: Route) -> InitFuture {
    Box::pin(async move {
        let api = EnvelopesApi::from_env(&env).await?;
        let limiter = api.base.limiter.clone();
        let db = api.base.db.clone();
        Ok(http_route(
            Arc::new(EnvelopeRoute { api, spec, route }),
            spec,
            limiter,
            db,
        ))
    })
}
