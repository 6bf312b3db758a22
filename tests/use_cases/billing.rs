//! The billing area's use cases: Stripe's subscription events, verified and applied once.

use gsign_core::Role;
use gsign_functions_billing::{BillingApi, BillingCase, BillingError};
use gsign_tests::use_cases::{caller, function_env};
use gsign_tests::{Tenant, TestDatabase, STRIPE_TEST_SECRET};
use serde_json::{json, Value};

async fn service(db: &TestDatabase) -> BillingApi {
    BillingApi::from_env(&function_env("api-stripe-webhook", db), true, false)
        .await
        .expect("the service starts")
}

/// Stripe's POST of `event`, signed with `secret` now: its `Stripe-Signature` and its body.
struct Delivery {
    signature: String,
    body: Vec<u8>,
}

fn delivery(event: &Value, secret: &str) -> Delivery {
    let body = serde_json::to_vec(event).expect("json");
    let signature =
        gsign_core::billing::stripe_signature_header(secret, chrono::Utc::now().timestamp(), &body);
    Delivery { signature, body }
}

/// `customer.subscription.created` for `org` on the Business plan, this period.
fn subscribed(org: uuid::Uuid) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "id": format!("evt_{org}"),
        "type": "customer.subscription.created",
        "created": now - 60,
        "data": {"object": {
            "id": format!("sub_{org}"),
            "object": "subscription",
            "customer": format!("cus_{org}"),
            "status": "active",
            "current_period_start": now - 86_400,
            "current_period_end": now + 29 * 86_400,
            "metadata": {"organization_id": org},
            "items": {"data": [{"price": {"id": "price_gsign_business_monthly"}}]},
        }},
    })
}

async fn outcome(api: &BillingApi, delivery: &Delivery) -> Result<&'static str, BillingError> {
    api.stripe_webhook(Some(&delivery.signature), &delivery.body)
        .await
}

async fn plan_code(api: &BillingApi, tenant: &Tenant) -> String {
    let view = api
        .subscription(&caller(tenant, Role::Owner))
        .await
        .expect("the subscription");
    serde_json::to_value(view).expect("json")["plan"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_subscription_event_is_applied_once_and_a_forged_one_never() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let owner = Tenant::create_on_free_plan(&db, "owner").await;
    let event = subscribed(owner.org);

    let forged = outcome(&api, &delivery(&event, "whsec_not_ours")).await;
    assert!(
        matches!(&forged, Err(BillingError::Area(BillingCase::Signature(_)))),
        "{forged:?}"
    );
    assert_eq!(plan_code(&api, &owner).await, "free");

    for expected in ["applied", "duplicate"] {
        let answer = outcome(&api, &delivery(&event, STRIPE_TEST_SECRET))
            .await
            .expect("verified");
        assert_eq!(answer, expected);
    }
    assert_eq!(plan_code(&api, &owner).await, "business");
}
