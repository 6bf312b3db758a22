//! The sealed area's HTTP side: its route table (each route's operation as the OpenAPI
//! document describes it, who may call it, its rate limit and replay, its cold start; the area
//! binary, the local runner and the OpenAPI document are made from it) and each route's glue:
//! parse, authorize, call the service, map the answer.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use gsign_core::openapi::{schema, Operation, Reply};
use gsign_core::sealed::Wire;
use gsign_core::{Action, Env};
use gsign_platform::http as web;
use gsign_platform::lambda::{http_route, AreaSpec, HttpHandler, InitFuture, RouteSpec};
use gsign_platform::pagination::{Page, PageRequest};
use gsign_platform::ratelimit::Policy;
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use schemars::JsonSchema;
use serde_json::{Map, Value};

use crate::error::SealedError;
use crate::service::envelopes::{Opened, SealedEnvelope};
use crate::service::keys::{CryptoKey, KeyQuery, RevokeInput, RotateInput};
use crate::service::prompts::{Prompt, PromptQuery, SealInput};
use crate::service::schemas::{KeyAlgorithm, KeyUsage, PromptStatus, KEY_ID_PATTERN};
use crate::service::SealedApi;

/// `POST /v1/prompts` body (parsed as `PromptInput`).
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // describes the wire, never built
struct CreatePrompt {
    /// The text, 1 byte to 4 MiB.
    #[schemars(length(min = 1))]
    prompt_text: String,
    /// Free metadata: a JSON object.
    prompt_metadata: Option<Map<String, Value>>,
    /// `active` (default) or `archived`.
    status: Option<PromptStatus>,
}

/// `PATCH /v1/prompts/{id}` body (parsed as `PromptInput`): what is absent or `null` stays.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // describes the wire, never built
struct UpdatePrompt {
    /// The version you read: 409 if the prompt changed since.
    version: i32,
    /// The new text, 1 byte to 4 MiB.
    #[schemars(length(min = 1))]
    prompt_text: Option<String>,
    /// New metadata (a JSON object), replacing the old.
    prompt_metadata: Option<Map<String, Value>>,
    /// `active` or `archived`.
    status: Option<PromptStatus>,
}

/// `POST /v1/crypto-keys` body (parsed as `KeyInput`): a party's public key.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // describes the wire, never built
struct RegisterKey {
    /// The name envelopes carry: 1 to 255 letters, digits, `-`, `_`, `.` or `:`.
    #[schemars(pattern(KEY_ID_PATTERN))]
    key_id: String,
    /// `receiver` (to seal to) or `sender` (whose signatures to verify).
    key_usage: KeyUsage,
    /// The RSA public key (2048 to 4096 bits), PEM.
    public_key_pem: String,
    /// Who holds the private half, 1 to 100 characters (default `external`).
    service_name: Option<String>,
    /// After this it seals and signs nothing new (in the future).
    expires_at: Option<DateTime<Utc>>,
}

/// `POST /v1/crypto-keys/generate` body (parsed as `KeyInput`): an own key, made in the key
/// store.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // describes the wire, never built
struct GenerateKey {
    /// The name envelopes carry: 1 to 255 letters, digits, `-`, `_`, `.` or `:`.
    #[schemars(pattern(KEY_ID_PATTERN))]
    key_id: String,
    /// `sender` (signs) or `receiver` (unwraps).
    key_usage: KeyUsage,
    /// `RSA-3072` if absent.
    key_algorithm: Option<KeyAlgorithm>,
    /// Who holds the private half, 1 to 100 characters (default `gsign`).
    service_name: Option<String>,
    /// After this it seals and signs nothing new (in the future).
    expires_at: Option<DateTime<Utc>>,
}

/// `GET /v1/prompts` query.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct ListPromptsQuery {
    /// Prompts per page, 1 to 100 (50 if absent).
    #[schemars(range(min = 1, max = 100))]
    limit: Option<i64>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
    /// Only prompts with this status (`active` or `archived`).
    status: Option<String>,
    /// Only prompts whose text holds these words (full-text search).
    q: Option<String>,
}

/// `GET /v1/crypto-keys` query.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct ListKeysQuery {
    /// Keys per page, 1 to 100 (50 if absent).
    #[schemars(range(min = 1, max = 100))]
    limit: Option<i64>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
    /// Only the key with this `key_id`.
    key_id: Option<String>,
    /// Only keys of this usage (`sender` or `receiver`).
    usage: Option<String>,
    /// Only keys with this status (`active`, `rotated` or `revoked`).
    status: Option<String>,
}

/// An owned query parameter.
fn query(req: &Request, name: &str) -> Option<String> {
    web::query(req, name).map(str::to_owned)
}

