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
//!   out instead of mail (`crate::service::mail`) are tickets too, traded here by the `/sign` page.

use std::time::Duration;

use chrono::Utc;
use gsign_core::envelopes::EnvelopeStatus;
use gsign_platform::http::Caller;
use secrecy::ExposeSecret as _;
use serde::Serialize;
use uuid::Uuid;

use crate::error::{EnvelopesCase, EnvelopesError};
use crate::service::EnvelopesApi;
use crate::store::{self};

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
        let envelope = store::get(&tx, caller.org, id, true)
            .await?
            .ok_or(EnvelopesError::NotFound("envelope"))?;
        if envelope.status == EnvelopeStatus::Draft {
            return Err(EnvelopesCase::NotSent(envelope.status).into());
        }
        let ticket = gsign_platform::credentials::new_token();
        let expires_at = Utc::now() + chrono::Duration::from_std(VIEW_URL_TTL).unwrap_or_default();
        match store::set_view_ticket(&tx, envelope.id, recipient, &ticket.hash, expires_at).await? {
            None => return Err(EnvelopesError::NotFound("recipient")),
            Some(false) => return Err(EnvelopesError::Area(EnvelopesCase::NotEmbedded)),
            Some(true) => {}
        }
        store::record(
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
