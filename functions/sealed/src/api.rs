//! The sealed area's route table: each route's operation as the OpenAPI document describes it,
//! who may call it, its rate limit and replay, and its cold start. The area binary, the local
//! runner and the OpenAPI document are made from it.

use chrono::{DateTime, Utc};
use gsign_core::openapi::{schema, Operation, Reply};
use gsign_core::sealed::Wire;
use gsign_core::Action;
use gsign_platform::lambda::{AreaSpec, RouteSpec};
use gsign_platform::pagination::Page;
use gsign_platform::ratelimit::Policy;
use schemars::JsonSchema;
use serde_json::{Map, Value};

use crate::envelopes::{Opened, SealedEnvelope};
use crate::keys::{CryptoKey, RevokeInput, RotateInput};
use crate::prompts::{Prompt, SealInput};
use crate::schemas::{KeyAlgorithm, KeyUsage, PromptStatus, KEY_ID_PATTERN};
use crate::{init_route, Route};

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
    /// Only the key with this `key_id`.
    key_id: Option<String>,
    /// Only keys of this usage (`sender` or `receiver`).
    usage: Option<String>,
    /// Only keys with this status (`active`, `rotated` or `revoked`).
    status: Option<String>,
}

/// `GET /v1/crypto-keys`' answer.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct KeyList {
    /// The organization's keys, newest first (at most 500).
    data: Vec<CryptoKey>,
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
                "The key registry, with public keys.",
                Reply::Json(200, schema::<KeyList>),
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
    jobs: &[crate::retention::PURGE_SEALED_DATA],
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyInput;
    use crate::prompts::PromptInput;

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
