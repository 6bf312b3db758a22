//! The doc-packs area's HTTP side: its route table (each route's operation as the OpenAPI
//! document describes it, who may call it, its rate limit and replay, its cold start; the area
//! binary, the local runner and the OpenAPI document are made from it) and each route's glue:
//! parse, authorize, call the service, map the answer.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use gsign_core::openapi::{schema, Operation, Reply};
use gsign_core::packs::{PackStatus, Signer};
use gsign_core::{Action, Env, FieldError};
use gsign_platform::http as web;
use gsign_platform::lambda::{http_route, AreaSpec, HttpHandler, InitFuture, RouteSpec};
use gsign_platform::pagination::{Page, PageRequest};
use gsign_platform::storage::Presigned;
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use schemars::JsonSchema;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::DocPacksError;
use crate::service::library::{ClauseRef, Item, ItemQuery, Kind, Layout, SignerRole};
use crate::service::packs::{Pack, PackDetail, PackQuery, VoidInput};
use crate::service::DocPacksApi;

/// One version of a clause.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct ClauseVersion {
    #[serde(flatten)]
    item: Item,
    /// The clause's text: Markdown with `{{variable}}` and `{{signature:role}}` placeholders.
    body_markdown: String,
    /// The JSON Schema the pack's variables must satisfy.
    variables_json: Map<String, Value>,
}

/// One version of a clause, with every version of its name.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct ClauseWithVersions {
    #[serde(flatten)]
    clause: ClauseVersion,
    /// Every version of the name, newest first.
    versions: Vec<LibraryVersionSummary>,
}

/// One version of a document template.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct DocTemplateVersion {
    #[serde(flatten)]
    item: Item,
    /// Its clauses, in order.
    clauses_ordered: Vec<DocTemplateStoredClauseRef>,
    /// Its page setup (every member present, `null` when not set).
    layout_json: Layout,
    /// Its signer roles, in signing order.
    signer_roles: Vec<SignerRole>,
}

/// One version of a document template, with every version of its name.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct DocTemplateWithVersions {
    #[serde(flatten)]
    template: DocTemplateVersion,
    /// Every version of the name, newest first.
    versions: Vec<LibraryVersionSummary>,
}

/// One version of a clause's or template's name.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct LibraryVersionSummary {
    /// That version's id.
    id: Uuid,
    /// 1, 2, …
    version: i32,
    /// When it was published (`null`: a draft).
    published_at: Option<DateTime<Utc>>,
    /// Usable in new packs.
    is_active: bool,
}

/// A template's reference to a clause, as stored.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct DocTemplateStoredClauseRef {
    /// Any version's id of the clause.
    clause_id: Uuid,
    /// The version to use (`null`: the latest published, active one when a pack is generated).
    version: Option<i32>,
    /// Its place in the template, from 1.
    order: u32,
}

/// `POST /v1/clauses` body: version 1 of a clause (a name that exists gets its next version).
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // describes the wire, never built
struct NewClause {
    /// Shared by every version.
    #[schemars(length(min = 1, max = 200), pattern(r"\S"))]
    name: String,
    /// Allowed city codes (absent or `null`: everywhere).
    #[serde(default)]
    #[schemars(length(min = 1, max = 100), inner(pattern(r"^[A-Za-z0-9-]{2,32}$")))]
    city_gate: Option<Vec<String>>,
    /// Signer roles it is for (absent or `null`: everyone).
    #[serde(default)]
    #[schemars(length(min = 1, max = 100), inner(pattern(r"^[a-z][a-z0-9_-]{0,31}$")))]
    role_gate: Option<Vec<String>>,
    /// Markdown, at most 256 KiB, with `{{variable}}` and `{{signature:role}}` placeholders.
    #[schemars(length(min = 1), pattern(r"\S"))]
    body_markdown: String,
    /// The JSON Schema of the variables the clause uses (`{}` if none).
    variables_json: Map<String, Value>,
}

