//! The sealed area's use cases: prompts under optimistic locking, sealing to the
//! organization's own HSM key and opening it again, tenancy.

use gsign_core::Role;
use gsign_functions_sealed::error::{SealedCase, SealedError};
use gsign_functions_sealed::service::prompts::PromptQuery;
use gsign_functions_sealed::service::SealedApi;
use gsign_platform::pagination::PageRequest;
use gsign_tests::use_cases::{body, caller, function_env, id_of};
use gsign_tests::{Tenant, TestDatabase};
use serde_json::json;

async fn service(db: &TestDatabase) -> SealedApi {
    SealedApi::from_env(&function_env("api-seal-prompt", db), true, false)
        .await
        .expect("the service starts")
}

#[tokio::test]
async fn a_prompt_changes_only_from_the_version_the_caller_read() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let admin = caller(&Tenant::create(&db, "admin").await, Role::Admin);
    let prompt = api
        .create_prompt(
            &admin,
            body(json!({"prompt_text": "The vault code is 1234."})),
        )
        .await
        .expect("created");
    assert_eq!(prompt.version, 1);

    let changed = api
        .update_prompt(
            &admin,
            prompt.id,
            body(json!({"prompt_text": "The vault code is 5678.", "version": 1})),
        )
        .await
        .expect("changed from version 1");
    assert_eq!(changed.version, 2);
    assert_ne!(changed.secret_hash, prompt.secret_hash);

    let stale = api
        .update_prompt(
            &admin,
            prompt.id,
            body(json!({"prompt_text": "Lost update", "version": 1})),
        )
        .await;
    assert!(
        matches!(
            &stale,
            Err(SealedError::Area(SealedCase::VersionConflict(2)))
        ),
        "{stale:?}"
    );
    assert_eq!(
        api.prompt(&admin, prompt.id)
            .await
            .expect("read")
            .secret_hash,
        changed.secret_hash,
        "the stale update changed nothing"
    );
}

#[tokio::test]
async fn a_prompt_sealed_to_the_organizations_own_key_opens_once_decrypted_in_the_hsm() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let admin = caller(&Tenant::create(&db, "admin").await, Role::Admin);
    for (key_id, usage) in [("own-sender", "sender"), ("own-receiver", "receiver")] {
        api.create_key(
            &admin,
            body(json!({"key_id": key_id, "key_usage": usage, "key_algorithm": "RSA-2048"})),
            true,
        )
        .await
        .expect("a key in the HSM");
    }
    // ~150 KB: the prompt and its sealed envelope are larger than a Data API row (64 KB).
    let text = "Нууц үг: хавар. ".repeat(5500);
    assert!(text.len() > 140 * 1024);
    let prompt = api
        .create_prompt(&admin, body(json!({"prompt_text": text})))
        .await
        .expect("created");
    assert_eq!(prompt.prompt_text, text);
    let listed = api
        .list_prompts(
            &admin,
            PromptQuery {
                page: PageRequest::first(50),
                status: None,
                words: None,
            },
        )
        .await
        .expect("listed");
    assert_eq!(listed.data[0].prompt_text, text);
    let sealed = api
        .seal(
            &admin,
            prompt.id,
            body(json!({"receiver_key_id": "own-receiver"})),
        )
        .await
        .expect("sealed");
    let opened = api.open(&admin, id_of(&sealed)).await.expect("opened");
    assert_eq!(opened.plaintext.as_deref(), Some(text.as_str()));
    assert_eq!(opened.sender_private_key_id, "own-sender");
}

#[tokio::test]
async fn another_organizations_prompt_does_not_exist_for_the_caller() {
    let db = TestDatabase::migrated().await;
    let api = service(&db).await;
    let owner = caller(&Tenant::create(&db, "admin").await, Role::Admin);
    let stranger = caller(&Tenant::create(&db, "admin").await, Role::Admin);
    let prompt = api
        .create_prompt(&owner, body(json!({"prompt_text": "theirs"})))
        .await
        .expect("created");
    assert!(matches!(
        api.prompt(&stranger, prompt.id).await,
        Err(SealedError::NotFound(_))
    ));
    assert!(matches!(
        api.update_prompt(
            &stranger,
            prompt.id,
            body(json!({"prompt_text": "x", "version": 1}))
        )
        .await,
        Err(SealedError::NotFound(_))
    ));
    assert!(matches!(
        api.delete_prompt(&stranger, prompt.id).await,
        Err(SealedError::NotFound(_))
    ));
}
