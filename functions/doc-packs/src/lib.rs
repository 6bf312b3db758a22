//! Document generation (seed 003): the clause library, document templates and document
//! packs, whose documents are typeset from Markdown clauses and signed through envelopes.
//! Each route is its own Lambda ([`FUNCTIONS`], served by the area binary `gsign-doc-packs`).

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
use gsign_core::{Action, Env};
use gsign_functions_envelopes::service::EnvelopesApi;
use gsign_platform::http::{self as web, Caller};
use gsign_platform::lambda::{http_route, HttpHandler, InitFuture};
use gsign_platform::ratelimit::Policy;
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
    fn base(&self) -> &Base {
        self.envelopes.base()
    }

    fn store(&self) -> &DocumentStore {
        self.envelopes.store()
    }
}

#[derive(Debug, Clone, Copy)]
enum Route {
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

impl Route {
    fn action(self) -> Action {
        match self {
            Route::ListItems(_) | Route::GetItem(_) => Action::ReadDocuments,
            Route::CreateItem(_)
            | Route::NewVersion(_)
            | Route::Publish(_)
            | Route::Deactivate(_) => Action::ManageTemplates,
            Route::ListPacks | Route::GetPack | Route::DownloadInstance => Action::ReadDocuments,
            Route::CreatePack | Route::IssuePack | Route::VoidPack | Route::RegeneratePack => {
                Action::WriteDocuments
            }
        }
    }
}

struct DocPacksRoute {
    api: DocPacksApi,
    route: Route,
}

impl DocPacksRoute {
    #[tracing::instrument(skip_all)]
    async fn answer(&self, req: &Request) -> Result<Response<Body>, DocPacksError> {
        let caller = Caller::of(req, self.route.action())?;
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
                let client = api.base().pool.get().await?;
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

fn init_route(env: Env, route: Route) -> InitFuture {
    Box::pin(async move {
        let envelopes = EnvelopesApi::from_env(&env).await?;
        let limiter = envelopes.base().limiter.clone();
        let idempotency = match route {
            Route::CreatePack => Some(("create-doc-pack", route.action())),
            Route::RegeneratePack => Some(("regenerate-doc-pack", route.action())),
            _ => None,
        }
        .map(|(label, action)| {
            (
                gsign_platform::idempotency::IdempotentRoute::new(label, action),
                envelopes.base().pool.clone(),
            )
        });
        Ok(http_route(
            Arc::new(DocPacksRoute {
                api: DocPacksApi { envelopes },
                route,
            }),
            limiter,
            Policy::Standard,
            idempotency,
        ))
    })
}

gsign_platform::route_function!(init_route, /// `POST /v1/clauses`.
    CREATE_CLAUSE, "api-create-clause", Route::CreateItem(Kind::Clause));
gsign_platform::route_function!(init_route, /// `GET /v1/clauses`.
    LIST_CLAUSES, "api-list-clauses", Route::ListItems(Kind::Clause));
gsign_platform::route_function!(init_route, /// `GET /v1/clauses/{id}`.
    GET_CLAUSE, "api-get-clause", Route::GetItem(Kind::Clause));
gsign_platform::route_function!(init_route, /// `POST /v1/clauses/{id}/versions`.
    CREATE_CLAUSE_VERSION, "api-create-clause-version", Route::NewVersion(Kind::Clause));
gsign_platform::route_function!(init_route, /// `POST /v1/clauses/{id}/publish`.
    PUBLISH_CLAUSE, "api-publish-clause", Route::Publish(Kind::Clause));
gsign_platform::route_function!(init_route, /// `POST /v1/clauses/{id}/deactivate`.
    DEACTIVATE_CLAUSE, "api-deactivate-clause", Route::Deactivate(Kind::Clause));
gsign_platform::route_function!(init_route, /// `POST /v1/doc-templates`.
    CREATE_DOC_TEMPLATE, "api-create-doc-template", Route::CreateItem(Kind::Template));
gsign_platform::route_function!(init_route, /// `GET /v1/doc-templates`.
    LIST_DOC_TEMPLATES, "api-list-doc-templates", Route::ListItems(Kind::Template));
gsign_platform::route_function!(init_route, /// `GET /v1/doc-templates/{id}`.
    GET_DOC_TEMPLATE, "api-get-doc-template", Route::GetItem(Kind::Template));
gsign_platform::route_function!(init_route, /// `POST /v1/doc-templates/{id}/versions`.
    CREATE_DOC_TEMPLATE_VERSION, "api-create-doc-template-version", Route::NewVersion(Kind::Template));
gsign_platform::route_function!(init_route, /// `POST /v1/doc-templates/{id}/publish`.
    PUBLISH_DOC_TEMPLATE, "api-publish-doc-template", Route::Publish(Kind::Template));
gsign_platform::route_function!(init_route, /// `POST /v1/doc-templates/{id}/deactivate`.
    DEACTIVATE_DOC_TEMPLATE, "api-deactivate-doc-template", Route::Deactivate(Kind::Template));
gsign_platform::route_function!(init_route, /// `POST /v1/doc-packs`.
    CREATE_DOC_PACK, "api-create-doc-pack", Route::CreatePack);
gsign_platform::route_function!(init_route, /// `GET /v1/doc-packs`.
    LIST_DOC_PACKS, "api-list-doc-packs", Route::ListPacks);
gsign_platform::route_function!(init_route, /// `GET /v1/doc-packs/{id}`.
    GET_DOC_PACK, "api-get-doc-pack", Route::GetPack);
gsign_platform::route_function!(init_route, /// `POST /v1/doc-packs/{id}/issue`.
    ISSUE_DOC_PACK, "api-issue-doc-pack", Route::IssuePack);
gsign_platform::route_function!(init_route, /// `POST /v1/doc-packs/{id}/void`.
    VOID_DOC_PACK, "api-void-doc-pack", Route::VoidPack);
gsign_platform::route_function!(init_route, /// `POST /v1/doc-packs/{id}/regenerate`.
    REGENERATE_DOC_PACK, "api-regenerate-doc-pack", Route::RegeneratePack);
gsign_platform::route_function!(init_route, /// `GET /v1/doc-packs/{id}/instances/{doc_id}/download`.
    DOWNLOAD_DOC_PACK_INSTANCE, "api-download-doc-pack-instance", Route::DownloadInstance);

/// Every function of the area, each its own Lambda, all served by the area's one binary
/// (`gsign-doc-packs`, which runs the one its `Handler` names) and by the local runner.
pub const FUNCTIONS: &[gsign_platform::lambda::FunctionSpec] = &[
    CREATE_CLAUSE,
    LIST_CLAUSES,
    GET_CLAUSE,
    CREATE_CLAUSE_VERSION,
    PUBLISH_CLAUSE,
    DEACTIVATE_CLAUSE,
    CREATE_DOC_TEMPLATE,
    LIST_DOC_TEMPLATES,
    GET_DOC_TEMPLATE,
    CREATE_DOC_TEMPLATE_VERSION,
    PUBLISH_DOC_TEMPLATE,
    DEACTIVATE_DOC_TEMPLATE,
    CREATE_DOC_PACK,
    LIST_DOC_PACKS,
    GET_DOC_PACK,
    ISSUE_DOC_PACK,
    VOID_DOC_PACK,
    REGENERATE_DOC_PACK,
    DOWNLOAD_DOC_PACK_INSTANCE,
    follow::TRACK_PACK_DOCUMENT,
];