/// `POST /v1/clauses/{id}/versions` body: what changes from the given version; what is
/// left out is kept, and `null` lifts a gate. The name cannot change.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // describes the wire, never built
struct ClauseChanges {
    /// Allowed city codes (`null`: everywhere).
    #[serde(default)]
    #[schemars(length(min = 1, max = 100), inner(pattern(r"^[A-Za-z0-9-]{2,32}$")))]
    city_gate: Option<Vec<String>>,
    /// Signer roles it is for (`null`: everyone).
    #[serde(default)]
    #[schemars(length(min = 1, max = 100), inner(pattern(r"^[a-z][a-z0-9_-]{0,31}$")))]
    role_gate: Option<Vec<String>>,
    /// Markdown, at most 256 KiB (absent or `null`: kept).
    #[serde(default)]
    #[schemars(length(min = 1), pattern(r"\S"))]
    body_markdown: Option<String>,
    /// The JSON Schema of the variables (absent or `null`: kept).
    #[serde(default)]
    variables_json: Option<Map<String, Value>>,
}

/// `POST /v1/doc-templates` body: version 1 of a template (a name that exists gets its next
/// version).
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // describes the wire, never built
struct NewDocTemplate {
    /// Shared by every version.
    #[schemars(length(min = 1, max = 200), pattern(r"\S"))]
    name: String,
    /// Allowed city codes (absent or `null`: everywhere).
    #[serde(default)]
    #[schemars(length(min = 1, max = 100), inner(pattern(r"^[A-Za-z0-9-]{2,32}$")))]
    city_gate: Option<Vec<String>>,
    /// Signer roles it is for (absent or `null`: everyone).
    #[serde(default)]
    #[schemars(length(min = 1, max = 100), inner(pattern(r"^[a-z][a-z0-9_-]{0,31}$")))]
    role_gate: Option<Vec<String>>,
    /// Its clauses, in order: each with a published, active version to use.
    #[schemars(length(min = 1, max = 200))]
    clauses_ordered: Vec<ClauseRef>,
    /// Its page setup (absent or `null`: the defaults).
    #[serde(default)]
    layout_json: Option<Layout>,
    /// Its signer roles, in signing order, each once.
    #[schemars(length(min = 1, max = 10))]
    signer_roles: Vec<SignerRole>,
}

/// `POST /v1/doc-templates/{id}/versions` body: what changes from the given version; what is
/// left out is kept, and `null` lifts a gate. The name cannot change.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // describes the wire, never built
struct DocTemplateChanges {
    /// Allowed city codes (`null`: everywhere).
    #[serde(default)]
    #[schemars(length(min = 1, max = 100), inner(pattern(r"^[A-Za-z0-9-]{2,32}$")))]
    city_gate: Option<Vec<String>>,
    /// Signer roles it is for (`null`: everyone).
    #[serde(default)]
    #[schemars(length(min = 1, max = 100), inner(pattern(r"^[a-z][a-z0-9_-]{0,31}$")))]
    role_gate: Option<Vec<String>>,
    /// Its clauses, in order (absent or `null`: kept).
    #[serde(default)]
    #[schemars(length(min = 1, max = 200))]
    clauses_ordered: Option<Vec<ClauseRef>>,
    /// Its page setup, replaced whole (absent or `null`: kept).
    #[serde(default)]
    layout_json: Option<Layout>,
    /// Its signer roles, in signing order (absent or `null`: kept).
    #[serde(default)]
    #[schemars(length(min = 1, max = 10))]
    signer_roles: Option<Vec<SignerRole>>,
}

/// `POST /v1/doc-packs` body.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // describes the wire, never built
struct NewDocPack {
    /// The caller's reference (a deal or order id): one live pack per reference.
    #[schemars(length(min = 1, max = 200), pattern(r"\S"))]
    reference: String,
    /// City code (gates): 2 to 32 letters, digits or `-`.
    #[schemars(pattern(r"^[A-Za-z0-9-]{2,32}$"))]
    city: String,
    /// Template version ids (published, active), in order, each once.
    #[schemars(length(min = 1, max = 20), extend("uniqueItems" = true))]
    templates: Vec<Uuid>,
    /// The values of the clauses' variables (absent or `null`: `{}`); at most 256 KiB.
    #[serde(default)]
    variables: Option<Map<String, Value>>,
    /// Role -> signer: exactly the signer roles of the templates.
    #[schemars(extend(
        "minProperties" = 1,
        "propertyNames" = {"pattern": "^[a-z][a-z0-9_-]{0,31}$"}
    ))]
    signer_map: BTreeMap<String, Signer>,
}

