//! The documents area's use cases: declaring an upload, readiness, deletion and what blocks
//! it, tenancy.

use gsign_core::documents::{DeletionBlocker, DocumentStatus};
use gsign_core::Role;
use gsign_functions_documents::error::{DocumentsCase, DocumentsError};
use gsign_functions_documents::service::{DocumentsApi, DownloadVariant};
use gsign_functions_envelopes::service::EnvelopesApi;
use gsign_tests::use_cases::{caller, document_row, function_env, id_of};
use gsign_tests::{Tenant, TestDatabase};
use serde_json::json;

async fn service(db: &TestDatabase) -> DocumentsApi {
    DocumentsApi::from_env(&function_env("api-create-document", db))
        .await
        .expect("the service starts")
}

fn declaration(body: serde_json::Value) -> gsign_core::documents::DocumentDeclaration {
    serde_json::from_value(body).expect("a well-formed body")
}

#[tokio::test]
async fn a_declared_document_gets_an_upload_url_and_is_not_downloadable_until_ingested() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let owner = caller(&Tenant::create(&db, "admin").await, Role::Admin);

    let created = api
        .create(
            &owner,
            declaration(
                json!({"file_name": "Гэрээ.pdf", "content_type": "application/pdf", "size": 2048}),
            ),
        )
        .await
        .expect("declared");
    let answer = serde_json::to_value(&created).expect("json");
    assert!(
        answer["upload"]["url"]
            .as_str()
            .is_some_and(|url| url.contains("X-Amz-Signature")),
        "{answer}"
    );
    let id = id_of(&created);
    let document = api.document(&owner, id).await.expect("found");
    assert_eq!(document.status, DocumentStatus::Processing);

    let download = api.download(&owner, id, DownloadVariant::Original).await;
    assert!(
        matches!(
            &download,
            Err(DocumentsError::Area(DocumentsCase::NotReady {
                status: DocumentStatus::Processing,
                ..
            }))
        ),
        "{download:?}"
    );
}

#[tokio::test]
async fn a_declaration_lists_every_problem_at_once() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let owner = caller(&Tenant::create(&db, "admin").await, Role::Admin);
    let refused = api
        .create(
            &owner,
            declaration(json!({"file_name": " ", "content_type": "image/gif", "size": 0})),
        )
        .await;
    let Err(DocumentsError::Validation(errors)) = &refused else {
        panic!("refused: {refused:?}");
    };
    assert!(errors.len() >= 2, "{errors:?}");
}

#[tokio::test]
async fn a_document_an_envelope_uses_is_not_deleted_and_another_tenant_cannot_see_it() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let tenant = Tenant::create(&db, "admin").await;
    let owner = caller(&tenant, Role::Admin);
    let document = document_row(&db, &tenant, "ready").await;
    let envelopes = EnvelopesApi::from_env(&function_env("api-create-envelope", &db))
        .await
        .expect("the envelopes service starts");
    envelopes
        .create(
            &owner,
            serde_json::from_value(json!({"document_id": document})).expect("body"),
        )
        .await
        .expect("a draft on it");

    let refused = api.delete(&owner, document).await;
    assert!(
        matches!(
            &refused,
            Err(DocumentsError::Area(DocumentsCase::Undeletable(
                DeletionBlocker::InUse
            )))
        ),
        "{refused:?}"
    );
    let stranger = caller(&Tenant::create(&db, "admin").await, Role::Admin);
    assert!(matches!(
        api.document(&stranger, document).await,
        Err(DocumentsError::NotFound(_))
    ));
    assert!(matches!(
        api.delete(&stranger, document).await,
        Err(DocumentsError::NotFound(_))
    ));
    // Still there for its owner.
    assert_eq!(
        api.document(&owner, document).await.expect("found").id,
        document
    );
}

#[tokio::test]
async fn a_deleted_document_is_gone() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let owner = caller(&Tenant::create(&db, "admin").await, Role::Admin);
    let id = id_of(
        api.create(
            &owner,
            declaration(
                json!({"file_name": "draft.pdf", "content_type": "application/pdf", "size": 10}),
            ),
        )
        .await
        .expect("declared"),
    );
    api.delete(&owner, id).await.expect("deleted");
    assert!(matches!(
        api.document(&owner, id).await,
        Err(DocumentsError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_two_thousand_page_document_reads_back_with_every_page_and_takes_fields_on_its_last() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let tenant = Tenant::create(&db, "admin").await;
    let owner = caller(&tenant, Role::Admin);
    let id = document_row(&db, &tenant, "ready").await;
    // 2000 pages (PDF_MAX_PAGES): their sizes take more than a Data API row (64 KB).
    let pages: Vec<serde_json::Value> = (0..2000)
        .map(|i| json!({"width": 595.276, "height": 841.89, "rotation": if i % 2 == 0 { 0 } else { 90 }}))
        .collect();
    assert!(serde_json::to_string(&pages).expect("json").len() > 64 * 1024);
    db.connect()
        .await
        .execute(
            "UPDATE documents SET pages = $2, page_count = 2000 WHERE id = $1",
            &[&id, &serde_json::Value::Array(pages.clone())],
        )
        .await
        .expect("pages");

    let document = api.document(&owner, id).await.expect("found");
    assert_eq!(document.pages, Some(serde_json::Value::Array(pages)));

    // The envelopes area reads the page sizes to place fields: the last page is there.
    let envelopes = EnvelopesApi::from_env(&function_env("api-create-envelope", &db))
        .await
        .expect("the envelopes service starts");
    let draft = envelopes
        .create(
            &owner,
            gsign_tests::use_cases::body(json!({"document_id": id, "name": "Long"})),
        )
        .await
        .expect("a draft on the long document");
    let draft = id_of(&draft);
    let signer = envelopes
        .add_recipient(
            &owner,
            draft,
            gsign_tests::use_cases::body(
                json!({"email": "ana@example.com", "name": "Ана", "role": "signer"}),
            ),
        )
        .await
        .expect("a recipient");
    envelopes
        .set_fields(
            &owner,
            draft,
            gsign_tests::use_cases::body(json!({"fields": [{"recipient_id": signer.id,
                "type": "signature", "page": 2000, "x": 40.0, "y": 500.0,
                "width": 150.0, "height": 40.0}]})),
        )
        .await
        .expect("a field on page 2000 (landscape: 841.89 wide)");
}
