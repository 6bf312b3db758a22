//! The certificates area's use cases: a person's certificate from the organization's CA in
//! the HSM, defaults, who may revoke, and what a revoked certificate no longer does.

use gsign_core::certificates::LifecycleConflict;
use gsign_core::Role;
use gsign_functions_certificates::error::{CertificatesCase, CertificatesError};
use gsign_functions_certificates::service::CertificatesApi;
use gsign_tests::use_cases::{caller, function_env, id_of};
use gsign_tests::{Tenant, TestDatabase};
use serde_json::{json, Value};

async fn service(db: &TestDatabase) -> CertificatesApi {
    CertificatesApi::from_env(&function_env("api-create-certificate", db), true)
        .await
        .expect("the service starts")
}

fn view(answer: impl serde::Serialize) -> Value {
    serde_json::to_value(answer).expect("json")
}

#[tokio::test]
async fn a_persons_certificate_comes_from_the_organization_ca_and_only_they_or_an_admin_revoke_it()
{
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let admin_tenant = Tenant::create(&db, "admin").await;
    let member_tenant = admin_tenant.colleague(&db, "member").await;
    let other_member = caller(&admin_tenant.colleague(&db, "member").await, Role::Member);
    let member = caller(&member_tenant, Role::Member);

    let created = view(
        api.create(
            &member,
            serde_json::from_value(
                json!({"label": "Mine", "subject": {"common_name": "Ана Лима"}, "default": true}),
            )
            .expect("body"),
        )
        .await
        .expect("issued"),
    );
    assert_eq!(
        (created["status"].as_str(), created["is_default"].as_bool()),
        (Some("active"), Some(true)),
        "{created}"
    );
    assert_eq!(created["subject_cn"], "Ана Лима", "{created}");
    assert!(
        created["certificate_pem"]
            .as_str()
            .is_some_and(|pem| pem.matches("BEGIN CERTIFICATE").count() >= 2),
        "the certificate and the organization CA: {created}"
    );
    let id = id_of(&created);

    let refused = api
        .revoke(
            &other_member,
            id,
            serde_json::from_value(json!({})).expect("body"),
        )
        .await;
    assert!(
        matches!(
            &refused,
            Err(CertificatesError::Area(CertificatesCase::NotOwner))
        ),
        "{refused:?}"
    );
    let revoked = view(
        api.revoke(
            &caller(&admin_tenant, Role::Admin),
            id,
            serde_json::from_value(json!({"reason": "key_compromise"})).expect("body"),
        )
        .await
        .expect("revoked by an admin"),
    );
    assert_eq!(revoked["status"], "revoked", "{revoked}");
    assert_eq!(revoked["revocation_reason"], "key_compromise", "{revoked}");

    let again = api.set_default(&member, id).await;
    assert!(
        matches!(
            &again,
            Err(CertificatesError::Area(CertificatesCase::Conflict(
                LifecycleConflict::Revoked
            )))
        ),
        "{again:?}"
    );
}

#[tokio::test]
async fn another_organizations_certificate_does_not_exist_for_the_caller() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let owner = caller(&Tenant::create(&db, "admin").await, Role::Admin);
    let stranger = caller(&Tenant::create(&db, "admin").await, Role::Admin);
    let id = id_of(
        api.create(
            &owner,
            serde_json::from_value(
                json!({"label": "Self", "issuance": "self_signed", "subject": {"common_name": "Owner"}}),
            )
            .expect("body"),
        )
        .await
        .expect("made"),
    );
    assert!(matches!(
        api.get(&stranger, id).await,
        Err(CertificatesError::NotFound("certificate"))
    ));
    assert!(matches!(
        api.set_default(&stranger, id).await,
        Err(CertificatesError::NotFound("certificate"))
    ));
    assert!(matches!(
        api.revoke(
            &stranger,
            id,
            serde_json::from_value(json!({})).expect("body")
        )
        .await,
        Err(CertificatesError::NotFound("certificate"))
    ));
    assert_eq!(api.get(&owner, id).await.expect("theirs").id, id);
}

#[tokio::test]
async fn the_free_plan_holds_two_signing_certificates() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let free = caller(
        &Tenant::create_on_free_plan(&db, "admin").await,
        Role::Admin,
    );
    let request = |label: &str| {
        serde_json::from_value(
            json!({"label": label, "issuance": "self_signed", "subject": {"common_name": "Free"}}),
        )
        .expect("body")
    };
    for label in ["first", "second"] {
        api.create(&free, request(label))
            .await
            .expect("within the plan");
    }
    let third = api.create(&free, request("third")).await;
    let Err(CertificatesError::Quota(exceeded)) = &third else {
        panic!("refused by the plan: {third:?}");
    };
    assert_eq!(
        (
            exceeded.limit,
            exceeded.allowed,
            exceeded.used,
            exceeded.plan.as_str()
        ),
        (gsign_core::billing::Limit::Certificates, 2, 2, "free")
    );
}