/// `POST /v1/doc-packs/{id}/regenerate` body: what changes from the old pack (what is left
/// out or `null` is kept); the reference cannot change.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // describes the wire, never built
struct DocPackChanges {
    /// City code (gates).
    #[serde(default)]
    #[schemars(pattern(r"^[A-Za-z0-9-]{2,32}$"))]
    city: Option<String>,
    /// Template version ids, in order, each once.
    #[serde(default)]
    #[schemars(length(min = 1, max = 20), extend("uniqueItems" = true))]
    templates: Option<Vec<Uuid>>,
    /// The values of the clauses' variables, replaced whole.
    #[serde(default)]
    variables: Option<Map<String, Value>>,
    /// Role -> signer, replaced whole.
    #[serde(default)]
    #[schemars(extend(
        "minProperties" = 1,
        "propertyNames" = {"pattern": "^[a-z][a-z0-9_-]{0,31}$"}
    ))]
    signer_map: Option<BTreeMap<String, Signer>>,
}

/// `GET /v1/clauses`'s and `GET /v1/doc-templates`' query parameters.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct LibraryListQuery {
    /// Versions per page, 1 to 100 (default 50).
    #[schemars(range(min = 1, max = 100))]
    limit: Option<i64>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
    /// Only the versions of this name.
    name: Option<String>,
    /// Only active (`true`) or deactivated (`false`) versions.
    active: Option<bool>,
    /// Only published (`true`) or draft (`false`) versions.
    published: Option<bool>,
    /// Only what a pack for this city may use (ungated or gated to it).
    city: Option<String>,
    /// Only what a pack with a signer in this role may use (ungated or gated to it).
    role: Option<String>,
}

/// `GET /v1/doc-packs`' query parameters.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct DocPackListQuery {
    /// Packs per page, 1 to 100 (default 50).
    #[schemars(range(min = 1, max = 100))]
    limit: Option<i64>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
    /// Only the packs of this reference.
    reference: Option<String>,
    /// Only the packs in this status.
    status: Option<PackStatus>,
}

/// Which PDF of a pack's document.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // describes the wire, never built
enum DocPackDownloadVariant {
    /// The PDF as generated.
    Generated,
    /// The signed PDF, once its envelope completed.
    Signed,
    /// The certificate of completion, once its envelope completed.
    Certificate,
}

/// `GET /v1/doc-packs/{id}/instances/{doc_id}/download`'s query parameters.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct DocPackDownloadQuery {
    /// Which PDF: `generated` (default), `signed` or `certificate`.
    variant: Option<DocPackDownloadVariant>,
}

/// An owned query parameter.
fn query(req: &Request, name: &str) -> Option<String> {
    web::query(req, name).map(str::to_owned)
}

/// Reads the clause and template lists' query; every problem at once.
fn item_query(req: &Request) -> Result<ItemQuery, DocPacksError> {
    let mut errors = Vec::new();
    let page = PageRequest::read(req, 50, 100, &mut errors);
    let mut flag = |name: &str| match web::query(req, name) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            errors.push(FieldError::new(format!("/{name}"), "must be true or false"));
            None
        }
    };
    let active = flag("active");
    let published = flag("published");
    if !errors.is_empty() {
        return Err(DocPacksError::Validation(errors));
    }
    Ok(ItemQuery {
        page,
        name: query(req, "name"),
        active,
        published,
        city: query(req, "city"),
        role: query(req, "role"),
    })
}

/// Reads `GET /v1/doc-packs`' query; every problem at once.
fn pack_query(req: &Request) -> Result<PackQuery, DocPacksError> {
    let mut errors = Vec::new();
    let page = PageRequest::read(req, 50, 100, &mut errors);
    let status = web::query(req, "status").and_then(|raw| {
        let status = PackStatus::parse(raw);
        if status.is_none() {
            errors.push(FieldError::new("/status", "is not a pack status"));
        }
        status
    });
    if !errors.is_empty() {
        return Err(DocPacksError::Validation(errors));
    }
    Ok(PackQuery {
        page,
        reference: query(req, "reference"),
        status,
    })
}

