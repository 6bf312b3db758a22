//! The certificates area's route table: each route's operation as the OpenAPI document describes it,
//! who may call it, its rate limit and replay, and its cold start. The area binary, the local
//! runner and the OpenAPI document are made from it.

use gsign_core::certificates::CertificateRequest;
use gsign_core::openapi::{schema, Operation, Reply};
use gsign_core::Action;
use gsign_platform::lambda::{AreaSpec, RouteSpec};
use gsign_platform::pagination::Page;
use schemars::JsonSchema;

use crate::routes::{init_route, CertificateView, ChainImport, Revocation, Route};

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
