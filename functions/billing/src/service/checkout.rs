//! `POST /v1/billing/checkout` and `POST /v1/billing/portal`: links to Stripe's hosted
//! Checkout (to subscribe or upgrade to a plan) and customer portal (to change or cancel).
//! The subscription itself changes only when Stripe's signed event arrives (`stripe_events.rs`);
//! Checkout carries the organization id in the subscription's metadata for that.

use gsign_platform::http::Caller;
use serde::Deserialize;
use serde_json::Value;

use super::BillingApi;
use crate::error::{BillingCase, BillingError};
use crate::store;

/// `POST /v1/billing/checkout` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutInput {
    /// The code of an active paid plan (`pro`, `business`).
    plan: String,
}

/// How the Stripe API is reached.
pub struct StripeApi {
    /// `STRIPE_API_BASE` (`https://api.stripe.com`).
    pub base: String,
    /// `STRIPE_SECRET_KEY`.
    pub secret_key: String,
    /// Built once per container.
    pub client: reqwest::Client,
    /// `APP_URL`: where Stripe sends people back.
    pub app_url: String,
}

impl StripeApi {
    /// POSTs `form` to `path`; the JSON object Stripe answers.
    #[tracing::instrument(skip_all)]
    async fn post(&self, path: &str, form: &[(String, String)]) -> Result<Value, BillingError> {
        let response = self
            .client
            .post(format!("{}{path}", self.base.trim_end_matches('/')))
            .basic_auth(&self.secret_key, None::<&str>)
            .form(form)
            .send()
            .await
            .map_err(|e| BillingCase::Stripe(format!("unreachable: {e}")))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| BillingCase::Stripe(format!("answered {status} without JSON: {e}")))?;
        if !status.is_success() {
            return Err(BillingCase::Stripe(format!(
                "answered {status}: {}",
                body["error"]["message"].as_str().unwrap_or("no message")
            ))
            .into());
        }
        Ok(body)
    }
}

fn pair(key: &str, value: impl Into<String>) -> (String, String) {
    (key.to_owned(), value.into())
}

impl BillingApi {
    fn stripe(&self) -> Result<&StripeApi, BillingError> {
        self.stripe.as_ref().ok_or_else(|| {
            BillingError::Internal(anyhow::anyhow!("this function has no Stripe client"))
        })
    }

    /// The organization's Stripe customer, if it has subscribed before.
    #[tracing::instrument(skip_all)]
    async fn stripe_customer(&self, caller: &Caller) -> Result<Option<String>, BillingError> {
        let session = self.base.db.connect().await?;
        Ok(store::stripe_customer(&session, caller.org).await?)
    }

    /// A Checkout session for `plan`: `{id, url}`.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn checkout(
        &self,
        caller: &Caller,
        input: CheckoutInput,
    ) -> Result<Value, BillingError> {
        let stripe = self.stripe()?;
        let price = {
            let session = self.base.db.connect().await?;
            store::stripe_price(&session, &input.plan).await?
        };
        let Some(price) = price else {
            return Err(BillingError::invalid(
                "/plan",
                "is not a paid plan you can subscribe to (pro, business)",
            ));
        };
        let org = caller.org.to_string();
        let mut form = vec![
            pair("mode", "subscription"),
            pair("line_items[0][price]", price),
            pair("line_items[0][quantity]", "1"),
            pair("client_reference_id", org.clone()),
            pair("metadata[organization_id]", org.clone()),
            pair("subscription_data[metadata][organization_id]", org),
            pair(
                "success_url",
                format!("{}/billing?checkout=success", stripe.app_url),
            ),
            pair(
                "cancel_url",
                format!("{}/billing?checkout=canceled", stripe.app_url),
            ),
        ];
        if let Some(customer) = self.stripe_customer(caller).await? {
            form.push(pair("customer", customer));
        }
        let session = stripe.post("/v1/checkout/sessions", &form).await?;
        Ok(serde_json::json!({"id": session["id"], "url": session["url"]}))
    }

    /// A customer-portal session: `{url}`; 409 before the organization has subscribed.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn portal(&self, caller: &Caller) -> Result<Value, BillingError> {
        let stripe = self.stripe()?;
        let Some(customer) = self.stripe_customer(caller).await? else {
            return Err(BillingCase::NoStripeCustomer.into());
        };
        let session = stripe
            .post(
                "/v1/billing_portal/sessions",
                &[
                    pair("customer", customer),
                    pair("return_url", format!("{}/billing", stripe.app_url)),
                ],
            )
            .await?;
        Ok(serde_json::json!({"url": session["url"]}))
    }
}
