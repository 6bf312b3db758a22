//! `POST /v1/billing/stripe-webhook`: Stripe's signed events, verified and applied once.

use chrono::Utc;
use gsign_platform::http::{self as web};
use http::StatusCode;
use lambda_http::{Body, Request, Response};

pub use crate::error::BillingError;

use super::BillingApi;
use crate::store;

impl BillingApi {
    /// Verifies and applies one Stripe event; answers what it did (Stripe retries non-2xx).
    #[tracing::instrument(skip_all)]
    pub async fn stripe_webhook(&self, req: &Request) -> Result<Response<Body>, BillingError> {
        let payload: &[u8] = req.body().as_ref();
        let header = req
            .headers()
            .get("stripe-signature")
            .and_then(|v| v.to_str().ok());
        gsign_core::billing::verify_stripe_signature(
            header,
            payload,
            &self.stripe_secrets,
            Utc::now().timestamp(),
        )?;
        let event: serde_json::Value = serde_json::from_slice(payload)
            .map_err(|e| BillingError::invalid("", format!("not a JSON event: {e}")))?;
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let outcome = store::apply(&tx, &event).await?;
        tx.commit().await?;
        tracing::info!(event = %event["id"], kind = %event["type"], outcome, "stripe event");
        Ok(web::json(
            StatusCode::OK,
            &serde_json::json!({"received": true, "outcome": outcome}),
        ))
    }
}
