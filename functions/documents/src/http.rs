//! The documents area's HTTP side: its route table (each route's operation as the OpenAPI
//! document describes it, who may call it, its rate limit and replay, its cold start; the area
//! binary, the local runner and the OpenAPI document are made from it) and each route's glue:
//! parse, authorize, call the service, map the answer.

use std::sync::Arc;

use async_trait::async_trait;
use gsign_core::documents::{DocumentDeclaration, DocumentStatus};
use gsign_core::openapi::{schema, Operation, Reply};
use gsign_core::{Action, Env, FieldError};
use gsign_platform::http::{self as web};
use gsign_platform::lambda::{http_route, AreaSpec, HttpHandler, InitFuture, RouteSpec};
use gsign_platform::pagination::{Page, PageRequest};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use schemars::JsonSchema;

use crate::error::DocumentsError;
use crate::service::{
    Created, DocumentQuery, DocumentUpdate, DocumentView, DocumentsApi, Download, DownloadVariant,
    LegalHold,
};

/// `GET /v1/documents`'s query parameters.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct ListQuery {
    /// Documents per page, 1 to 100 (default 50).
    #[schemars(range(min = 1, max = 100))]
    limit: Option<i64>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
    /// Only documents with this status.
    status: Option<DocumentStatus>,
    /// Only documents carrying this tag.
    tag: Option<String>,
    /// Only documents whose name contains this (case-insensitive).
    name: Option<String>,
}

/// `GET /v1/documents/{id}/download`'s query parameters.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct DownloadQuery {
    /// Which file: `original` (default) or `pdf`.
    variant: Option<DownloadVariant>,
}

/// The most documents a page holds.
const MAX_PAGE: i64 = 100;

/// Reads `GET /v1/documents`' query; every problem at once.
fn document_query(req: &Request) -> Result<DocumentQuery, DocumentsError> {
    let mut errors = Vec::new();
    let page = PageRequest::read(req, 50, MAX_PAGE, &mut errors);
    let status = web::query(req, "status").and_then(|raw| {
        raw.parse::<DocumentStatus>()
            .map_err(|e| errors.push(FieldError::new("/status", e)))
            .ok()
    });
    if !errors.is_empty() {
        return Err(DocumentsError::Validation(errors));
    }
    Ok(DocumentQuery {
        page,
        status,
        tag: web::query(req, "tag").map(str::to_owned),
        name: web::query(req, "name").map(str::to_owned),
    })
}

/// Reads `GET /v1/documents/{id}/download`'s `variant` (the original when absent).
fn download_variant(req: &Request) -> Result<DownloadVariant, DocumentsError> {
    web::query(req, "variant").map_or(Ok(DownloadVariant::Original), |raw| {
        raw.parse()
            .map_err(|e| DocumentsError::invalid("/variant", e))
    })
}

