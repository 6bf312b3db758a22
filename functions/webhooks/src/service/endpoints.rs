//! Endpoints: `POST|GET /v1/webhooks`, `GET|PATCH|DELETE /v1/webhooks/{id}`,
//! `POST /v1/webhooks/{id}/rotate-secret` and `POST /v1/webhooks/{id}/test`. Owners and admins
//! (or API keys with `webhooks:manage`); every query is scoped to the caller's organization.

use chrono::Utc;
use gsign_core::webhooks::{secret_text, EventType};
use gsign_core::FieldError;
use gsign_platform::http::Caller;
use gsign_platform::outbox;
use gsign_platform::pagination::{Page, PageRequest};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{WebhooksCase, WebhooksError};
use crate::store::{self, Changes, Endpoint};

use super::WebhooksApi;

/// How long a rotated-out secret keeps signing.
const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);

/// `POST /v1/webhooks` and `PATCH /v1/webhooks/{id}` body: with PATCH, absent members keep
/// their value.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "WebhookInput")]
pub struct EndpointInput {
    /// Where deliveries are POSTed: a public https URL (at most 2048 characters).
    #[serde(default)]
    #[schemars(url)]
    url: Option<String>,
    /// A note for people, at most 255 characters; blank or `null`: none (with PATCH, it
    /// removes the note; left out: unchanged).
    #[serde(default, with = "gsign_core::patch::double_option")]
    #[schemars(with = "Option<String>", length(max = 255))]
    description: Option<Option<String>>,
    /// Event types to deliver; empty or absent: all.
    #[serde(default)]
    #[schemars(with = "Option<Vec<EventType>>")]
    event_types: Option<Vec<String>>,
    /// PATCH only: `true` re-enables a disabled endpoint, `false` pauses it.
    #[serde(default)]
    active: Option<bool>,
}

/// An endpoint, with its signing secret, shown only in this answer.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "WebhookWithSecret")]
pub struct EndpointView {
    #[serde(flatten)]
    endpoint: Endpoint,
    /// The signing secret (`whsec_` + base64): keep it, it is not shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(required)]
    secret: Option<String>,
}

/// Adds an error for each of `types` that is no event type.
fn check_event_types(types: &[String], errors: &mut Vec<FieldError>) {
    for (i, t) in types.iter().enumerate() {
        if EventType::parse(t).is_none() {
            errors.push(FieldError::new(
                format!("/event_types/{i}"),
                format!(
                    "is not an event type ({})",
                    EventType::ALL.map(EventType::as_str).join(", ")
                ),
            ));
        }
    }
}

/// The URL given, parsed, if it is one of at most 2048 characters; else an error added.
fn checked_url(raw: Option<&str>, errors: &mut Vec<FieldError>) -> Option<url::Url> {
    match raw.map(str::trim) {
        None => None,
        Some(raw) if raw.len() > 2048 => {
            errors.push(FieldError::new("/url", "must be at most 2048 characters"));
            None
        }
        Some(raw) => match url::Url::parse(raw) {
            // Parsing normalises (percent-encoding): the stored form must fit too.
            Ok(url) if url.as_str().len() > 2048 => {
                errors.push(FieldError::new("/url", "must be at most 2048 characters"));
                None
            }
            Ok(url) => Some(url),
            Err(err) => {
                errors.push(FieldError::new("/url", format!("is not a URL: {err}")));
                None
            }
        },
    }
}

