//! Document generation (seed 003): the clause library, document templates and document
//! packs, whose documents are typeset from Markdown clauses and signed through envelopes.
//! Each route is its own Lambda ([`AREA`], served by the area binary `gsign-doc-packs`).

// The route futures nest the spans of the use cases and store calls they await.
#![recursion_limit = "256"]

pub mod api;
pub mod error;
pub mod follow;
pub mod generate;
pub mod library;
pub mod packs;
pub mod schemas;

use std::sync::Arc;

use async_trait::async_trait;
use gsign_core::Env;
use gsign_functions_envelopes::service::EnvelopesApi;
use gsign_platform::http::{self as web};
use gsign_platform::lambda::{http_route, HttpHandler, InitFuture, RouteSpec};
use gsign_platform::service::Base;
use gsign_platform::storage::DocumentStore;
use http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::error::DocPacksError;
use crate::library::Kind;

/// Request bodies: clauses, templates (with a logo) and pack variables.
const BODY_LIMIT: usize = 1024 * 1024;

/// The service behind the routes: the envelopes service (database, documents bucket,
/// signing links) it issues packs through.
pub struct DocPacksApi {
    envelopes: EnvelopesApi,
}

impl DocPacksApi {
    /// Reads the configuration from `env` (every problem at once) and builds the clients:
    /// the envelopes service, which packs issue their envelopes through.
    pub async fn from_env(env: &Env) -> Result<Self, gsign_platform::lambda::StartupError> {
        Ok(Self {
            envelopes: EnvelopesApi::from_env(env).await?,
        })
    }

    fn base(&self) -> &Base {
        self.envelopes.base()
    }

    fn store(&self) -> &DocumentStore {
        self.envelopes.store()
    }
}

/// Which route a function serves (its entry in [`crate::api::AREA`] says the rest).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Route {
    CreateItem(Kind),
    ListItems(Kind),
    GetItem(Kind),
    NewVersion(Kind),
    Publish(Kind),
    Deactivate(Kind),
    CreatePack,
    ListPacks,
    GetPack,
    IssuePack,
    VoidPack,
    RegeneratePack,
    DownloadInstance,
}

struct DocPacksRoute {
    api: DocPacksApi,
    spec: &'static RouteSpec,
    route: Route,
}

impl DocPacksRoute {
    #[tracing::instrument(skip_all)]
    async fn answer(&self, req: &Request) -> Result<Response<Body>, DocPacksError> {
        let caller = self.spec.caller(req)?;
        let api = &self.api;
        let id =
            |what: &'static str| web::path_uuid(req, "id").ok_or(DocPacksError::NotFound(what));
        Ok(match self.route {
            Route::CreateItem(kind) => web::json(
                StatusCode::CREATED,
                &api.create_item(&caller, kind, web::parse_json(req, BODY_LIMIT)?)
                    .await?,
            ),
            Route::ListItems(kind) => {
                web::json(StatusCode::OK, &api.list_items(&caller, kind, req).await?)
            }
            Route::GetItem(kind) => {
                let client = api.base().db.connect().await?;
                let item = api
                    .get(&client, &caller, kind, id(kind.noun())?)
                    .await?
                    .ok_or(DocPacksError::NotFound(kind.noun()))?;
                let versions: Vec<serde_json::Value> = api
                    .versions(&client, &caller, kind, &item.name)
                    .await?
                    .iter()
                    .map(|v| serde_json::json!({"id": v.id, "version": v.version, "published_at": v.published_at, "is_active": v.is_active}))
                    .collect();
                let mut body =
                    serde_json::to_value(&item).map_err(|e| DocPacksError::Internal(e.into()))?;
                body["versions"] = serde_json::Value::Array(versions);
                web::json(StatusCode::OK, &body)
            }
            Route::NewVersion(kind) => {
                let id = id(kind.noun())?;
                web::json(
                    StatusCode::CREATED,
                    &api.new_version(&caller, kind, id, web::parse_json(req, BODY_LIMIT)?)
                        .await?,
                )
            }
            Route::Publish(kind) => web::json(
                StatusCode::OK,
                &api.publish(&caller, kind, id(kind.noun())?).await?,
            ),
            Route::Deactivate(kind) => web::json(
                StatusCode::OK,
                &api.deactivate(&caller, kind, id(kind.noun())?).await?,
            ),
            Route::CreatePack => web::json(
                StatusCode::CREATED,
                &api.generate(&caller, web::parse_json(req, BODY_LIMIT)?)
                    .await?,
            ),
            Route::ListPacks => web::json(StatusCode::OK, &api.list(&caller, req).await?),
            Route::GetPack => web::json(StatusCode::OK, &api.detail(&caller, id("pack")?).await?),
            Route::IssuePack => web::json(StatusCode::OK, &api.issue(&caller, id("pack")?).await?),
            Route::VoidPack => {
                let id = id("pack")?;
                web::json(
                    StatusCode::OK,
                    &api.void(&caller, id, web::parse_json(req, BODY_LIMIT)?)
                        .await?,
                )
            }
            Route::RegeneratePack => {
                let id = id("pack")?;
                web::json(
                    StatusCode::CREATED,
                    &api.regenerate(&caller, id, web::parse_json(req, BODY_LIMIT)?)
                        .await?,
                )
            }
            Route::DownloadInstance => {
                let doc =
                    web::path_uuid(req, "doc_id").ok_or(DocPacksError::NotFound("document"))?;
                let variant = web::query(req, "variant").unwrap_or("generated");
                web::json(
                    StatusCode::OK,
                    &api.download(&caller, id("pack")?, doc, variant).await?,
                )
            }
        })
    }
}

#[async_trait]
impl HttpHandler for DocPacksRoute {
    async fn handle(&self, req: Request) -> Response<Body> {
        match self.answer(&req).await {
            Ok(response) => response,
            Err(err) => web::error(err, &req),
        }
    }
}

pub(crate) fn init_route(env: Env, spec: &'static RouteSpec, route: Route) -> InitFuture {
    Box::pin(async move {
        let api = DocPacksApi::from_env(&env).await?;
        let limiter = api.base().limiter.clone();
        let db = api.base().db.clone();
        Ok(http_route(
            Arc::new(DocPacksRoute { api, spec, route }),
            spec,
            limiter,
            db,
        ))
    })
}

pub use api::AREA;
