//! The accounts area's member and API-key use cases: who may assign which role, the last
//! owner, invitations, keys shown once, tenancy.

use gsign_core::{Action, Credential, Principal, Role, Scope};
use gsign_functions_accounts::error::{AccountsCase, AccountsError};
use gsign_functions_accounts::service::auth::ClientInfo;
use gsign_functions_accounts::service::manage::{Caller, ListQuery, Manage};
use gsign_tests::use_cases::{body, function_env, id_of};
use gsign_tests::{Tenant, TestDatabase};
use serde_json::{json, Value};
use uuid::Uuid;

async fn service(db: &TestDatabase) -> Manage {
    Manage::from_env(&function_env("api-invite-member", db))
        .await
        .expect("the service starts")
}

/// `who`, signed in with `role`, as the authorizer passes them, if they may do `action`.
fn acting(who: &Tenant, role: Role, action: Action) -> Result<Caller, AccountsError> {
    let principal = Principal {
        organization_id: who.org.to_string(),
        role,
        credential: Credential::Session {
            user_id: who.user.to_string(),
            session_id: Uuid::new_v4().to_string(),
        },
    };
    let client = ClientInfo {
        ip: Some("203.0.113.9".to_owned()),
        user_agent: Some("use-case test".to_owned()),
    };
    Caller::of(&principal, action, client)
}

fn json<T: serde::Serialize>(value: T) -> Value {
    serde_json::to_value(value).expect("json")
}

#[tokio::test]
async fn the_last_owner_can_be_neither_demoted_nor_removed() {
    let db = TestDatabase::migrated().await;
    let manage = service(&db).await;
    let owner = Tenant::create(&db, "owner").await;

    let caller = acting(&owner, Role::Owner, Action::ChangeMemberRole).expect("allowed");
    let demoted = manage
        .change_role(&caller, owner.user, body(json!({"role": "admin"})))
        .await;
    assert!(
        matches!(
            &demoted,
            Err(AccountsError::Area(AccountsCase::Conflict {
                slug: "last-owner",
                ..
            }))
        ),
        "{demoted:?}"
    );
    let caller = acting(&owner, Role::Owner, Action::RemoveMember).expect("allowed");
    let removed = manage.remove(&caller, owner.user).await;
    assert!(
        matches!(
            &removed,
            Err(AccountsError::Area(AccountsCase::Conflict {
                slug: "last-owner",
                ..
            }))
        ),
        "{removed:?}"
    );

    // With a second owner, the first may step down.
    let second = owner.colleague(&db, "owner").await;
    let caller = acting(&owner, Role::Owner, Action::ChangeMemberRole).expect("allowed");
    let stepped_down = manage
        .change_role(&caller, owner.user, body(json!({"role": "admin"})))
        .await
        .expect("demoted");
    assert_eq!(json(stepped_down)["role"], "admin");
    let caller = acting(&second, Role::Owner, Action::RemoveMember).expect("allowed");
    assert!(matches!(
        manage.remove(&caller, second.user).await,
        Err(AccountsError::Area(AccountsCase::Conflict {
            slug: "last-owner",
            ..
        }))
    ));
}

#[tokio::test]
async fn an_admin_assigns_no_role_above_their_own_and_touches_no_owner() {
    let db = TestDatabase::migrated().await;
    let manage = service(&db).await;
    let owner = Tenant::create(&db, "owner").await;
    let admin = owner.colleague(&db, "admin").await;

    let caller = acting(&admin, Role::Admin, Action::InviteMember).expect("allowed");
    let invited = manage
        .invite(
            &caller,
            body(json!({"email": "boss@example.com", "role": "owner"})),
        )
        .await;
    assert!(
        matches!(invited, Err(AccountsError::Forbidden(Action::InviteMember))),
        "{invited:?}"
    );
    let caller = acting(&admin, Role::Admin, Action::ChangeMemberRole).expect("allowed");
    let changed = manage
        .change_role(&caller, owner.user, body(json!({"role": "member"})))
        .await;
    assert!(
        matches!(
            changed,
            Err(AccountsError::Forbidden(Action::ChangeMemberRole))
        ),
        "{changed:?}"
    );
    // A viewer is not let in at all.
    let viewer = owner.colleague(&db, "viewer").await;
    assert!(matches!(
        acting(&viewer, Role::Viewer, Action::InviteMember),
        Err(AccountsError::Forbidden(Action::InviteMember))
    ));
}

