//! The certificates area's HTTP side: its route table (each route's operation as the OpenAPI
//! document describes it, who may call it, its rate limit and replay, its cold start; the area
//! binary, the local runner and the OpenAPI document are made from it) and each route's glue:
//! parse, authorize, call the service, map the answer (`GET /v1/certificates/{id}` also as the
//! PEM chain with `?format=pem`).

use std::sync::Arc;

use async_trait::async_trait;
use gsign_core::certificates::{self as core_certs, CertificateRequest, LifecycleConflict};
use gsign_core::openapi::{schema, Operation, Reply};
use gsign_core::{Action, Env, FieldError};
use gsign_platform::http::{self as web, Caller};
use gsign_platform::lambda::{http_route, AreaSpec, HttpHandler, InitFuture, RouteSpec};
use gsign_platform::pagination::{Page, PageRequest};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use schemars::JsonSchema;

use crate::error::{CertificatesCase, CertificatesError};
use crate::service::certificates::chain_pem;
use crate::service::{CertificateQuery, CertificateView, CertificatesApi, ChainImport, Revocation};
use crate::store::Certificate;

/// What a certificate is for.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // describes the wire, never built
enum CertificatePurpose {
    /// A person's signing certificate.
    Signing,
    /// The organization's CA.
    Ca,
    /// The organization's platform seal.
    Seal,
}

/// A certificate's lifecycle state.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // describes the wire, never built
enum CertificateState {
    /// A CSR waiting for its chain.
    Pending,
    /// Usable.
    Active,
    /// Revoked.
    Revoked,
}

/// The query parameters of `GET /v1/certificates`.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct CertificateListQuery {
    /// Rows per page, 1 to 100 (default 50).
    #[schemars(range(min = 1, max = 100))]
    limit: Option<i64>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
    /// Only certificates for this purpose.
    purpose: Option<CertificatePurpose>,
    /// Only certificates in this state.
    status: Option<CertificateState>,
    /// Only this person's certificates: a user id, or `me` for the caller.
    user_id: Option<String>,
}

/// How `GET /v1/certificates/{id}` answers.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // describes the wire, never built
enum CertificateFormat {
    /// The certificate as JSON.
    Json,
    /// The certificate and its issuers as `application/pem-certificate-chain` (409 while
    /// pending).
    Pem,
}

/// The query parameters of `GET /v1/certificates/{id}`.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct CertificateGetQuery {
    /// `json` (the default) or `pem`, which downloads the PEM chain instead of the JSON.
    format: Option<CertificateFormat>,
}

/// The most certificates a page holds.
const MAX_PAGE: i64 = 100;

/// Reads `GET /v1/certificates`' query; every field's error at once.
fn certificate_query(
    caller: &Caller,
    req: &Request,
) -> Result<CertificateQuery, CertificatesError> {
    let mut errors = Vec::new();
    let page = PageRequest::read(req, 50, MAX_PAGE, &mut errors);
    let purpose = web::query(req, "purpose").and_then(|text| {
        let purpose = core_certs::CertificatePurpose::parse(text);
        if purpose.is_none() {
            errors.push(FieldError::new("/purpose", "must be signing, ca or seal"));
        }
        purpose
    });
    let status = web::query(req, "status").and_then(|text| {
        let status = core_certs::CertificateStatus::parse(text);
        if status.is_none() {
            errors.push(FieldError::new(
                "/status",
                "must be pending, active or revoked",
            ));
        }
        status
    });
    let user_id = match web::query(req, "user_id") {
        // An API key is no person: `me` would silently widen to everyone's certificates.
        Some("me") => caller.user.or_else(|| {
            errors.push(FieldError::new(
                "/user_id",
                "me needs a person's session; an API key has no user (give a user id)",
            ));
            None
        }),
        Some(raw) => raw.parse::<uuid::Uuid>().ok().or_else(|| {
            errors.push(FieldError::new("/user_id", "must be a user id or me"));
            None
        }),
        None => None,
    };
    if !errors.is_empty() {
        return Err(CertificatesError::Validation(errors));
    }
    Ok(CertificateQuery {
        page,
        purpose,
        status,
        user_id,
    })
}

