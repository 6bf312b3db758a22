//! The document packs' library use cases: clause versions, publishing once, every problem at
//! once, tenancy.

use gsign_core::Role;
use gsign_functions_doc_packs::error::{DocPacksCase, DocPacksError};
use gsign_functions_doc_packs::service::library::{ItemQuery, Kind};
use gsign_functions_doc_packs::service::DocPacksApi;
use gsign_platform::pagination::PageRequest;
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

#[tokio::test]
async fn a_clause_larger_than_a_data_api_row_reads_back_whole_alone_and_in_lists() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let admin = caller(&Tenant::create(&db, "admin").await, Role::Admin);
    // ~150 KB of two-byte Cyrillic: larger than a Data API row (64 KB), and its slices end
    // inside characters.
    let long: String = (0..1500)
        .map(|i| format!("{i}. Худалдагч барааг гэрээнд заасан хугацаанд хүлээлгэн өгнө.\n\n"))
        .collect();
    assert!(long.len() > 100 * 1024);
    let clause = api
        .create_item(
            &admin,
            Kind::Clause,
            body(json!({"name": "Нөхцөл", "body_markdown": long, "variables_json": {}})),
        )
        .await
        .expect("created");
    assert_eq!(clause.get("body_markdown").as_str(), Some(long.as_str()));
    api.create_item(
        &admin,
        Kind::Clause,
        body(json!({"name": "Short", "body_markdown": "Paid in 30 days.", "variables_json": {}})),
    )
    .await
    .expect("created");

    // Publishing answers the version as read again, alone.
    let read = api
        .publish(&admin, Kind::Clause, clause.id)
        .await
        .expect("published");
    assert_eq!(read.get("body_markdown").as_str(), Some(long.as_str()));
    let listed = api
        .list_items(
            &admin,
            Kind::Clause,
            &ItemQuery {
                page: PageRequest::first(50),
                name: None,
                active: None,
                published: None,
                city: None,
                role: None,
            },
        )
        .await
        .expect("listed");
    let bodies: Vec<usize> = listed
        .data
        .iter()
        .map(|item| item.get("body_markdown").as_str().map_or(0, str::len))
        .collect();
    assert_eq!(bodies, [16, long.len()], "newest first, both whole");
}
