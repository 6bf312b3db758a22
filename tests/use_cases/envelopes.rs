//! The envelopes area's draft use cases: a draft on a ready document, recipients, fields
//! inside the document's pages, every send problem at once, tenancy.

use gsign_core::Role;
use gsign_functions_envelopes::service::drafts::{EnvelopeInput, FieldsInput};
use gsign_functions_envelopes::service::{EnvelopesApi, EnvelopesError};
use gsign_tests::use_cases::{body, caller, document_row, function_env, id_of};
use gsign_tests::{Tenant, TestDatabase};
use serde_json::{json, Value};

async fn service(db: &TestDatabase) -> EnvelopesApi {
    EnvelopesApi::from_env(&function_env("api-create-envelope", db))
        .await
        .expect("the service starts")
}

fn as_json<T: serde::Serialize>(value: T) -> Value {
    serde_json::to_value(value).expect("json")
}

fn pointers(errors: &[gsign_core::FieldError]) -> Vec<&str> {
    errors.iter().map(|e| e.pointer.as_str()).collect()
}

#[tokio::test]
async fn a_draft_takes_fields_only_inside_its_documents_pages() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let tenant = Tenant::create(&db, "admin").await;
    let sender = caller(&tenant, Role::Admin);
    let document = document_row(&db, &tenant, "ready").await;

    let draft = as_json(
        api.create(
            &sender,
            body::<EnvelopeInput>(json!({"document_id": document, "name": "Lease"})),
        )
        .await
        .expect("a draft"),
    );
    let id = id_of(&draft);
    assert_eq!(draft["status"], "draft");
    let signer = api
        .add_recipient(
            &sender,
            id,
            body(json!({"email": "ana@example.com", "name": "Ана Лима", "role": "signer"})),
        )
        .await
        .expect("a recipient");

    let field = |page: i32, x: f64| {
        json!({"recipient_id": signer.id, "type": "signature", "page": page,
               "x": x, "y": 700.0, "width": 150.0, "height": 40.0})
    };
    let outside = api
        .set_fields(
            &sender,
            id,
            body::<FieldsInput>(json!({"fields": [field(2, 72.0), field(1, 600.0)]})),
        )
        .await;
    let Err(EnvelopesError::Validation(errors)) = &outside else {
        panic!("refused: {outside:?}");
    };
    let at = pointers(errors);
    assert!(at.iter().any(|p| p.starts_with("/fields/0")), "{errors:?}");
    assert!(at.iter().any(|p| p.starts_with("/fields/1")), "{errors:?}");

    // Several fields go in one statement batch (`BatchExecuteStatement` on the Data API).
    api.set_fields(
        &sender,
        id,
        body(json!({"fields": [field(1, 72.0), field(1, 250.0), field(1, 420.0)]})),
    )
    .await
    .expect("inside the page");
    let detail = as_json(api.detail(&sender, id).await.expect("detail"));
    let xs: Vec<f64> = detail["fields"]
        .as_array()
        .map(|fields| fields.iter().filter_map(|f| f["x"].as_f64()).collect())
        .unwrap_or_default();
    assert_eq!(xs, [72.0, 250.0, 420.0], "{detail}");
    assert_eq!(detail["send_problems"], json!([]), "{detail}");
}

#[tokio::test]
async fn sending_lists_every_problem_at_once_and_leaves_the_draft_as_it_was() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let tenant = Tenant::create(&db, "admin").await;
    let sender = caller(&tenant, Role::Admin);
    let document = document_row(&db, &tenant, "processing").await;
    let id = id_of(
        api.create(&sender, body(json!({"document_id": document})))
            .await
            .expect("a draft on a document still processing"),
    );
    for email in ["ana@example.com", "bat@example.com"] {
        api.add_recipient(
            &sender,
            id,
            body(json!({"email": email, "name": "Signer", "role": "signer"})),
        )
        .await
        .expect("a recipient");
    }

    let refused = api.send(&sender, id).await;
    let Err(EnvelopesError::Validation(errors)) = &refused else {
        panic!("refused: {refused:?}");
    };
    // The document, and each signer without a signature field.
    assert!(pointers(errors).contains(&"/document_id"), "{errors:?}");
    assert!(errors.len() >= 3, "every problem at once: {errors:?}");
    let detail = as_json(api.detail(&sender, id).await.expect("detail"));
    assert_eq!(detail["status"], "draft", "{detail}");
    assert_eq!(
        detail["send_problems"].as_array().map(Vec::len),
        Some(errors.len()),
        "the draft shows the same problems: {detail}"
    );
}

#[tokio::test]
async fn another_organizations_draft_and_document_do_not_exist_for_the_caller() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let owner = Tenant::create(&db, "admin").await;
    let stranger = caller(&Tenant::create(&db, "admin").await, Role::Admin);
    let document = document_row(&db, &owner, "ready").await;
    let id = id_of(
        api.create(
            &caller(&owner, Role::Admin),
            body(json!({"document_id": document})),
        )
        .await
        .expect("a draft"),
    );

    assert!(matches!(
        api.detail(&stranger, id).await,
        Err(EnvelopesError::NotFound(_))
    ));
    assert!(matches!(
        api.delete(&stranger, id).await,
        Err(EnvelopesError::NotFound(_))
    ));
    assert!(matches!(
        api.send(&stranger, id).await,
        Err(EnvelopesError::NotFound(_))
    ));
    // Their document cannot be used either, and says no more than that.
    let theirs = api
        .create(&stranger, body(json!({"document_id": document})))
        .await;
    assert!(
        matches!(&theirs, Err(EnvelopesError::Validation(errors)) if pointers(errors) == ["/document_id"]),
        "{theirs:?}"
    );
}

#[tokio::test]
async fn a_patch_keeps_what_it_leaves_out_and_clears_what_it_sets_to_null() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let tenant = Tenant::create(&db, "admin").await;
    let sender = caller(&tenant, Role::Admin);
    let document = document_row(&db, &tenant, "ready").await;
    let draft = as_json(
        api.create(
            &sender,
            body::<EnvelopeInput>(json!({"document_id": document, "name": "Lease",
                "message": "Please sign by Friday.", "language": "mn"})),
        )
        .await
        .expect("a draft"),
    );
    let id = id_of(&draft);
    let seen = |detail: &Value| {
        (
            detail["name"].clone(),
            detail["message"].clone(),
            detail["language"].clone(),
        )
    };

    let renamed = as_json(
        api.update(&sender, id, body(json!({"name": "Lease 2027"})))
            .await
            .expect("updated"),
    );
    assert_eq!(
        seen(&renamed),
        (
            json!("Lease 2027"),
            json!("Please sign by Friday."),
            json!("mn")
        )
    );
    let cleared = as_json(
        api.update(
            &sender,
            id,
            body(json!({"message": null, "language": null})),
        )
        .await
        .expect("updated"),
    );
    assert_eq!(
        seen(&cleared),
        (json!("Lease 2027"), Value::Null, Value::Null)
    );
    let blank = api
        .update(
            &sender,
            id,
            body(json!({"message": "  ", "language": "fr"})),
        )
        .await;
    let Err(EnvelopesError::Validation(errors)) = blank else {
        panic!("a blank message and an unknown language are refused: {blank:?}");
    };
    assert_eq!(pointers(&errors), ["/message", "/language"]);
}