/// Reads `GET /v1/prompts`' query.
fn prompt_query(req: &Request) -> Result<PromptQuery, SealedError> {
    let mut errors = Vec::new();
    let page = PageRequest::read(req, 50, 100, &mut errors);
    if !errors.is_empty() {
        return Err(SealedError::Validation(errors));
    }
    Ok(PromptQuery {
        page,
        status: query(req, "status"),
        words: query(req, "q"),
    })
}

/// Reads `GET /v1/crypto-keys`' page and filters.
fn key_query(req: &Request) -> Result<KeyQuery, SealedError> {
    let mut errors = Vec::new();
    let page = PageRequest::read(req, 50, 100, &mut errors);
    if !errors.is_empty() {
        return Err(SealedError::Validation(errors));
    }
    Ok(KeyQuery {
        page,
        key_id: query(req, "key_id"),
        usage: query(req, "usage"),
        status: query(req, "status"),
    })
}

/// The sealed area.
pub const AREA: AreaSpec = AreaSpec {
    binary: "gsign-sealed",
    name: "sealed",
    description: "Prompts sealed end to end to a receiver's key and signed in the HSM, \
                  sealed envelopes imported and opened, and the key registry.",
    routes: &[
        RouteSpec::new(
            Operation::new(
                "api-create-prompt",
                "POST",
                "/v1/prompts",
                "A prompt to seal (text, metadata); version 1.",
                Reply::Json(201, schema::<Prompt>),
            )
            .with_body(schema::<CreatePrompt>),
            Action::WriteDocuments,
            |env, spec| init_route(env, spec, Route::CreatePrompt),
        )
        .idempotent("create-prompt"),
        RouteSpec::new(
            Operation::new(
                "api-list-prompts",
                "GET",
                "/v1/prompts",
                "Prompts, newest first; status and full-text filters.",
                Reply::Json(200, schema::<Page<Prompt>>),
            )
            .with_query(schema::<ListPromptsQuery>),
            Action::ReadDocuments,
            |env, spec| init_route(env, spec, Route::ListPrompts),
        ),
        RouteSpec::new(
            Operation::new(
                "api-get-prompt",
                "GET",
                "/v1/prompts/{id}",
                "One prompt (cached 5 minutes).",
                Reply::Json(200, schema::<Prompt>),
            ),
            Action::ReadDocuments,
            |env, spec| init_route(env, spec, Route::GetPrompt),
        ),
        RouteSpec::new(
            Operation::new(
                "api-update-prompt",
                "PATCH",
                "/v1/prompts/{id}",
                "Changes a prompt if its version is still the one given (optimistic locking).",
                Reply::Json(200, schema::<Prompt>),
            )
            .with_body(schema::<UpdatePrompt>),
            Action::WriteDocuments,
            |env, spec| init_route(env, spec, Route::UpdatePrompt),
        ),
        RouteSpec::new(
            Operation::new(
                "api-delete-prompt",
                "DELETE",
                "/v1/prompts/{id}",
                "Soft-deletes a prompt (kept 7 years for retention).",
                Reply::Empty(204),
            ),
            Action::WriteDocuments,
            |env, spec| init_route(env, spec, Route::DeletePrompt),
        ),
        RouteSpec::new(
            Operation::new(
                "api-seal-prompt",
                "POST",
                "/v1/prompts/{id}/seal",
                "Seals a prompt to a receiver key: AES-256-GCM, key wrapped RSA-OAEP-SHA256, signed \
                 RSA-PSS in the HSM.",
                Reply::Json(201, schema::<SealedEnvelope>),
            )
            .with_body(schema::<SealInput>),
            Action::WriteDocuments,
            |env, spec| init_route(env, spec, Route::SealPrompt),
        )
        .idempotent("seal-prompt"),
        RouteSpec::new(
            Operation::new(
                "api-import-sealed-envelope",
                "POST",
                "/v1/sealed-envelopes",
                "Stores an envelope sealed elsewhere, to be opened later (shape checked; signature \
                 checked at open).",
                Reply::Json(201, schema::<SealedEnvelope>),
            )
            .with_body(schema::<Wire>),
            Action::OpenSealedEnvelopes,
            |env, spec| init_route(env, spec, Route::ImportEnvelope),
        ),
        RouteSpec::new(
            Operation::new(
                "api-get-sealed-envelope",
                "GET",
                "/v1/sealed-envelopes/{id}",
                "Metadata of a sealed envelope (cached 15 minutes); the encrypted fields only for the \
                 receiver side.",
                Reply::Json(200, schema::<SealedEnvelope>),
            ),
            Action::ReadDocuments,
            |env, spec| init_route(env, spec, Route::GetEnvelope),
        ),
        RouteSpec::new(
            Operation::new(
                "api-open-sealed-envelope",
                "POST",
                "/v1/sealed-envelopes/{id}/open",
                "Verifies the signature, refuses expired ones (410), unwraps in the HSM, decrypts; \
                 every attempt logged.",
                Reply::Json(200, schema::<Opened>),
            ),
            Action::OpenSealedEnvelopes,
            |env, spec| init_route(env, spec, Route::OpenEnvelope),
        )
        .limited(Policy::Sensitive),
        RouteSpec::new(
            Operation::new(
                "api-register-crypto-key",
                "POST",
                "/v1/crypto-keys",
                "Registers a party's RSA public key (a receiver to seal to, or a sender to verify).",
                Reply::Json(201, schema::<CryptoKey>),
            )
            .with_body(schema::<RegisterKey>),
            Action::ManageCryptoKeys,
            |env, spec| init_route(env, spec, Route::RegisterKey),
        ),
        RouteSpec::new(
            Operation::new(
                "api-generate-crypto-key",
                "POST",
                "/v1/crypto-keys/generate",
                "Generates a sender (signing) or receiver (decryption) RSA key in the HSM; the \
                 private half never leaves it.",
                Reply::Json(201, schema::<CryptoKey>),
            )
            .with_body(schema::<GenerateKey>),
            Action::ManageCryptoKeys,
            |env, spec| init_route(env, spec, Route::GenerateKey),
        ),
        RouteSpec::new(
            Operation::new(
                "api-list-crypto-keys",
                "GET",
                "/v1/crypto-keys",
                "The key registry, with public keys, newest first (cursor pagination).",
                Reply::Json(200, schema::<Page<CryptoKey>>),
            )
            .with_query(schema::<ListKeysQuery>),
            Action::ReadDocuments,
            |env, spec| init_route(env, spec, Route::ListKeys),
        ),
        RouteSpec::new(
            Operation::new(
                "api-get-crypto-key",
                "GET",
                "/v1/crypto-keys/{id}",
                "One key of the registry, with its public key.",
                Reply::Json(200, schema::<CryptoKey>),
            ),
            Action::ReadDocuments,
            |env, spec| init_route(env, spec, Route::GetKey),
        ),
        RouteSpec::new(
            Operation::new(
                "api-rotate-crypto-key",
                "POST",
                "/v1/crypto-keys/{id}/rotate",
                "A successor key; the old one is rotated and still opens or verifies what it sealed \
                 or signed.",
                Reply::Json(201, schema::<CryptoKey>),
            )
            .with_body(schema::<RotateInput>),
            Action::ManageCryptoKeys,
            |env, spec| init_route(env, spec, Route::RotateKey),
        ),
        RouteSpec::new(
            Operation::new(
                "api-revoke-crypto-key",
                "POST",
                "/v1/crypto-keys/{id}/revoke",
                "Revokes a key: it opens, verifies, seals and signs nothing any more.",
                Reply::Json(200, schema::<CryptoKey>),
            )
            .with_body(schema::<RevokeInput>),
            Action::ManageCryptoKeys,
            |env, spec| init_route(env, spec, Route::RevokeKey),
        ),
    ],
    jobs: &[crate::jobs::PURGE_SEALED_DATA],
};

