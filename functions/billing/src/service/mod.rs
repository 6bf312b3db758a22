//! The billing service: the organization's plan, subscription and usage (`usage`), Stripe's
//! signed events (`stripe_events`), and the hosted Checkout and portal (`checkout`).

mod checkout;
mod stripe_events;
mod usage;

pub use checkout::{CheckoutInput, StripeApi};
pub use usage::{UsageRange, UsageReport};

use chrono::NaiveDate;
use gsign_core::Env;
use gsign_platform::lambda::StartupError;
use gsign_platform::service::{Base, BaseConfig};
use schemars::JsonSchema;
use serde::Serialize;

pub use crate::error::{BillingCase, BillingError};

/// `GET /v1/billing/subscription` answer.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SubscriptionView {
    /// The plan in force now, and its current period.
    plan: gsign_platform::billing::CurrentPlan,
    /// The subscription's status (`active`, `trialing`, `past_due`, `canceled`,
    /// `incomplete`, `unpaid`); null without a subscription (the free plan).
    #[schemars(required, extend("type" = ["string", "null"]))]
    status: Option<String>,
    /// The code of a downgrade that applies at the period's end; null if none.
    #[schemars(required, extend("type" = ["string", "null"]))]
    pending_plan: Option<String>,
    /// Usage in the current period, per type.
    #[schemars(with = "UsageTotals")]
    usage: serde_json::Value,
}

/// Usage per type.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
pub(crate) struct UsageTotals {
    /// Envelopes sent.
    envelope: i64,
    /// Signatures applied.
    signature: i64,
    /// Certificates created.
    certificate: i64,
}

/// One day of usage.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct UsageDay {
    /// The day (UTC).
    day: NaiveDate,
    /// Envelopes sent that day.
    envelope: i64,
    /// Signatures applied that day.
    signature: i64,
    /// Certificates created that day.
    certificate: i64,
}

/// The service behind the routes.
pub struct BillingApi {
    pub(crate) base: Base,
    /// `STRIPE_WEBHOOK_SECRETS`: the endpoint's signing secrets (comma-separated; two during
    /// a rotation). Only the webhook reads it.
    stripe_secrets: Vec<String>,
    /// The Stripe API (the checkout and portal routes).
    stripe: Option<StripeApi>,
}

impl BillingApi {
    /// Reads the configuration from `env` (every problem at once) and builds the clients:
    /// the Stripe webhook's signing secrets only `with_webhook_secrets`, the Stripe API only
    /// `with_stripe_api` (the checkout and portal routes).
    pub async fn from_env(
        env: &Env,
        with_webhook_secrets: bool,
        with_stripe_api: bool,
    ) -> Result<Self, StartupError> {
        let mut r = env.reader();
        let base = BaseConfig::read(&mut r);
        let secrets = if with_webhook_secrets {
            r.required::<String>("STRIPE_WEBHOOK_SECRETS")
        } else {
            Some(String::new())
        };
        let stripe = with_stripe_api.then(|| {
            let api_base = r.or("STRIPE_API_BASE", "https://api.stripe.com".to_owned());
            let key = r.required::<String>("STRIPE_SECRET_KEY");
            let app_url = r.required::<String>("APP_URL");
            (api_base, key, app_url)
        });
        let (base, secrets) = r
            .finish(|| Some((base?, secrets?)))
            .map_err(StartupError::from)?;
        let stripe = match stripe {
            Some((api_base, Some(secret_key), Some(app_url))) => Some(StripeApi {
                base: api_base,
                secret_key,
                client: reqwest::Client::builder()
                    .timeout(std::time::Duration::from_secs(20))
                    .build()
                    .map_err(|e| StartupError::Setup(e.into()))?,
                app_url: app_url.trim_end_matches('/').to_owned(),
            }),
            _ => None,
        };
        let stripe_secrets = secrets
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(Self {
            base: Base::build(base).await?,
            stripe_secrets,
            stripe,
        })
    }
}