/// The doc-packs area.
pub const AREA: AreaSpec = AreaSpec {
    binary: "gsign-doc-packs",
    name: "doc-packs",
    description: "The clause library, document templates, and document packs typeset from \
                  them and signed through envelopes.",
    routes: &[
        RouteSpec::new(
            Operation::new(
                "api-create-clause",
                "POST",
                "/v1/clauses",
                "Version 1 of a clause (Markdown, JSON Schema of its variables, city and role gates); owners and admins.",
                Reply::Json(201, schema::<ClauseVersion>),
            )
            .with_body(schema::<NewClause>),
            Action::ManageTemplates,
            |env, spec| init_route(env, spec, Route::CreateItem(Kind::Clause)),
        ),
        RouteSpec::new(
            Operation::new(
                "api-list-clauses",
                "GET",
                "/v1/clauses",
                "The clause library, newest first; filters by name, active, published, city and role gates.",
                Reply::Json(200, schema::<Page<ClauseVersion>>),
            )
            .with_query(schema::<LibraryListQuery>),
            Action::ReadDocuments,
            |env, spec| init_route(env, spec, Route::ListItems(Kind::Clause)),
        ),
        RouteSpec::new(
            Operation::new(
                "api-get-clause",
                "GET",
                "/v1/clauses/{id}",
                "One clause version with the list of its versions.",
                Reply::Json(200, schema::<ClauseWithVersions>),
            ),
            Action::ReadDocuments,
            |env, spec| init_route(env, spec, Route::GetItem(Kind::Clause)),
        ),
        RouteSpec::new(
            Operation::new(
                "api-create-clause-version",
                "POST",
                "/v1/clauses/{id}/versions",
                "The next version of a clause, starting from the given one; published versions never change.",
                Reply::Json(201, schema::<ClauseVersion>),
            )
            .with_body(schema::<ClauseChanges>),
            Action::ManageTemplates,
            |env, spec| init_route(env, spec, Route::NewVersion(Kind::Clause)),
        ),
        RouteSpec::new(
            Operation::new(
                "api-publish-clause",
                "POST",
                "/v1/clauses/{id}/publish",
                "Publishes a clause version once; only published versions reach packs.",
                Reply::Json(200, schema::<ClauseVersion>),
            ),
            Action::ManageTemplates,
            |env, spec| init_route(env, spec, Route::Publish(Kind::Clause)),
        ),
        RouteSpec::new(
            Operation::new(
                "api-deactivate-clause",
                "POST",
                "/v1/clauses/{id}/deactivate",
                "Retires a clause version from new packs.",
                Reply::Json(200, schema::<ClauseVersion>),
            ),
            Action::ManageTemplates,
            |env, spec| init_route(env, spec, Route::Deactivate(Kind::Clause)),
        ),
        RouteSpec::new(
            Operation::new(
                "api-create-doc-template",
                "POST",
                "/v1/doc-templates",
                "Version 1 of a document template (ordered clause references, layout, signer roles, gates).",
                Reply::Json(201, schema::<DocTemplateVersion>),
            )
            .with_body(schema::<NewDocTemplate>),
            Action::ManageTemplates,
            |env, spec| init_route(env, spec, Route::CreateItem(Kind::Template)),
        ),
        RouteSpec::new(
            Operation::new(
                "api-list-doc-templates",
                "GET",
                "/v1/doc-templates",
                "The document templates, newest first; filters by name, active, published, city and role gates.",
                Reply::Json(200, schema::<Page<DocTemplateVersion>>),
            )
            .with_query(schema::<LibraryListQuery>),
            Action::ReadDocuments,
            |env, spec| init_route(env, spec, Route::ListItems(Kind::Template)),
        ),
        RouteSpec::new(
            Operation::new(
                "api-get-doc-template",
                "GET",
                "/v1/doc-templates/{id}",
                "One template version with the list of its versions.",
                Reply::Json(200, schema::<DocTemplateWithVersions>),
            ),
            Action::ReadDocuments,
            |env, spec| init_route(env, spec, Route::GetItem(Kind::Template)),
        ),
        RouteSpec::new(
            Operation::new(
                "api-create-doc-template-version",
                "POST",
                "/v1/doc-templates/{id}/versions",
                "The next version of a template.",
                Reply::Json(201, schema::<DocTemplateVersion>),
            )
            .with_body(schema::<DocTemplateChanges>),
            Action::ManageTemplates,
            |env, spec| init_route(env, spec, Route::NewVersion(Kind::Template)),
        ),
        RouteSpec::new(
            Operation::new(
                "api-publish-doc-template",
                "POST",
                "/v1/doc-templates/{id}/publish",
                "Publishes a template version once.",
                Reply::Json(200, schema::<DocTemplateVersion>),
            ),
            Action::ManageTemplates,
            |env, spec| init_route(env, spec, Route::Publish(Kind::Template)),
        ),
        RouteSpec::new(
            Operation::new(
                "api-deactivate-doc-template",
                "POST",
                "/v1/doc-templates/{id}/deactivate",
                "Retires a template version from new packs.",
                Reply::Json(200, schema::<DocTemplateVersion>),
            ),
            Action::ManageTemplates,
            |env, spec| init_route(env, spec, Route::Deactivate(Kind::Template)),
        ),
        RouteSpec::new(
            Operation::new(
                "api-create-doc-pack",
                "POST",
                "/v1/doc-packs",
                "Generates a pack: gates and variables checked, each document typeset and stored with its SHA-256.",
                Reply::Json(201, schema::<PackDetail>),
            )
            .with_body(schema::<NewDocPack>),
            Action::WriteDocuments,
            |env, spec| init_route(env, spec, Route::CreatePack),
        )
        .idempotent("create-doc-pack"),
        RouteSpec::new(
            Operation::new(
                "api-list-doc-packs",
                "GET",
                "/v1/doc-packs",
                "The organization's packs, newest first; filters by reference and status.",
                Reply::Json(200, schema::<Page<Pack>>),
            )
            .with_query(schema::<DocPackListQuery>),
            Action::ReadDocuments,
            |env, spec| init_route(env, spec, Route::ListPacks),
        ),
        RouteSpec::new(
            Operation::new(
                "api-get-doc-pack",
                "GET",
                "/v1/doc-packs/{id}",
                "A pack with its documents, their envelopes' status and sign events.",
                Reply::Json(200, schema::<PackDetail>),
            ),
            Action::ReadDocuments,
            |env, spec| init_route(env, spec, Route::GetPack),
        ),
        RouteSpec::new(
            Operation::new(
                "api-issue-doc-pack",
                "POST",
                "/v1/doc-packs/{id}/issue",
                "Sends one sequential envelope per document: recipients from the signer map, fields from the blocks.",
                Reply::Json(200, schema::<PackDetail>),
            ),
            Action::WriteDocuments,
            |env, spec| init_route(env, spec, Route::IssuePack),
        ),
        RouteSpec::new(
            Operation::new(
                "api-void-doc-pack",
                "POST",
                "/v1/doc-packs/{id}/void",
                "Voids every envelope still out, then the pack.",
                Reply::Json(200, schema::<PackDetail>),
            )
            .with_body(schema::<VoidInput>),
            Action::WriteDocuments,
            |env, spec| init_route(env, spec, Route::VoidPack),
        ),
        RouteSpec::new(
            Operation::new(
                "api-regenerate-doc-pack",
                "POST",
                "/v1/doc-packs/{id}/regenerate",
                "A new draft pack from the old one's values (with changes); the old one is superseded and its envelopes voided.",
                Reply::Json(201, schema::<PackDetail>),
            )
            .with_body(schema::<DocPackChanges>),
            Action::WriteDocuments,
            |env, spec| init_route(env, spec, Route::RegeneratePack),
        )
        .idempotent("regenerate-doc-pack"),
        RouteSpec::new(
            Operation::new(
                "api-download-doc-pack-instance",
                "GET",
                "/v1/doc-packs/{id}/instances/{doc_id}/download",
                "A short-lived link to a document: generated, signed or its certificate of completion.",
                Reply::Json(200, schema::<Presigned>),
            )
            .with_query(schema::<DocPackDownloadQuery>),
            Action::ReadDocuments,
            |env, spec| init_route(env, spec, Route::DownloadInstance),
        ),
    ],
    jobs: &[crate::jobs::TRACK_PACK_DOCUMENT],
};

/// Request bodies: clauses, templates (with a logo) and pack variables.
const BODY_LIMIT: usize = 1024 * 1024;

/// Which route a function serves (its entry in [`AREA`] says the rest).
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

struct DocPacksRoute {
    api: DocPacksApi,
    spec: &'static RouteSpec,
    route: Route,
}

impl DocPacksRoute {
    // Long: the route dispatch, one arm per route.
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
            Route::ListItems(kind) => web::json(
                StatusCode::OK,
                &api.list_items(&caller, kind, &item_query(req)?).await?,
            ),
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
            Route::ListPacks => {
                web::json(StatusCode::OK, &api.list(&caller, &pack_query(req)?).await?)
            }
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

fn init_route(env: Env, spec: &'static RouteSpec, route: Route) -> InitFuture {
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
