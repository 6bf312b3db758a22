//! The team story through the runner: verify the email from the mail, create and use an API
//! key, invite a colleague who accepts from the mail, change their role, protect the last
//! owner, remove them; change and reset passwords; read the audit trail back.

use std::time::Duration;

use gsign_tests::{
    eventually, mailed_token, start_app, unique, verify_mailed_address, TestDatabase, TestStack,
};
use reqwest::Method;
use serde_json::{json, Value};

async fn call(
    stack: &TestStack,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", stack.url));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the runner answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The newest audit event of `action`, once the trail has it.
async fn newest_event(stack: &TestStack, token: &str, action: &str) -> Value {
    eventually(Duration::from_secs(20), action, || async {
        let (_, page) = call(
            stack,
            Method::GET,
            &format!("/v1/audit-events?action={action}"),
            Some(token),
            None,
        )
        .await;
        page["data"].as_array()?.first().cloned()
    })
    .await
}

async fn login(stack: &TestStack, email: &str, password: &str) -> String {
    let (status, body) = call(
        stack,
        Method::POST,
        "/v1/auth/login",
        None,
        Some(json!({"email": email, "password": password})),
    )
    .await;
    assert_eq!(status, 200, "login {email}: {body}");
    body["access_token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn an_owner_builds_a_team_and_the_rules_hold() {
    let db = TestDatabase::migrated().await;
    let stack = start_app(&db, &[]).await;
    let owner_email = format!("owner-{}@example.com", unique());
    let (status, registered) = call(&stack, Method::POST, "/v1/auth/register", None,
        Some(json!({"organization_name": "Acme", "email": owner_email, "password": "owner passphrase one"}))).await;
    assert_eq!(status, 202, "{registered}");

    // Verify the email address from the link in the mail; the link works once.
    let token = mailed_token(&owner_email, "/verify-email").await;
    assert_eq!(
        call(
            &stack,
            Method::POST,
            "/v1/auth/verify-email",
            None,
            Some(json!({"token": token}))
        )
        .await
        .0,
        204
    );
    assert_eq!(
        call(
            &stack,
            Method::POST,
            "/v1/auth/verify-email",
            None,
            Some(json!({"token": token}))
        )
        .await
        .0,
        401
    );
    let owner = login(&stack, &owner_email, "owner passphrase one").await;
    let (_, me) = call(&stack, Method::GET, "/v1/me", Some(&owner), None).await;
    assert!(me["email_verified_at"].is_string(), "{me}");

    // An API key, shown once, narrowed by its scopes.
    let (status, key) = call(
        &stack,
        Method::POST,
        "/v1/api-keys",
        Some(&owner),
        Some(json!({"name": "ci", "scopes": ["organization:read"]})),
    )
    .await;
    assert_eq!(status, 201, "{key}");
    let secret = key["key"].as_str().expect("key shown once").to_owned();
    let (_, keys) = call(&stack, Method::GET, "/v1/api-keys", Some(&owner), None).await;
    assert!(
        keys["data"][0].get("key").is_none(),
        "never shown again: {keys}"
    );
    assert_eq!(
        call(&stack, Method::GET, "/v1/organization", Some(&secret), None)
            .await
            .0,
        200
    );
    assert_eq!(
        call(
            &stack,
            Method::GET,
            "/v1/organization/users",
            Some(&secret),
            None
        )
        .await
        .0,
        200
    );
    let (status, body) = call(
        &stack,
        Method::POST,
        "/v1/organization/users",
        Some(&secret),
        Some(json!({"email": "x@example.com", "role": "viewer"})),
    )
    .await;
    assert_eq!(status, 403, "no organization:write scope: {body}");

    // Invite a colleague; they accept from the mail and sign in.
    let colleague_email = format!("colleague-{}@example.com", unique());
    let (status, invited) = call(
        &stack,
        Method::POST,
        "/v1/organization/users",
        Some(&owner),
        Some(json!({"email": colleague_email, "role": "member", "first_name": "Сарнай"})),
    )
    .await;
    assert_eq!(status, 201, "{invited}");
    assert_eq!(invited["status"], "invited");
    let colleague_id = invited["id"].as_str().expect("id").to_owned();
    let token = mailed_token(&colleague_email, "/accept-invitation").await;
    assert_eq!(
        call(
            &stack,
            Method::POST,
            "/v1/auth/accept-invitation",
            None,
            Some(json!({"token": token, "password": "colleague passphrase"}))
        )
        .await
        .0,
        204
    );
    let colleague = login(&stack, &colleague_email, "colleague passphrase").await;
    let (_, me) = call(&stack, Method::GET, "/v1/me", Some(&colleague), None).await;
    assert_eq!(me["role"], "member");

    // Members may not manage members; the owner promotes, and the new role applies at once.
    assert_eq!(
        call(
            &stack,
            Method::PATCH,
            &format!("/v1/organization/users/{colleague_id}"),
            Some(&colleague),
            Some(json!({"role": "admin"}))
        )
        .await
        .0,
        403
    );
    let (status, changed) = call(
        &stack,
        Method::PATCH,
        &format!("/v1/organization/users/{colleague_id}"),
        Some(&owner),
        Some(json!({"role": "admin"})),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        call(&stack, Method::GET, "/v1/me", Some(&colleague), None)
            .await
            .1["role"],
        "admin"
    );

    // An admin cannot touch the owner; the last owner can neither be demoted nor removed.
    let (_, me) = call(&stack, Method::GET, "/v1/me", Some(&owner), None).await;
    let owner_id = me["id"].as_str().expect("id").to_owned();
    assert_eq!(
        call(
            &stack,
            Method::PATCH,
            &format!("/v1/organization/users/{owner_id}"),
            Some(&colleague),
            Some(json!({"role": "member"}))
        )
        .await
        .0,
        403
    );
    let (status, body) = call(
        &stack,
        Method::PATCH,
        &format!("/v1/organization/users/{owner_id}"),
        Some(&owner),
        Some(json!({"role": "admin"})),
    )
    .await;
    assert_eq!(
        (status, body["type"].as_str()),
        (409, Some("https://gsign.dev/problems/last-owner"))
    );
    assert_eq!(
        call(
            &stack,
            Method::DELETE,
            &format!("/v1/organization/users/{owner_id}"),
            Some(&owner),
            None
        )
        .await
        .0,
        409
    );

    // Removal ends the colleague's access on the next request.
    assert_eq!(
        call(
            &stack,
            Method::DELETE,
            &format!("/v1/organization/users/{colleague_id}"),
            Some(&owner),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        call(&stack, Method::GET, "/v1/me", Some(&colleague), None)
            .await
            .0,
        403
    );
    let (status, _) = call(
        &stack,
        Method::POST,
        "/v1/auth/login",
        None,
        Some(json!({"email": colleague_email, "password": "colleague passphrase"})),
    )
    .await;
    assert_eq!(status, 401);

    // Revoked keys stop working at once.
    let key_id = key["id"].as_str().expect("id");
    assert_eq!(
        call(
            &stack,
            Method::DELETE,
            &format!("/v1/api-keys/{key_id}"),
            Some(&owner),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        call(&stack, Method::GET, "/v1/organization", Some(&secret), None)
            .await
            .0,
        403
    );

    // The audit trail, filtered by action, by the colleague and by the resource.
    let invited_events = eventually(
        Duration::from_secs(20),
        "member.invited in the trail",
        || async {
            let (status, page) = call(
                &stack,
                Method::GET,
                "/v1/audit-events?action=member.invited",
                Some(&owner),
                None,
            )
            .await;
            (status == 200 && page["data"].as_array().is_some_and(|d| !d.is_empty()))
                .then_some(page)
        },
    )
    .await;
    assert_eq!(
        invited_events["data"][0]["resource_id"],
        colleague_id.as_str()
    );
    assert_eq!(
        invited_events["data"][0]["actor_user_id"],
        owner_id.as_str()
    );
    let by_resource = eventually(
        Duration::from_secs(20),
        "the colleague's history",
        || async {
            let (_, page) = call(
                &stack,
                Method::GET,
                &format!("/v1/audit-events?resource_type=user&resource_id={colleague_id}"),
                Some(&owner),
                None,
            )
            .await;
            let actions: Vec<String> = page["data"]
                .as_array()?
                .iter()
                .filter_map(|e| e["action"].as_str().map(str::to_owned))
                .collect();
            [
                "member.invited",
                "member.joined",
                "member.role_changed",
                "member.removed",
            ]
            .iter()
            .all(|a| actions.iter().any(|x| x == a))
            .then_some(actions)
        },
    )
    .await;
    assert!(by_resource.len() >= 4);
    for action in ["api_key.created", "api_key.revoked", "user.email_verified"] {
        let event = newest_event(&stack, &owner, action).await;
        assert!(
            event["ip"] == "127.0.0.1" && event["occurred_at"].is_string(),
            "{action}: {event}"
        );
    }
    let (status, body) = call(
        &stack,
        Method::GET,
        "/v1/audit-events?from=yesterday",
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(status, 422, "{body}");
    stack.stop().await;
}

#[tokio::test]
async fn password_change_and_reset_end_the_other_sessions() {
    let db = TestDatabase::migrated().await;
    let stack = start_app(&db, &[]).await;
    let email = format!("pw-{}@example.com", unique());
    call(
        &stack,
        Method::POST,
        "/v1/auth/register",
        None,
        Some(
            json!({"organization_name": "Pw", "email": email, "password": "first passphrase here"}),
        ),
    )
    .await;
    verify_mailed_address(&stack.url, &email).await;
    let laptop = login(&stack, &email, "first passphrase here").await;
    let phone = login(&stack, &email, "first passphrase here").await;

    let (status, body) = call(
        &stack,
        Method::PATCH,
        "/v1/me",
        Some(&laptop),
        Some(json!({"password": {"current": "not it at all", "new": "second passphrase here"}})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = call(
        &stack,
        Method::PATCH,
        "/v1/me",
        Some(&laptop),
        Some(json!({"role": "owner"})),
    )
    .await;
    assert_eq!(status, 400, "no mass assignment: {body}");
    let (status, body) = call(&stack, Method::PATCH, "/v1/me", Some(&laptop), Some(json!({"first_name": "Ana", "password": {"current": "first passphrase here", "new": "second passphrase here"}}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["first_name"], "Ana");
    assert_eq!(
        call(&stack, Method::GET, "/v1/me", Some(&phone), None)
            .await
            .0,
        403,
        "other session ended"
    );
    assert_eq!(
        call(&stack, Method::GET, "/v1/me", Some(&laptop), None)
            .await
            .0,
        200,
        "this one stays"
    );

    // Forgotten: the reset link ends every session, the new password works, the old does not.
    assert_eq!(
        call(
            &stack,
            Method::POST,
            "/v1/auth/password-reset",
            None,
            Some(json!({"email": email}))
        )
        .await
        .0,
        202
    );
    assert_eq!(
        call(
            &stack,
            Method::POST,
            "/v1/auth/password-reset",
            None,
            Some(json!({"email": "nobody@example.com"}))
        )
        .await
        .0,
        202,
        "no enumeration"
    );
    let token = mailed_token(&email, "/reset-password").await;
    let (status, body) = call(
        &stack,
        Method::POST,
        "/v1/auth/password-reset/confirm",
        None,
        Some(json!({"token": token, "password": "short"})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        call(
            &stack,
            Method::POST,
            "/v1/auth/password-reset/confirm",
            None,
            Some(json!({"token": token, "password": "third passphrase here"}))
        )
        .await
        .0,
        204
    );
    assert_eq!(
        call(&stack, Method::GET, "/v1/me", Some(&laptop), None)
            .await
            .0,
        403
    );
    assert_eq!(
        call(
            &stack,
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"email": email, "password": "second passphrase here"}))
        )
        .await
        .0,
        401
    );
    let owner = login(&stack, &email, "third passphrase here").await;
    for action in [
        "user.password_changed",
        "user.password_reset_requested",
        "user.password_reset",
    ] {
        let event = newest_event(&stack, &owner, action).await;
        assert!(
            event["user_agent"].is_string() && event["actor_user_id"].is_string(),
            "{action}: {event}"
        );
    }
    stack.stop().await;
}
