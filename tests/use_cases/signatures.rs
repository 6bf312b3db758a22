//! The verification use case: what is not a PDF, an unsigned PDF, and
//! references to documents by id (readiness, tenancy).

use gsign_core::documents::DocumentStatus;
use gsign_core::Role;
use gsign_functions_signatures::error::{VerifyCase, VerifyError};
use gsign_functions_signatures::service::{VerifyApi, VerifyInput};
use gsign_tests::bench::contract_pdf;
use gsign_tests::use_cases::{caller, document_row, function_env};
use gsign_tests::{Tenant, TestDatabase};

async fn service(db: &TestDatabase) -> VerifyApi {
    VerifyApi::from_env(&function_env("api-verify-signatures", db))
        .await
        .expect("the service starts")
}

#[tokio::test]
async fn what_is_not_a_pdf_is_refused_before_it_is_read() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let who = caller(&Tenant::create(&db, "member").await, Role::Member);

    let not_pdf = api.verify(&who, VerifyInput::Upload(b"hello")).await;
    assert!(
        matches!(&not_pdf, Err(VerifyError::Area(VerifyCase::NotPdf))),
        "{not_pdf:?}"
    );
    let empty = api.verify(&who, VerifyInput::Upload(b"")).await;
    assert!(
        matches!(&empty, Err(VerifyError::Validation(_))),
        "{empty:?}"
    );
}

#[tokio::test]
async fn an_unsigned_pdf_verifies_to_no_signature_and_not_valid() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let who = caller(&Tenant::create(&db, "member").await, Role::Member);
    let pdf = contract_pdf(1);
    let verification = api
        .verify(&who, VerifyInput::Upload(&pdf))
        .await
        .expect("verified");
    let answer = serde_json::to_value(verification).expect("json");
    assert_eq!(
        (
            answer["signature_count"].as_u64(),
            answer["valid"].as_bool()
        ),
        (Some(0), Some(false)),
        "{answer}"
    );
}

#[tokio::test]
async fn a_document_by_reference_must_be_the_callers_and_ready() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let tenant = Tenant::create(&db, "member").await;
    let who = caller(&tenant, Role::Member);
    let processing = document_row(&db, &tenant, "processing").await;
    let not_ready = api.verify(&who, VerifyInput::Stored(processing)).await;
    assert!(
        matches!(
            &not_ready,
            Err(VerifyError::Area(VerifyCase::DocumentNotReady(
                DocumentStatus::Processing
            )))
        ),
        "{not_ready:?}"
    );
    let stranger = caller(&Tenant::create(&db, "member").await, Role::Member);
    let theirs = api.verify(&stranger, VerifyInput::Stored(processing)).await;
    assert!(
        matches!(&theirs, Err(VerifyError::NotFound("document"))),
        "{theirs:?}"
    );
}
