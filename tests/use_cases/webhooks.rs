//! The webhooks area's use cases: endpoints, their secrets, the SSRF guard, tenancy and the
//! audit trail.

use gsign_core::Role;
use gsign_functions_webhooks::error::{WebhooksCase, WebhooksError};
use gsign_functions_webhooks::service::{EndpointInput, WebhooksApi};
use gsign_platform::pagination::PageRequest;
use gsign_tests::use_cases::{caller, function_env, id_of};
use gsign_tests::{Tenant, TestDatabase};
use serde_json::{json, Value};

async fn service(db: &TestDatabase) -> WebhooksApi {
    WebhooksApi::from_env(&function_env("api-create-webhook", db))
        .await
        .expect("the service starts")
}

fn input(body: Value) -> EndpointInput {
    serde_json::from_value(body).expect("a well-formed body")
}

/// A new endpoint of `who`'s organization; its id.
async fn endpoint_of(api: &WebhooksApi, who: &gsign_platform::http::Caller) -> uuid::Uuid {
    id_of(
        api.create(who, input(json!({"url": "https://127.0.0.1:8443/hooks"})))
            .await
            .expect("created"),
    )
}

fn secret(view: &Value) -> &str {
    view["secret"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_new_endpoint_shows_its_secret_once_and_rotating_replaces_it() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let admin = caller(&Tenant::create(&db, "admin").await, Role::Admin);

    let created = api
        .create(
            &admin,
            input(json!({"url": "https://127.0.0.1:8443/hooks", "event_types": ["envelope.completed"]})),
        )
        .await
        .expect("created");
    let created = serde_json::to_value(created).expect("json");
    assert!(secret(&created).starts_with("whsec_"), "{created}");
    let id = id_of(&created);

    let listed = serde_json::to_value(
        api.list(&admin, PageRequest::first(50))
            .await
            .expect("listed"),
    )
    .expect("json");
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1), "{listed}");
    assert!(listed["data"][0].get("secret").is_none(), "{listed}");
    assert_eq!(
        listed["data"][0]["event_types"],
        json!(["envelope.completed"])
    );

    let rotated =
        serde_json::to_value(api.rotate(&admin, id).await.expect("rotated")).expect("json");
    assert!(secret(&rotated).starts_with("whsec_"), "{rotated}");
    assert_ne!(secret(&rotated), secret(&created));
}

#[tokio::test]
async fn another_organizations_endpoint_does_not_exist_for_the_caller() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let owner = caller(&Tenant::create(&db, "admin").await, Role::Admin);
    let stranger = caller(&Tenant::create(&db, "admin").await, Role::Admin);
    let id = endpoint_of(&api, &owner).await;

    assert!(matches!(
        api.endpoint(&stranger, id).await,
        Err(WebhooksError::NotFound("webhook"))
    ));
    assert!(matches!(
        api.rotate(&stranger, id).await,
        Err(WebhooksError::NotFound("webhook"))
    ));
    assert!(matches!(
        api.delete(&stranger, id).await,
        Err(WebhooksError::NotFound("webhook"))
    ));
    // Still there for its owner.
    assert_eq!(api.endpoint(&owner, id).await.expect("found").id, id);
}

#[tokio::test]
async fn urls_the_guard_refuses_are_answered_with_its_reason_and_nothing_is_stored() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let tenant = Tenant::create(&db, "admin").await;
    let admin = caller(&tenant, Role::Admin);
    // Addresses inside a network: the guard's reason.
    for url in [
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.8/hooks",
    ] {
        let refused = api.create(&admin, input(json!({ "url": url }))).await;
        assert!(
            matches!(&refused, Err(WebhooksError::Area(WebhooksCase::UrlRefused(reason))) if !reason.is_empty()),
            "{url}: {refused:?}"
        );
    }
    // Not an https URL at all: invalid input, at `/url`.
    let refused = api
        .create(&admin, input(json!({"url": "ftp://127.0.0.1/hooks"})))
        .await;
    assert!(
        matches!(&refused, Err(WebhooksError::Validation(errors)) if errors.iter().any(|e| e.pointer == "/url"))
            || matches!(
                &refused,
                Err(WebhooksError::Area(WebhooksCase::UrlRefused(_)))
            ),
        "{refused:?}"
    );
    let stored: i64 = db
        .connect()
        .await
        .query_one(
            "SELECT count(*) FROM webhook_endpoints WHERE organization_id = $1",
            &[&tenant.org],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn every_problem_of_an_input_is_listed_at_once() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let admin = caller(&Tenant::create(&db, "admin").await, Role::Admin);
    let Err(WebhooksError::Validation(errors)) = api
        .create(
            &admin,
            input(json!({"description": "x".repeat(256), "event_types": ["no.such.event"]})),
        )
        .await
    else {
        panic!("refused as invalid");
    };
    let mut pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
    pointers.sort_unstable();
    pointers.dedup();
    assert!(pointers.contains(&"/url"), "{errors:?}");
    assert!(pointers.contains(&"/description"), "{errors:?}");
    assert!(
        pointers.iter().any(|p| p.starts_with("/event_types")),
        "{errors:?}"
    );
}

#[tokio::test]
async fn creating_and_deleting_an_endpoint_are_audited_through_the_outbox() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let tenant = Tenant::create(&db, "admin").await;
    let admin = caller(&tenant, Role::Admin);
    let id = endpoint_of(&api, &admin).await;
    api.delete(&admin, id).await.expect("deleted");
    assert!(matches!(
        api.endpoint(&admin, id).await,
        Err(WebhooksError::NotFound(_))
    ));

    let rows = db
        .connect()
        .await
        .query(
            "SELECT payload->>'action', payload->>'resource_id', published_at IS NOT NULL \
             FROM outbox WHERE organization_id = $1 AND kind = 'audit' \
             AND payload->>'resource_type' = 'webhook' ORDER BY created_at",
            &[&tenant.org],
        )
        .await
        .expect("outbox");
    let trail: Vec<(String, String, bool)> = rows
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    assert_eq!(
        trail,
        [
            ("webhook.created".to_owned(), id.to_string(), true),
            ("webhook.deleted".to_owned(), id.to_string(), true),
        ],
        "published after commit, in order"
    );
}

#[tokio::test]
async fn a_patch_keeps_the_note_it_leaves_out_and_removes_one_set_to_null_or_blank() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let admin = caller(&Tenant::create(&db, "admin").await, Role::Admin);
    let created = api
        .create(
            &admin,
            input(json!({"url": "https://127.0.0.1:8443/hooks", "description": "CRM sync"})),
        )
        .await
        .expect("created");
    let id = id_of(serde_json::to_value(created).expect("json"));
    let note = |endpoint| serde_json::to_value(endpoint).expect("json")["description"].clone();

    let paused = api
        .update(&admin, id, input(json!({"active": false})))
        .await
        .expect("paused");
    assert_eq!(note(paused), json!("CRM sync"));
    let removed = api
        .update(&admin, id, input(json!({"description": null})))
        .await
        .expect("updated");
    assert_eq!(note(removed), Value::Null);
    api.update(&admin, id, input(json!({"description": "Billing"})))
        .await
        .expect("updated");
    let blanked = api
        .update(&admin, id, input(json!({"description": "   "})))
        .await
        .expect("updated");
    assert_eq!(note(blanked), Value::Null);
}