#[tokio::test]
async fn an_invitation_is_mailed_through_the_outbox_once_per_address() {
    let db = TestDatabase::migrated().await;
    let manage = service(&db).await;
    let owner = Tenant::create(&db, "owner").await;
    let caller = acting(&owner, Role::Owner, Action::InviteMember).expect("allowed");

    let invited = json(
        manage
            .invite(
                &caller,
                body(
                    json!({"email": "Ana.Lima@Example.com", "role": "member", "first_name": "Ana"}),
                ),
            )
            .await
            .expect("invited"),
    );
    assert_eq!(
        (invited["status"].as_str(), invited["role"].as_str()),
        (Some("invited"), Some("member")),
        "{invited}"
    );
    let mailed: Vec<(String, bool)> = db
        .connect()
        .await
        .query(
            "SELECT payload::text, published_at IS NOT NULL FROM outbox \
             WHERE organization_id = $1 AND kind = 'email'",
            &[&owner.org],
        )
        .await
        .expect("outbox")
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(mailed.len(), 1, "{mailed:?}");
    assert!(
        mailed[0].0.to_lowercase().contains("ana.lima@example.com"),
        "{mailed:?}"
    );
    assert!(mailed[0].1, "published after commit");

    let again = manage
        .invite(
            &caller,
            body(json!({"email": "ana.lima@example.com", "role": "viewer"})),
        )
        .await;
    assert!(
        matches!(again, Err(AccountsError::Area(AccountsCase::EmailTaken(_)))),
        "{again:?}"
    );
}

#[tokio::test]
async fn an_api_key_is_shown_once_and_a_revoked_one_is_listed_as_revoked() {
    let db = TestDatabase::migrated().await;
    let manage = service(&db).await;
    let owner = Tenant::create(&db, "owner").await;
    let caller = acting(&owner, Role::Owner, Action::CreateApiKey).expect("allowed");

    let created = json(
        manage
            .create_key(
                &caller,
                body(json!({"name": "CI", "scopes": [Scope::DocumentsWrite.as_str()]})),
            )
            .await
            .expect("created"),
    );
    let secret = created["key"].as_str().expect("the key, once");
    let prefix = created["prefix"].as_str().expect("prefix");
    assert!(secret.starts_with(&format!("gsk_{prefix}_")), "{created}");
    let id = id_of(&created);

    let caller = acting(&owner, Role::Owner, Action::RevokeApiKey).expect("allowed");
    manage.revoke_key(&caller, id).await.expect("revoked");
    let caller = acting(&owner, Role::Owner, Action::ListApiKeys).expect("allowed");
    let listed = json(
        manage
            .keys(&caller, &ListQuery::default())
            .await
            .expect("listed"),
    );
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1), "{listed}");
    assert!(listed["data"][0].get("key").is_none(), "{listed}");
    assert!(listed["data"][0]["revoked_at"].is_string(), "{listed}");
}

