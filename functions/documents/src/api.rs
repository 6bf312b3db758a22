//! The documents area's route table: each route's operation as the OpenAPI document describes it,
//! who may call it, its rate limit and replay, and its cold start. The area binary, the local
//! runner and the OpenAPI document are made from it.

use gsign_core::documents::{DocumentDeclaration, DocumentStatus};
use gsign_core::openapi::{schema, Operation, Reply};
use gsign_core::Action;
use gsign_platform::lambda::{AreaSpec, RouteSpec};
use gsign_platform::pagination::Page;
use schemars::JsonSchema;

use crate::routes::{
    init_route, Created, DocumentUpdate, DocumentView, Download, DownloadVariant, LegalHold, Route,
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
        crate::ingest::FUNCTION,
        crate::erasure::ERASE_DELETED_DOCUMENTS,
    ],
};