/// The certificates area.
pub const AREA: AreaSpec = AreaSpec {
    binary: "gsign-certificates",
    name: "certificates",
    description: "Signing certificates with HSM keys: the organization's CA and seal, CSRs and \
                  imported chains, the default certificate and revocation.",
    routes: &[
        RouteSpec::new(
            Operation::new(
                "api-create-certificate",
                "POST",
                "/v1/certificates",
                "Generates a key pair in the HSM and a certificate from the organization's CA, a \
                 self-signed one, or a CSR.",
                Reply::Json(201, schema::<CertificateView>),
            )
            .with_body(schema::<CertificateRequest>),
            Action::ManageCertificates,
            |env, spec| init_route(env, spec, Route::Create),
        )
        .idempotent("create-certificate"),
        RouteSpec::new(
            Operation::new(
                "api-list-certificates",
                "GET",
                "/v1/certificates",
                "The organization's certificates (signing, CA, seal), newest first.",
                Reply::Json(200, schema::<Page<CertificateView>>),
            )
            .with_query(schema::<CertificateListQuery>),
            Action::ReadCertificates,
            |env, spec| init_route(env, spec, Route::List),
        ),
        RouteSpec::new(
            Operation::new(
                "api-get-certificate",
                "GET",
                "/v1/certificates/{id}",
                "One certificate; ?format=pem downloads the chain.",
                Reply::Json(200, schema::<CertificateView>),
            )
            .with_query(schema::<CertificateGetQuery>)
            .also_answering(
                "application/pem-certificate-chain",
                "With `format=pem`: the certificate and its chain, PEM.",
            ),
            Action::ReadCertificates,
            |env, spec| init_route(env, spec, Route::Get),
        ),
        RouteSpec::new(
            Operation::new(
                "api-import-certificate-chain",
                "PUT",
                "/v1/certificates/{id}/chain",
                "The external CA's certificate and chain for a CSR's key, checked.",
                Reply::Json(200, schema::<CertificateView>),
            )
            .with_body(schema::<ChainImport>),
            Action::ManageCertificates,
            |env, spec| init_route(env, spec, Route::ImportChain),
        ),
        RouteSpec::new(
            Operation::new(
                "api-set-default-certificate",
                "POST",
                "/v1/certificates/{id}/default",
                "The caller's default signing certificate.",
                Reply::Json(200, schema::<CertificateView>),
            ),
            Action::ManageCertificates,
            |env, spec| init_route(env, spec, Route::SetDefault),
        ),
        RouteSpec::new(
            Operation::new(
                "api-revoke-certificate",
                "POST",
                "/v1/certificates/{id}/revoke",
                "Revokes and destroys the HSM key.",
                Reply::Json(200, schema::<CertificateView>),
            )
            .with_optional_body(schema::<Revocation>),
            Action::ManageCertificates,
            |env, spec| init_route(env, spec, Route::Revoke),
        ),
    ],
    jobs: &[crate::jobs::PUBLISH_CRLS],
};

const BODY_LIMIT: usize = 64 * 1024;

/// The media type of a PEM certificate chain (RFC 8555 section 9.1).
const PEM_CHAIN: &str = "application/pem-certificate-chain";

/// Which route a function serves (its entry in [`AREA`] says the rest).
#[derive(Debug, Clone, Copy)]
enum Route {
    Create,
    List,
    Get,
    ImportChain,
    SetDefault,
    Revoke,
}

struct CertificateRoute {
    api: CertificatesApi,
    spec: &'static RouteSpec,
    route: Route,
}

impl CertificateRoute {
    #[tracing::instrument(skip_all)]
    async fn answer(&self, req: &Request) -> Result<Response<Body>, CertificatesError> {
        let caller = self.spec.caller(req)?;
        let id = || web::path_uuid(req, "id").ok_or(CertificatesError::NotFound("certificate"));
        let api = &self.api;
        let view = |row: &Certificate| CertificateView::of(row);
        Ok(match self.route {
            Route::Create => web::json(
                StatusCode::CREATED,
                &api.create(&caller, web::parse_json(req, BODY_LIMIT)?)
                    .await?,
            ),
            Route::List => web::json(
                StatusCode::OK,
                &api.list(&caller, certificate_query(&caller, req)?).await?,
            ),
            Route::Get => {
                let row = api.get(&caller, id()?).await?;
                match web::query(req, "format") {
                    None | Some("json") => web::json(StatusCode::OK, &view(&row)?),
                    Some("pem") => pem_download(&row)?,
                    Some(_) => {
                        return Err(CertificatesError::invalid("/format", "must be json or pem"))
                    }
                }
            }
            Route::ImportChain => {
                let id = id()?;
                web::json(
                    StatusCode::OK,
                    &api.import_chain(&caller, id, web::parse_json(req, BODY_LIMIT)?)
                        .await?,
                )
            }
            Route::SetDefault => web::json(StatusCode::OK, &api.set_default(&caller, id()?).await?),
            Route::Revoke => {
                let id = id()?;
                let input = if req.body().is_empty() {
                    Revocation::default()
                } else {
                    web::parse_json(req, BODY_LIMIT)?
                };
                web::json(StatusCode::OK, &api.revoke(&caller, id, input).await?)
            }
        })
    }
}

/// The certificate and its issuers as a PEM file.
fn pem_download(row: &Certificate) -> Result<Response<Body>, CertificatesError> {
    let pem = chain_pem(row)?.ok_or(CertificatesCase::Conflict(LifecycleConflict::NotActive))?;
    Response::builder()
        .status(StatusCode::OK)
        .header(http::header::CONTENT_TYPE, PEM_CHAIN)
        .header(
            http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"certificate-{}.pem\"", row.id),
        )
        .body(Body::from(pem))
        .map_err(|e| CertificatesError::Internal(e.into()))
}

#[async_trait]
impl HttpHandler for CertificateRoute {
    async fn handle(&self, req: Request) -> Response<Body> {
        match self.answer(&req).await {
            Ok(response) => response,
            Err(err) => web::error(err, &req),
        }
    }
}

/// The cold start of the route `route`, declared by `spec`.
fn init_route(env: Env, spec: &'static RouteSpec, route: Route) -> InitFuture {
    Box::pin(async move {
        let with_hsm = matches!(route, Route::Create | Route::Revoke);
        let api = CertificatesApi::from_env(&env, with_hsm).await?;
        let limiter = api.services.base.limiter.clone();
        let db = api.services.base.db.clone();
        Ok(http_route(
            Arc::new(CertificateRoute { api, spec, route }),
            spec,
            limiter,
            db,
        ))
    })
}