impl WebhooksApi {
    /// Checks `input`'s values, every problem at once; the URL through the SSRF guard.
    #[tracing::instrument(skip_all)]
    async fn changes(
        &self,
        input: EndpointInput,
        creating: bool,
    ) -> Result<Changes, WebhooksError> {
        let mut errors = Vec::new();
        if creating && input.url.is_none() {
            errors.push(FieldError::new("/url", "is required"));
        }
        if creating && input.active.is_some() {
            errors.push(FieldError::new("/active", "is set with PATCH"));
        }
        // Present: the new note, `None` when blank or null (the note goes).
        let description = input
            .description
            .map(|d| d.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty()));
        if description
            .as_ref()
            .and_then(Option::as_deref)
            .is_some_and(|d| d.chars().count() > 255)
        {
            errors.push(FieldError::new(
                "/description",
                "must be at most 255 characters",
            ));
        }
        if let Some(types) = &input.event_types {
            check_event_types(types, &mut errors);
        }
        let url = checked_url(input.url.as_deref(), &mut errors);
        if !errors.is_empty() {
            return Err(WebhooksError::Validation(errors));
        }
        if let Some(url) = &url {
            gsign_platform::ssrf::vet(url, self.services.delivery.allow_loopback)
                .await
                .map_err(|refusal| WebhooksCase::UrlRefused(refusal.to_string()))?;
        }
        Ok(Changes {
            url: url.map(|u| u.to_string()),
            description,
            event_types: input.event_types.map(|mut types| {
                types.sort();
                types.dedup();
                types
            }),
            active: input.active,
        })
    }

    /// The caller's organization's endpoint `id`.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn endpoint(&self, caller: &Caller, id: Uuid) -> Result<Endpoint, WebhooksError> {
        let client = self.services.base.db.connect().await?;
        store::get(&client, caller.org, id, false)
            .await?
            .ok_or(WebhooksError::NotFound("webhook"))
    }

    /// `POST /v1/webhooks`: a new endpoint and its signing secret, shown only in this answer.
    #[tracing::instrument(skip_all)]
    pub async fn create(
        &self,
        caller: &Caller,
        input: EndpointInput,
    ) -> Result<EndpointView, WebhooksError> {
        let changes = self.changes(input, true).await?;
        let id = Uuid::new_v4();
        let (key, ciphertext) = self.services.secrets.create(id).await?;
        let mut conn = self.services.base.db.connect().await?;
        let tx = conn.begin().await?;
        let endpoint = store::insert(
            &tx,
            id,
            caller.org,
            caller.user,
            changes.url.as_deref().unwrap_or_default(),
            changes.description.clone().flatten().as_deref(),
            changes.event_types.as_deref().unwrap_or_default(),
        )
        .await?;
        store::add_secret(&tx, id, &ciphertext).await?;
        let event = outbox::audit(
            &tx,
            &caller.audit(
                "webhook.created",
                "webhook",
                id,
                serde_json::json!({"url": endpoint.url, "event_types": endpoint.event_types}),
            ),
        )
        .await?;
        self.commit_and_publish(tx, vec![event]).await?;
        Ok(EndpointView {
            endpoint,
            secret: Some(secret_text(&key)),
        })
    }

    /// Commits `tx` and publishes its outbox rows (the audit events of endpoint changes).
    #[tracing::instrument(skip_all)]
    async fn commit_and_publish(
        &self,
        tx: gsign_platform::database::Transaction<'_>,
        events: Vec<Uuid>,
    ) -> Result<(), WebhooksError> {
        tx.commit().await?;
        let base = &self.services.base;
        base.relay.publish(&base.db, &events).await;
        Ok(())
    }

    /// `GET /v1/webhooks`: the organization's endpoints, a page at a time (`limit`, `cursor`).
    #[tracing::instrument(skip_all)]
    pub async fn list(
        &self,
        caller: &Caller,
        page: PageRequest,
    ) -> Result<Page<Endpoint>, WebhooksError> {
        let client = self.services.base.db.connect().await?;
        let mut rows = store::list(&client, caller.org, page.after, page.fetch()).await?;
        let next_cursor = page.finish(&mut rows, |e| (e.created_at, e.id));
        Ok(Page {
            data: rows,
            next_cursor,
        })
    }

    /// `PATCH /v1/webhooks/{id}`: changes what `input` holds; absent members keep their value.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn update(
        &self,
        caller: &Caller,
        id: Uuid,
        input: EndpointInput,
    ) -> Result<Endpoint, WebhooksError> {
        let changes = self.changes(input, false).await?;
        let mut conn = self.services.base.db.connect().await?;
        let tx = conn.begin().await?;
        store::get(&tx, caller.org, id, true)
            .await?
            .ok_or(WebhooksError::NotFound("webhook"))?;
        let endpoint = store::update(&tx, id, &changes).await?;
        let event = outbox::audit(
            &tx,
            &caller.audit(
                "webhook.updated",
                "webhook",
                id,
                serde_json::json!({"url": endpoint.url, "event_types": endpoint.event_types,
                                   "active": endpoint.active}),
            ),
        )
        .await?;
        self.commit_and_publish(tx, vec![event]).await?;
        Ok(endpoint)
    }

    /// `DELETE /v1/webhooks/{id}`: removes the endpoint (audited).
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn delete(&self, caller: &Caller, id: Uuid) -> Result<(), WebhooksError> {
        let mut conn = self.services.base.db.connect().await?;
        let tx = conn.begin().await?;
        let endpoint = store::get(&tx, caller.org, id, true)
            .await?
            .ok_or(WebhooksError::NotFound("webhook"))?;
        store::delete(&tx, endpoint.id).await?;
        let event = outbox::audit(
            &tx,
            &caller.audit(
                "webhook.deleted",
                "webhook",
                id,
                serde_json::json!({"url": endpoint.url}),
            ),
        )
        .await?;
        self.commit_and_publish(tx, vec![event]).await
    }

    /// `POST /v1/webhooks/{id}/rotate-secret`: a new secret; the old one keeps signing for a day.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn rotate(&self, caller: &Caller, id: Uuid) -> Result<EndpointView, WebhooksError> {
        // Another organization's or an unknown id is a 404 before KMS is asked for anything;
        // the row is locked again below, after the KMS call (no remote I/O under the lock).
        let client = self.services.base.db.connect().await?;
        store::get(&client, caller.org, id, false)
            .await?
            .ok_or(WebhooksError::NotFound("webhook"))?;
        drop(client);
        let (key, ciphertext) = self.services.secrets.create(id).await?;
        let mut conn = self.services.base.db.connect().await?;
        let tx = conn.begin().await?;
        let endpoint = store::get(&tx, caller.org, id, true)
            .await?
            .ok_or(WebhooksError::NotFound("webhook"))?;
        store::retire_secrets(&tx, id, Utc::now() + ROTATION_OVERLAP).await?;
        store::add_secret(&tx, id, &ciphertext).await?;
        let event = outbox::audit(
            &tx,
            &caller.audit(
                "webhook.secret_rotated",
                "webhook",
                id,
                serde_json::json!({"previous_valid_until": Utc::now() + ROTATION_OVERLAP}),
            ),
        )
        .await?;
        self.commit_and_publish(tx, vec![event]).await?;
        Ok(EndpointView {
            endpoint,
            secret: Some(secret_text(&key)),
        })
    }

    /// A `webhook.test` event for this endpoint only, through the outbox like any event.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn test(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<serde_json::Value, WebhooksError> {
        let base = &self.services.base;
        let mut conn = base.db.connect().await?;
        let tx = conn.begin().await?;
        let endpoint = store::get(&tx, caller.org, id, false)
            .await?
            .ok_or(WebhooksError::NotFound("webhook"))?;
        let (row, event) = outbox::webhook(
            &tx,
            caller.org,
            EventType::WebhookTest,
            serde_json::json!({"endpoint_id": endpoint.id}),
        )
        .await?;
        tx.commit().await?;
        drop(conn);
        base.relay.publish(&base.db, &[row]).await;
        Ok(serde_json::json!({"event_id": event}))
    }
}
