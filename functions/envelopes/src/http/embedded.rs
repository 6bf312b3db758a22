//! Embedded signing's HTTP side: `POST /v1/signing/embedded` (a view URL's ticket traded
//! for the recipient's signing token) and the framed signing page with its frame-ancestors
//! policy.

use crate::error::{EmbeddedCase, EmbeddedError};
use crate::service::EnvelopesApi;
use crate::store::{self, Traded};
use anyhow::Context as _;
use async_trait::async_trait;
use chrono::Utc;
use gsign_core::envelopes::is_embed_origin;
use gsign_core::envelopes::EvidenceEvent;
use gsign_core::Env;
use gsign_platform::http::{self as web};
use gsign_platform::lambda::{http_route, HttpHandler, InitFuture, RouteSpec};
use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;
use uuid::Uuid;

/// `POST /v1/signing/embedded` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "OpenEmbeddedSigningInput")]
pub(crate) struct Open {
    /// The `ticket` of the view URL or handed-out signing link.
    ticket: String,
}

/// `POST /v1/signing/embedded` answer.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "EmbeddedSigningOpened")]
pub(crate) struct Opened {
    /// The signing token this page uses for the ceremony routes (`/v1/signing/{token}`).
    token: String,
    /// The envelope.
    envelope_id: Uuid,
}

struct OpenRoute {
    api: EnvelopesApi,
}