/// The documents area.
pub const AREA: AreaSpec = AreaSpec {
    binary: "gsign-documents",
    name: "documents",
    description: "Uploads (declared, then PUT to a presigned URL and ingested), downloads, \
                  metadata, deletion and legal hold.",
    routes: &[
        RouteSpec::new(
            Operation::new(
                "api-create-document",
                "POST",
                "/v1/documents",
                "Declares a document and answers a presigned PUT bound to its type and size.",
                Reply::Json(201, schema::<Created>),
            )
            .with_body(schema::<DocumentDeclaration>),
            Action::WriteDocuments,
            |env, spec| init_route(env, spec, Route::Create),
        )
        .idempotent("create-document"),
        RouteSpec::new(
            Operation::new(
                "api-list-documents",
                "GET",
                "/v1/documents",
                "Lists documents, newest first: filters (status, tag, name) and a cursor.",
                Reply::Json(200, schema::<Page<DocumentView>>),
            )
            .with_query(schema::<ListQuery>),
            Action::ReadDocuments,
            |env, spec| init_route(env, spec, Route::List),
        ),
        RouteSpec::new(
            Operation::new(
                "api-get-document",
                "GET",
                "/v1/documents/{id}",
                "A document (cached in Redis for 5 minutes).",
                Reply::Json(200, schema::<DocumentView>),
            ),
            Action::ReadDocuments,
            |env, spec| init_route(env, spec, Route::Get),
        ),
        RouteSpec::new(
            Operation::new(
                "api-update-document",
                "PATCH",
                "/v1/documents/{id}",
                "Changes a document's name, tags or metadata (each only when given).",
                Reply::Json(200, schema::<DocumentView>),
            )
            .with_body(schema::<DocumentUpdate>),
            Action::WriteDocuments,
            |env, spec| init_route(env, spec, Route::Update),
        ),
        RouteSpec::new(
            Operation::new(
                "api-download-document",
                "GET",
                "/v1/documents/{id}/download",
                "A short-lived presigned GET of a ready document (the original or its PDF).",
                Reply::Json(200, schema::<Download>),
            )
            .with_query(schema::<DownloadQuery>),
            Action::ReadDocuments,
            |env, spec| init_route(env, spec, Route::Download),
        ),
        RouteSpec::new(
            Operation::new(
                "api-delete-document",
                "DELETE",
                "/v1/documents/{id}",
                "Soft-deletes a document and erases its bytes; 409 while in use, retained or held.",
                Reply::Empty(204),
            ),
            Action::WriteDocuments,
            |env, spec| init_route(env, spec, Route::Delete),
        ),
        RouteSpec::new(
            Operation::new(
                "api-set-document-legal-hold",
                "PUT",
                "/v1/documents/{id}/legal-hold",
                "Places or releases an S3 Object Lock legal hold on every stored object (admins).",
                Reply::Json(200, schema::<DocumentView>),
            )
            .with_body(schema::<LegalHold>),
            Action::SetLegalHold,
            |env, spec| init_route(env, spec, Route::SetLegalHold),
        ),
    ],
    jobs: &[
        crate::jobs::ingest::FUNCTION,
        crate::jobs::erasure::ERASE_DELETED_DOCUMENTS,
    ],
};

const BODY_LIMIT: usize = 32 * 1024;

/// Which route a function serves (its entry in [`AREA`] says the rest).
#[derive(Debug, Clone, Copy)]
enum Route {
    Create,
    List,
    Get,
    Update,
    Download,
    Delete,
    SetLegalHold,
}

struct DocumentRoute {
    api: DocumentsApi,
    spec: &'static RouteSpec,
    route: Route,
}

impl DocumentRoute {
    #[tracing::instrument(skip_all)]
    async fn answer(&self, req: &Request) -> Result<Response<Body>, DocumentsError> {
        let caller = self.spec.caller(req)?;
        let id = || web::path_uuid(req, "id").ok_or(DocumentsError::NotFound("document"));
        let api = &self.api;
        Ok(match self.route {
            Route::Create => web::json(
                StatusCode::CREATED,
                &api.create(&caller, web::parse_json(req, BODY_LIMIT)?)
                    .await?,
            ),
            Route::List => web::json(
                StatusCode::OK,
                &api.list(&caller, document_query(req)?).await?,
            ),
            Route::Get => web::json(
                StatusCode::OK,
                &DocumentView::from(&api.document(&caller, id()?).await?),
            ),
            Route::Update => {
                let id = id()?;
                web::json(
                    StatusCode::OK,
                    &api.update(&caller, id, web::parse_json(req, BODY_LIMIT)?)
                        .await?,
                )
            }
            Route::Download => web::json(
                StatusCode::OK,
                &api.download(&caller, id()?, download_variant(req)?).await?,
            ),
            Route::Delete => {
                api.delete(&caller, id()?).await?;
                web::no_content()
            }
            Route::SetLegalHold => {
                let id = id()?;
                web::json(
                    StatusCode::OK,
                    &api.legal_hold(&caller, id, web::parse_json(req, BODY_LIMIT)?)
                        .await?,
                )
            }
        })
    }
}

#[async_trait]
impl HttpHandler for DocumentRoute {
    async fn handle(&self, req: Request) -> Response<Body> {
        match self.answer(&req).await {
            Ok(response) => response,
            Err(err) => web::error(err, &req),
        }
    }
}

fn init_route(env: Env, spec: &'static RouteSpec, route: Route) -> InitFuture {
    Box::pin(async move {
        let api = DocumentsApi::from_env(&env).await?;
        let limiter = api.services.limiter.clone();
        let db = api.services.db.clone();
        Ok(http_route(
            Arc::new(DocumentRoute { api, spec, route }),
            spec,
            limiter,
            db,
        ))
    })
}