/// Prompts up to the payload limit, as JSON.
const BODY_LIMIT: usize = 6 * 1024 * 1024;

/// Which route a function serves (its entry in [`AREA`] says the rest).
#[derive(Debug, Clone, Copy)]
enum Route {
    CreatePrompt,
    ListPrompts,
    GetPrompt,
    UpdatePrompt,
    DeletePrompt,
    SealPrompt,
    ImportEnvelope,
    GetEnvelope,
    OpenEnvelope,
    RegisterKey,
    GenerateKey,
    ListKeys,
    GetKey,
    RotateKey,
    RevokeKey,
}

impl Route {
    fn uses_hsm(self) -> bool {
        matches!(
            self,
            Route::SealPrompt | Route::OpenEnvelope | Route::GenerateKey | Route::RotateKey
        )
    }

    /// The routes that use own keys, plus revocation (which disables a KMS key).
    fn uses_kms(self) -> bool {
        self.uses_hsm() || matches!(self, Route::RevokeKey)
    }
}

struct SealedRoute {
    api: SealedApi,
    spec: &'static RouteSpec,
    route: Route,
}

impl SealedRoute {
    // Long: one route dispatch, one arm per route.
    #[tracing::instrument(skip_all)]
    async fn answer(&self, req: &Request) -> Result<Response<Body>, SealedError> {
        let caller = self.spec.caller(req)?;
        let api = &self.api;
        let id = |what: &'static str| web::path_uuid(req, "id").ok_or(SealedError::NotFound(what));
        Ok(match self.route {
            Route::CreatePrompt => web::json(
                StatusCode::CREATED,
                &api.create_prompt(&caller, web::parse_json(req, BODY_LIMIT)?)
                    .await?,
            ),
            Route::ListPrompts => web::json(
                StatusCode::OK,
                &api.list_prompts(&caller, prompt_query(req)?).await?,
            ),
            Route::GetPrompt => {
                web::json(StatusCode::OK, &api.prompt(&caller, id("prompt")?).await?)
            }
            Route::UpdatePrompt => {
                let id = id("prompt")?;
                web::json(
                    StatusCode::OK,
                    &api.update_prompt(&caller, id, web::parse_json(req, BODY_LIMIT)?)
                        .await?,
                )
            }
            Route::DeletePrompt => {
                api.delete_prompt(&caller, id("prompt")?).await?;
                web::no_content()
            }
            Route::SealPrompt => {
                let id = id("prompt")?;
                web::json(
                    StatusCode::CREATED,
                    &api.seal(&caller, id, web::parse_json(req, BODY_LIMIT)?)
                        .await?,
                )
            }
            Route::ImportEnvelope => web::json(
                StatusCode::CREATED,
                &api.import(&caller, web::parse_json(req, BODY_LIMIT)?)
                    .await?,
            ),
            Route::GetEnvelope => {
                let principal = web::principal(req);
                let receiver = principal.is_some_and(|p| p.may(Action::OpenSealedEnvelopes));
                web::json(
                    StatusCode::OK,
                    &api.get_envelope(&caller, id("sealed envelope")?, receiver)
                        .await?,
                )
            }
            Route::OpenEnvelope => web::json(
                StatusCode::OK,
                &api.open(&caller, id("sealed envelope")?).await?,
            ),
            Route::RegisterKey => web::json(
                StatusCode::CREATED,
                &api.create_key(&caller, web::parse_json(req, BODY_LIMIT)?, false)
                    .await?,
            ),
            Route::GenerateKey => web::json(
                StatusCode::CREATED,
                &api.create_key(&caller, web::parse_json(req, BODY_LIMIT)?, true)
                    .await?,
            ),
            Route::ListKeys => web::json(
                StatusCode::OK,
                &api.list_keys(&caller, &key_query(req)?).await?,
            ),
            Route::GetKey => web::json(StatusCode::OK, &api.get_key(&caller, id("key")?).await?),
            Route::RotateKey => {
                let id = id("key")?;
                web::json(
                    StatusCode::CREATED,
                    &api.rotate_key(&caller, id, web::parse_json(req, BODY_LIMIT)?)
                        .await?,
                )
            }
            Route::RevokeKey => {
                let id = id("key")?;
                web::json(
                    StatusCode::OK,
                    &api.revoke_key(&caller, id, web::parse_json(req, BODY_LIMIT)?)
                        .await?,
                )
            }
        })
    }
}

