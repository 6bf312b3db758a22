//! Embedded signing: a recipient the sender marks `embedded` signs inside the sender's own
//! page (an iframe) instead of from a mailed link.
//!
//! - `POST /v1/envelopes/{id}/recipients/{recipient_id}/view` (the sender, authorized): a
//!   URL good once, for five minutes: `{APP_URL}/embed/sign?ticket=…` (only the ticket's
//!   hash is kept).
//! - `GET /embed/sign` serves the web app's page with `frame-ancestors` set to the origins the
//!   organization allows (`settings.embed_origins`), so only those pages can frame it.
//! - `POST /v1/signing/embedded` (no session: the ticket is the credential) spends the ticket
//!   and answers a fresh signing token, which that page alone holds (in memory): a second
//!   open of the URL, or one after five minutes, is refused. The signing links a sender hands
//!   out instead of mail (`crate::mail`) are tickets too, traded here by the `/sign` page.

use gsign_platform::database::Session;
use gsign_platform::route_error::RouteError;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::Utc;
use gsign_core::envelopes::is_embed_origin;
use gsign_core::envelopes::{EnvelopeStatus, EvidenceEvent};
use gsign_core::{Env, IntoProblem, Problem};
use gsign_platform::http::{self as web, Caller};
use gsign_platform::lambda::{http_route, HttpHandler, InitFuture, RouteSpec};
use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::error::{EnvelopesCase, EnvelopesError};
use crate::repo::{self, Traded};
use crate::service::EnvelopesApi;

/// How long a view URL may wait to be opened.
pub const VIEW_URL_TTL: Duration = Duration::from_secs(5 * 60);

/// `POST …/recipients/{recipient_id}/view` answer.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "RecipientViewUrl")]
pub struct ViewUrl {
    /// Open it in the iframe, once, within five minutes.
    pub url: String,
    /// When it stops working.
    pub expires_at: chrono::DateTime<Utc>,
}

impl EnvelopesApi {
    /// A single-use view URL for an embedded recipient of an envelope that was sent.
    #[tracing::instrument(skip_all, fields(id = %id, recipient = %recipient))]
    pub(crate) async fn recipient_view(
        &self,
        caller: &Caller,
        id: Uuid,
        recipient: Uuid,
    ) -> Result<ViewUrl, EnvelopesError> {
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        // Any envelope that went out: the page shows a finished one's state (and tells the
        // parent), a sent one's ceremony.
        let envelope = repo::get(&tx, caller.org, id, true)
            .await?
            .ok_or(EnvelopesError::NotFound("envelope"))?;
        if envelope.status == EnvelopeStatus::Draft {
            return Err(EnvelopesCase::NotSent(envelope.status).into());
        }
        let ticket = gsign_platform::credentials::new_token();
        let expires_at = Utc::now() + chrono::Duration::from_std(VIEW_URL_TTL).unwrap_or_default();
        match repo::set_view_ticket(&tx, envelope.id, recipient, &ticket.hash, expires_at).await? {
            None => return Err(EnvelopesError::NotFound("recipient")),
            Some(false) => return Err(EnvelopesError::Area(EnvelopesCase::NotEmbedded)),
            Some(true) => {}
        }
        repo::record(
            &tx,
            caller.org,
            Self::event(
                caller,
                envelope.id,
                "recipient.view_url_issued",
                Some(recipient),
                serde_json::json!({"expires_at": expires_at}),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(ViewUrl {
            url: format!(
                "{}/embed/sign?ticket={}",
                self.settings.app_url,
                ticket.secret.expose_secret()
            ),
            expires_at,
        })
    }
}

// ------------------------------------------------------------------ opening the URL

/// What can go wrong opening an embedded signing URL.
pub type EmbeddedError = RouteError<EmbeddedCase>;

/// What only an embedded signing view refuses or fails with.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedCase {
    /// Unknown or already used.
    #[error("unknown or used view URL")]
    Unknown,
    /// Past its five minutes.
    #[error("view URL expired")]
    Expired,
    /// The web app's page (`{APP_URL}/index.html`) could not be read.
    #[error("web app unavailable: {0:#}")]
    WebAppUnavailable(anyhow::Error),
}

gsign_platform::route_error_area!(EmbeddedCase);

impl IntoProblem for EmbeddedCase {
    fn into_problem(self) -> Problem {
        match self {
            EmbeddedCase::Unknown => Problem::new(
                StatusCode::NOT_FOUND,
                "embedded-link-invalid",
                "Signing view not valid",
            )
            .with_detail(
                "This view URL or handed-out signing link is unknown or was opened already; ask \
                 the sender for a new one.",
            ),
            EmbeddedCase::Expired => Problem::new(
                StatusCode::GONE,
                "embedded-link-expired",
                "Signing view expired",
            )
            .with_detail(
                "View URLs work for five minutes, handed-out signing links until the envelope \
                 expires (at most seven days); ask the sender for a new one.",
            ),
            EmbeddedCase::WebAppUnavailable(err) => {
                tracing::error!(
                    error = format!("{err:#}"),
                    "the web app's page cannot be read"
                );
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "web-app-unavailable",
                    "Signing page unavailable",
                )
                .with_detail("The signing page cannot be served right now; try again shortly.")
                .with_extension("retry_after", serde_json::json!(30))
            }
        }
    }
}

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
        let (org, envelope) = repo::view_ticket_owner(&tx, &ticket_hash)
            .await?
            .ok_or(EmbeddedCase::Unknown)?;
        repo::get(&tx, org, envelope, true)
            .await?
            .ok_or(EmbeddedCase::Unknown)?;
        let traded = repo::trade_view_ticket(&tx, &ticket_hash, &token.hash).await?;
        let (ip, user_agent) = web::client(req);
        let opened = match traded {
            Traded::Unknown => return Err(EmbeddedError::Area(EmbeddedCase::Unknown)),
            Traded::Expired => {
                tx.commit().await?;
                return Err(EmbeddedCase::Expired.into());
            }
            Traded::Opened { envelope } => envelope,
        };
        let found = repo::recipient_by_token(&tx, &token.hash)
            .await?
            .ok_or(EmbeddedCase::Unknown)?;
        // A view URL of an embedded recipient, or a signing link the sender handed out.
        let embedded: bool = tx
            .fetch_one(
                "SELECT embedded FROM recipients WHERE id = :id",
                gsign_platform::params!(id = found.id),
            )
            .await?
            .get("embedded")?;
        repo::record(
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
                repo::embed_origins_of_ticket(&client, &hash).await?
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