impl OpenRoute {
    #[tracing::instrument(skip_all)]
    async fn open(&self, req: &Request) -> Result<Opened, EmbeddedError> {
        let input: Open = web::parse_json(req, 4096)?;
        if input.ticket.len() < 32 || input.ticket.len() > 128 {
            return Err(EmbeddedCase::Unknown.into());
        }
        let ticket_hash = gsign_platform::credentials::sha256_hex(&input.ticket);
        let token = gsign_platform::credentials::new_token();
        let mut conn = self.api.base.db.connect().await?;
        let tx = conn.begin().await?;
        // The envelope's row lock first, as every evidence write holds it (the signing worker
        // may be writing this envelope's chain right now).
        let (org, envelope) = store::view_ticket_owner(&tx, &ticket_hash)
            .await?
            .ok_or(EmbeddedCase::Unknown)?;
        store::get(&tx, org, envelope, true)
            .await?
            .ok_or(EmbeddedCase::Unknown)?;
        let traded = store::trade_view_ticket(&tx, &ticket_hash, &token.hash).await?;
        let (ip, user_agent) = web::client(req);
        let opened = match traded {
            Traded::Unknown => return Err(EmbeddedError::Area(EmbeddedCase::Unknown)),
            Traded::Expired => {
                tx.commit().await?;
                return Err(EmbeddedCase::Expired.into());
            }
            Traded::Opened { envelope } => envelope,
        };
        let found = store::recipient_by_token(&tx, &token.hash)
            .await?
            .ok_or(EmbeddedCase::Unknown)?;
        // A view URL of an embedded recipient, or a signing link the sender handed out.
        let embedded = store::is_embedded(&tx, found.id).await?;
        store::record(
            &tx,
            found.organization_id,
            EvidenceEvent {
                envelope_id: opened,
                sequence: 0,
                action: if embedded {
                    "recipient.view_url_opened"
                } else {
                    "recipient.signing_link_opened"
                }
                .to_owned(),
                actor_type: "recipient".to_owned(),
                actor_id: Some(found.id),
                recipient_id: Some(found.id),
                ip,
                user_agent,
                details: serde_json::json!({}),
                occurred_at: Utc::now(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Opened {
            token: token.secret.expose_secret().to_owned(),
            envelope_id: opened,
        })
    }
}

#[async_trait]
impl HttpHandler for OpenRoute {
    async fn handle(&self, req: Request) -> Response<Body> {
        match self.open(&req).await {
            Ok(opened) => web::json(StatusCode::OK, &opened),
            Err(err) => web::error(err, &req),
        }
    }
}

/// The cold start of `POST /v1/signing/embedded`, declared by `spec`.
pub(crate) fn init_open(env: Env, spec: &'static RouteSpec) -> InitFuture {
    Box::pin(async move {
        let api = EnvelopesApi::from_env(&env).await?;
        let limiter = api.base.limiter.clone();
        let db = api.base.db.clone();
        Ok(http_route(Arc::new(OpenRoute { api }), spec, limiter, db))
    })
}

// ------------------------------------------------------------------ the framed page

/// The embedded page's Content-Security-Policy: the app's own policy with `frame-ancestors`
/// the organization's origins (`'none'` when it lists none, or the ticket is unknown).
pub fn embedded_policy(document_origin: &str, ancestors: &[String]) -> String {
    let allowed: Vec<&str> = ancestors
        .iter()
        .map(String::as_str)
        .filter(|o| is_embed_origin(o))
        .collect();
    let frame_ancestors = if allowed.is_empty() {
        "'none'".to_owned()
    } else {
        allowed.join(" ")
    };
    format!(
        "default-src 'self'; script-src 'self'; worker-src 'self' blob:; style-src 'self'; \
         img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self' {document_origin}; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {frame_ancestors}"
    )
}

struct EmbedPage {
    api: EnvelopesApi,
    /// Where the app's `index.html` is (`{APP_URL}/index.html`), read once per container.
    index_url: String,
    index: OnceCell<String>,
    http: reqwest::Client,
    document_origin: String,
}

impl EmbedPage {
    #[tracing::instrument(skip_all)]
    async fn index(&self) -> anyhow::Result<&str> {
        self.index
            .get_or_try_init(|| async {
                let response = self
                    .http
                    .get(&self.index_url)
                    .send()
                    .await
                    .with_context(|| format!("fetching {}", self.index_url))?;
                anyhow::ensure!(
                    response.status().is_success(),
                    "{} answered {}",
                    self.index_url,
                    response.status()
                );
                Ok(response.text().await?)
            })
            .await
            .map(String::as_str)
    }

    #[tracing::instrument(skip_all)]
    async fn page(&self, req: &Request) -> Result<Response<Body>, EmbeddedError> {
        let ancestors = match web::query(req, "ticket") {
            Some(ticket) if (32..=128).contains(&ticket.len()) => {
                let client = self.api.base.db.connect().await?;
                let hash = gsign_platform::credentials::sha256_hex(ticket);
                store::embed_origins_of_ticket(&client, &hash).await?
            }
            _ => Vec::new(),
        };
        let html = self
            .index()
            .await
            .map_err(EmbeddedCase::WebAppUnavailable)?
            .to_owned();
        let mut response = Response::new(Body::from(html));
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(
            http::header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&embedded_policy(&self.document_origin, &ancestors))
                .map_err(|e| EmbeddedError::Internal(e.into()))?,
        );
        headers.insert(
            http::header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        headers.insert(
            http::header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
        Ok(response)
    }
}

#[async_trait]
impl HttpHandler for EmbedPage {
    async fn handle(&self, req: Request) -> Response<Body> {
        match self.page(&req).await {
            Ok(response) => response,
            Err(err) => web::error(err, &req),
        }
    }
}

/// The cold start of the embedded signing page, declared by `spec`.
pub(crate) fn init_page(env: Env, spec: &'static RouteSpec) -> InitFuture {
    Box::pin(async move {
        let api = EnvelopesApi::from_env(&env).await?;
        let limiter = api.base.limiter.clone();
        let bucket = env.get("DOCUMENTS_BUCKET").unwrap_or_default().to_owned();
        let region = env.get("AWS_REGION").unwrap_or("us-east-1").to_owned();
        // The PDF links point at S3: at the local endpoint when there is one.
        let document_origin = env
            .get("AWS_ENDPOINT_URL")
            .and_then(|e| url::Url::parse(e).ok())
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|| format!("https://{bucket}.s3.{region}.amazonaws.com"));
        let page = EmbedPage {
            index_url: format!("{}/index.html", api.settings.app_url),
            api,
            index: OnceCell::new(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .map_err(anyhow::Error::from)?,
            document_origin,
        };
        let db = page.api.base.db.clone();
        Ok(http_route(Arc::new(page), spec, limiter, db))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_framed_page_names_only_valid_ancestors_and_none_by_default() {
        let policy = embedded_policy("https://b.s3.eu.amazonaws.com", &[]);
        assert!(policy.ends_with("frame-ancestors 'none'"), "{policy}");
        let policy = embedded_policy(
            "https://b.s3.eu.amazonaws.com",
            &[
                "https://a.mn".to_owned(),
                "https://x.mn; script-src *".to_owned(),
            ],
        );
        assert!(policy.ends_with("frame-ancestors https://a.mn"), "{policy}");
        assert!(!policy.contains("unsafe"), "{policy}");
    }
}