#[async_trait]
impl HttpHandler for SealedRoute {
    async fn handle(&self, req: Request) -> Response<Body> {
        match self.answer(&req).await {
            Ok(response) => response,
            Err(err) => web::error(err, &req),
        }
    }
}

fn init_route(env: Env, spec: &'static RouteSpec, route: Route) -> InitFuture {
    Box::pin(async move {
        let api = SealedApi::from_env(&env, route.uses_hsm(), route.uses_kms()).await?;
        let limiter = api.base.limiter.clone();
        let db = api.base.db.clone();
        Ok(http_route(
            Arc::new(SealedRoute { api, spec, route }),
            spec,
            limiter,
            db,
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::keys::KeyInput;
    use crate::service::prompts::PromptInput;

    fn members<T: JsonSchema>() -> Vec<String> {
        let schema = schemars::schema_for!(T).to_value();
        schema["properties"]
            .as_object()
            .map(|members| members.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The bodies described per route are the type the handlers parse, narrowed: every member
    /// they name is one the parsed type has.
    #[test]
    fn described_bodies_name_only_members_the_handlers_read() {
        for (described, parsed) in [
            (members::<CreatePrompt>(), members::<PromptInput>()),
            (members::<UpdatePrompt>(), members::<PromptInput>()),
            (members::<RegisterKey>(), members::<KeyInput>()),
            (members::<GenerateKey>(), members::<KeyInput>()),
        ] {
            assert!(!described.is_empty());
            for member in &described {
                assert!(parsed.contains(member), "{member} is not parsed");
            }
        }
    }
}
