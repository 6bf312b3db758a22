//! The document packs' library use cases: clause versions, publishing once, every problem at
//! once, tenancy.

use gsign_core::Role;
use gsign_functions_doc_packs::error::{DocPacksCase, DocPacksError};
use gsign_functions_doc_packs::library::Kind;
use gsign_functions_doc_packs::DocPacksApi;
use gsign_tests::use_cases::{body, caller, function_env};
use gsign_tests::{Tenant, TestDatabase};
use serde_json::json;

async fn service(db: &TestDatabase) -> DocPacksApi {
    DocPacksApi::from_env(&function_env("api-create-clause", db))
        .await
        .expect("the service starts")
}

#[tokio::test]
async fn a_published_clause_never_changes_and_its_next_version_starts_unpublished() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let admin = caller(&Tenant::create(&db, "admin").await, Role::Admin);
    let clause = api
        .create_item(
            &admin,
            Kind::Clause,
            body(json!({"name": "Payment", "body_markdown": "The buyer pays within 30 days.", "variables_json": {}})),
        )
        .await
        .expect("created");
    assert_eq!((clause.version, clause.published_at), (1, None));

    let published = api
        .publish(&admin, Kind::Clause, clause.id)
        .await
        .expect("published");
    assert!(published.published_at.is_some());
    let again = api.publish(&admin, Kind::Clause, clause.id).await;
    assert!(
        matches!(
            &again,
            Err(DocPacksError::Area(DocPacksCase::AlreadyPublished))
        ),
        "{again:?}"
    );

    let next = api
        .new_version(
            &admin,
            Kind::Clause,
            clause.id,
            body(json!({"body_markdown": "The buyer pays within 14 days."})),
        )
        .await
        .expect("a new version");
    assert_eq!(
        (next.name.as_str(), next.version, next.published_at),
        ("Payment", 2, None)
    );
    assert_ne!(next.id, clause.id);
}

#[tokio::test]
async fn a_clause_lists_every_problem_at_once() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let admin = caller(&Tenant::create(&db, "admin").await, Role::Admin);
    let refused = api
        .create_item(
            &admin,
            Kind::Clause,
            body(
                json!({"name": "", "body_markdown": "<script>alert(1)</script>",
                        "variables_json": {"type": "nonsense"}, "role_gate": ["Not A Role"]}),
            ),
        )
        .await;
    let Err(DocPacksError::Validation(errors)) = &refused else {
        panic!("refused as invalid: {refused:?}");
    };
    assert!(errors.len() >= 3, "{errors:?}");
}

#[tokio::test]
async fn another_organizations_clause_does_not_exist_for_the_caller() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let owner = caller(&Tenant::create(&db, "admin").await, Role::Admin);
    let stranger = caller(&Tenant::create(&db, "admin").await, Role::Admin);
    let clause = api
        .create_item(
            &owner,
            Kind::Clause,
            body(json!({"name": "Theirs", "body_markdown": "x", "variables_json": {}})),
        )
        .await
        .expect("created");
    assert!(matches!(
        api.publish(&stranger, Kind::Clause, clause.id).await,
        Err(DocPacksError::NotFound(_))
    ));
    assert!(matches!(
        api.new_version(
            &stranger,
            Kind::Clause,
            clause.id,
            body(json!({"body_markdown": "y"}))
        )
        .await,
        Err(DocPacksError::NotFound(_))
    ));
}
