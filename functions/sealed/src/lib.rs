//! Sealed envelopes (seed 002): prompts sealed end to end (AES-256-GCM, the key wrapped with
//! RSA-OAEP to the receiver, the whole signed with RSA-PSS in the HSM), opened with the
//! receiver's HSM key after the sender's signature is checked, every attempt logged; the key
//! registry; retention. Wire format: `gsign_core::sealed` and docs/sealed-envelopes.md. Each
//! route is its own Lambda ([`AREA`]).

// The route futures nest the spans of the use cases and store calls they await.
#![recursion_limit = "256"]

pub mod api;
pub mod envelopes;
pub mod error;
pub mod holders;
pub mod keys;
pub mod prompts;
pub mod retention;
pub mod schemas;

use std::sync::Arc;

use async_trait::async_trait;
use gsign_core::{Action, Env};
use gsign_platform::hsm::{HsmConfig, HsmHandle};
use gsign_platform::http::{self as web};
use gsign_platform::kms_keys::KmsKeyStore;
use gsign_platform::lambda::{http_route, HttpHandler, InitFuture, RouteSpec};
use gsign_platform::sealing::OaepMode;
use gsign_platform::service::{Base, BaseConfig};
use http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::error::SealedError;
use crate::holders::KeyStore;

/// Prompts up to the payload limit, as JSON.
const BODY_LIMIT: usize = 6 * 1024 * 1024;

/// The service behind the routes.
pub struct SealedApi {
    base: Base,
    /// The token with the organization's sender and receiver keys (routes that use them).
    hsm: Option<HsmHandle>,
    /// How the token unwraps RSA-OAEP-SHA256 (`HSM_OAEP_MODE`).
    oaep_mode: OaepMode,
    /// Where new own keys are made (`SEALED_KEY_STORE`).
    key_store: KeyStore,
    /// Keys held in KMS (routes that use or revoke own keys).
    kms: Option<KmsKeyStore>,
}

impl SealedApi {
    fn hsm(&self) -> Result<&HsmHandle, SealedError> {
        self.hsm.as_ref().ok_or_else(|| {
            SealedError::Internal(anyhow::anyhow!("this function has no HSM configured"))
        })
    }

    /// Reads the configuration (the HSM's only for `with_hsm`, KMS's only for `with_kms`)
    /// and builds the clients.
    #[tracing::instrument(skip_all)]
    pub async fn from_env(
        env: &Env,
        with_hsm: bool,
        with_kms: bool,
    ) -> Result<Self, gsign_platform::lambda::StartupError> {
        let mut r = env.reader();
        let base = BaseConfig::read(&mut r);
        let hsm = if with_hsm {
            HsmConfig::read(&mut r)
        } else {
            None
        };
        let oaep_mode = r.or("HSM_OAEP_MODE", OaepMode::Native);
        let key_store = r.or("SEALED_KEY_STORE", KeyStore::Hsm);
        // Unset in AWS; locally LocalStack's KMS, which does RSA-OAEP and PSS as AWS does.
        let kms_endpoint = r.optional::<url::Url>("SEALED_KMS_ENDPOINT_URL");
        let base = r.finish(|| base)?;
        let base = Base::build(base).await?;
        let kms = with_kms.then(|| {
            let endpoint = kms_endpoint.map(|u| u.as_str().trim_end_matches('/').to_owned());
            KmsKeyStore::new(gsign_platform::aws::kms_at(&base.sdk, endpoint.as_deref()))
        });
        Ok(Self {
            base,
            hsm: hsm.map(HsmHandle::new),
            oaep_mode,
            key_store,
            kms,
        })
    }
}

/// Which route a function serves (its entry in [`crate::api::AREA`] says the rest).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Route {
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
            Route::ListPrompts => web::json(StatusCode::OK, &api.list_prompts(&caller, req).await?),
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
            Route::ListKeys => web::json(StatusCode::OK, &api.list_keys(&caller, req).await?),
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

pub(crate) fn init_route(env: Env, spec: &'static RouteSpec, route: Route) -> InitFuture {
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

pub use api::AREA;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_configuration_problem_is_reported_at_once() {
        let env = Env::from_pairs([
            ("HSM_OAEP_MODE", "pkcs1"),
            ("SEALED_KEY_STORE", "cloudhsm"),
            ("SEALED_KMS_ENDPOINT_URL", "not a url"),
        ]);
        let Err(gsign_platform::lambda::StartupError::Config(err)) =
            SealedApi::from_env(&env, true, true).await
        else {
            panic!("a wrong configuration must not start");
        };
        for name in [
            "DATABASE_URL",
            "HSM_MODULE_PATH",
            "HSM_OAEP_MODE",
            "SEALED_KEY_STORE",
            "SEALED_KMS_ENDPOINT_URL",
        ] {
            assert!(
                err.problems.iter().any(|p| p.starts_with(name)),
                "{name} missing from {err}"
            );
        }
    }
}
