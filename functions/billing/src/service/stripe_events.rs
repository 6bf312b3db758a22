//! `POST /v1/billing/stripe-webhook`: Stripe's signed events, verified and applied once.

use chrono::Utc;

pub use crate::error::BillingError;

use super::BillingApi;
use crate::store::{self, Outcome};

impl BillingApi {
    /// Verifies `payload` against its `Stripe-Signature` header and applies the event once;
    /// says what it did (Stripe retries until it gets a 2xx).
    #[tracing::instrument(skip_all)]
    pub async fn stripe_webhook(
        &self,
        signature: Option<&str>,
        payload: &[u8],
    ) -> Result<Outcome, BillingError> {
        gsign_core::billing::verify_stripe_signature(
            signature,
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
        Ok(outcome)
    }
}