#[tokio::test]
async fn another_organizations_member_and_key_are_not_found() {
    let db = TestDatabase::migrated().await;
    let manage = service(&db).await;
    let owner = Tenant::create(&db, "owner").await;
    let member = owner.colleague(&db, "member").await;
    let stranger = Tenant::create(&db, "owner").await;

    let caller = acting(&stranger, Role::Owner, Action::ChangeMemberRole).expect("allowed");
    let changed = manage
        .change_role(&caller, member.user, body(json!({"role": "viewer"})))
        .await;
    assert!(
        matches!(changed, Err(AccountsError::NotFound(_))),
        "{changed:?}"
    );
    let caller = acting(&stranger, Role::Owner, Action::RemoveMember).expect("allowed");
    assert!(matches!(
        manage.remove(&caller, member.user).await,
        Err(AccountsError::NotFound(_))
    ));
    let caller = acting(&stranger, Role::Owner, Action::RevokeApiKey).expect("allowed");
    assert!(matches!(
        manage.revoke_key(&caller, Uuid::new_v4()).await,
        Err(AccountsError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_removed_member_is_invited_back_as_themselves_with_a_new_role_and_no_old_password() {
    let db = TestDatabase::migrated().await;
    let manage = service(&db).await;
    let owner = Tenant::create(&db, "owner").await;
    let leaver = owner.colleague(&db, "admin").await;
    let client = db.connect().await;
    let email: String = client
        .query_one(
            "UPDATE users SET password_hash = 'argon2id-of-the-old-password' WHERE id = $1 \
             RETURNING email",
            &[&leaver.user],
        )
        .await
        .expect("the leaver's address")
        .get(0);

    let caller = acting(&owner, Role::Owner, Action::RemoveMember).expect("allowed");
    manage.remove(&caller, leaver.user).await.expect("removed");
    let caller = acting(&owner, Role::Owner, Action::InviteMember).expect("allowed");
    let back = json(
        manage
            .invite(
                &caller,
                body(json!({"email": email.to_uppercase(), "role": "viewer"})),
            )
            .await
            .expect("invited back"),
    );
    assert_eq!(
        (
            back["id"].as_str(),
            back["status"].as_str(),
            back["role"].as_str()
        ),
        (
            Some(leaver.user.to_string().as_str()),
            Some("invited"),
            Some("viewer")
        ),
        "{back}"
    );
    let password_kept: bool = client
        .query_one(
            "SELECT password_hash IS NOT NULL FROM users WHERE id = $1",
            &[&leaver.user],
        )
        .await
        .expect("the row")
        .get(0);
    assert!(
        !password_kept,
        "the old password no longer opens the account"
    );
    let audited: i64 = client
        .query_one(
            "SELECT count(*) FROM outbox WHERE organization_id = $1 AND kind = 'audit' \
             AND payload->>'action' = 'member.invited' \
             AND payload->'details'->>'rejoining' = 'true'",
            &[&owner.org],
        )
        .await
        .expect("outbox")
        .get(0);
    assert_eq!(audited, 1);

    // Invited now: a second invitation of the address is refused as before.
    let again = manage
        .invite(&caller, body(json!({"email": email, "role": "member"})))
        .await;
    assert!(
        matches!(again, Err(AccountsError::Area(AccountsCase::EmailTaken(_)))),
        "{again:?}"
    );
}

#[tokio::test]
async fn api_keys_are_listed_newest_first_a_page_at_a_time() {
    let db = TestDatabase::migrated().await;
    let manage = service(&db).await;
    let owner = Tenant::create(&db, "owner").await;
    let caller = acting(&owner, Role::Owner, Action::CreateApiKey).expect("allowed");
    let mut made = Vec::new();
    for n in 0..5 {
        let key = json(
            manage
                .create_key(
                    &caller,
                    body(json!({"name": format!("key {n}"), "scopes": [Scope::DocumentsRead.as_str()]})),
                )
                .await
                .expect("created"),
        );
        made.push(key["id"].as_str().expect("id").to_owned());
    }
    made.reverse();

    let caller = acting(&owner, Role::Owner, Action::ListApiKeys).expect("allowed");
    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let query = ListQuery {
            limit: Some("2".to_owned()),
            cursor: cursor.take(),
        };
        let page = json(manage.keys(&caller, &query).await.expect("a page"));
        let rows = page["data"].as_array().expect("data");
        assert!(rows.len() <= 2, "{page}");
        listed.extend(
            rows.iter()
                .map(|k| k["id"].as_str().expect("id").to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(listed, made, "every key once, newest first");

    let forged = manage
        .keys(
            &caller,
            &ListQuery {
                limit: Some("101".to_owned()),
                cursor: Some("not-a-cursor".to_owned()),
            },
        )
        .await;
    assert!(
        matches!(forged, Err(AccountsError::Validation(_))),
        "{forged:?}"
    );
}
