//! Every account route, called by every role of one organization and by another
//! organization's owner: forbidden roles get 403, other tenants' ids get 404, lists never
//! show another tenant's rows, and nothing answers 5xx.

use std::collections::BTreeMap;

use gsign_core::{Action, Role, Scope};
use gsign_platform::credentials::{self, AccessTokens};
use gsign_tests::{
    local_parameters, root, stack_var, start_stack, unique, TestDatabase, TestStack,
};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{json, Value};
use uuid::Uuid;

#[derive(Clone, Copy, PartialEq)]
enum Target {
    None,
    Member,
    ApiKey,
}

struct Route {
    method: Method,
    path: &'static str,
    action: Action,
    target: Target,
    body: fn() -> Option<Value>,
}

fn routes() -> Vec<Route> {
    use Action::*;
    let r = |method, path, action, target, body| Route {
        method,
        path,
        action,
        target,
        body,
    };
    vec![
        r(Method::GET, "/v1/me", ReadOwnProfile, Target::None, || None),
        r(
            Method::PATCH,
            "/v1/me",
            UpdateOwnProfile,
            Target::None,
            || Some(json!({"last_name": "Matrix"})),
        ),
        r(
            Method::GET,
            "/v1/organization",
            ReadOrganization,
            Target::None,
            || None,
        ),
        r(
            Method::PATCH,
            "/v1/organization",
            UpdateOrganization,
            Target::None,
            || Some(json!({"name": "Renamed"})),
        ),
        r(
            Method::GET,
            "/v1/organization/users",
            ListMembers,
            Target::None,
            || None,
        ),
        r(
            Method::POST,
            "/v1/organization/users",
            InviteMember,
            Target::None,
            || Some(json!({"email": format!("inv-{}@example.com", unique()), "role": "viewer"})),
        ),
        r(
            Method::PATCH,
            "/v1/organization/users/{id}",
            ChangeMemberRole,
            Target::Member,
            || Some(json!({"role": "viewer"})),
        ),
        r(
            Method::DELETE,
            "/v1/organization/users/{id}",
            RemoveMember,
            Target::Member,
            || None,
        ),
        r(
            Method::GET,
            "/v1/api-keys",
            ListApiKeys,
            Target::None,
            || None,
        ),
        r(
            Method::POST,
            "/v1/api-keys",
            CreateApiKey,
            Target::None,
            || Some(json!({"name": "m", "scopes": ["documents:read"]})),
        ),
        r(
            Method::DELETE,
            "/v1/api-keys/{id}",
            RevokeApiKey,
            Target::ApiKey,
            || None,
        ),
        r(
            Method::GET,
            "/v1/audit-events",
            ReadAuditEvents,
            Target::None,
            || None,
        ),
    ]
}

struct Org {
    id: Uuid,
    users: Vec<Uuid>,
    tokens: BTreeMap<Role, String>,
}

async fn organization(db: &TestDatabase) -> Org {
    let client = db.connect().await;
    let id: Uuid = client
        .query_one(
            "INSERT INTO organizations (name, slug) VALUES ('M', $1) RETURNING id",
            &[&format!("m-{}", unique())],
        )
        .await
        .expect("org")
        .get(0);
    let signer = AccessTokens::new(
        &SecretString::from(stack_var("GSIGN_ACCESS_TOKEN_KEY")),
        "gsign",
        "gsign-api",
        900,
    )
    .expect("key");
    let mut tokens = BTreeMap::new();
    let mut users = Vec::new();
    for role in Role::ALL {
        let user: Uuid = client
            .query_one(
                "INSERT INTO users (organization_id, email, role) VALUES ($1, $2, $3) RETURNING id",
                &[
                    &id,
                    &format!("{role}-{}@example.com", unique()),
                    &role.as_str(),
                ],
            )
            .await
            .expect("user")
            .get(0);
        users.push(user);
        let family = Uuid::new_v4();
        client
            .execute(
                "INSERT INTO user_sessions (user_id, organization_id, family_id, refresh_token_hash, expires_at)
                 VALUES ($1, $2, $3, $4, now() + interval '1 day')",
                &[&user, &id, &family, &credentials::new_token().hash],
            )
            .await
            .expect("session");
        let now = chrono_now();
        tokens.insert(
            role,
            signer
                .issue(
                    &user.to_string(),
                    &id.to_string(),
                    role.as_str(),
                    &family.to_string(),
                    now,
                )
                .expect("token"),
        );
    }
    Org { id, users, tokens }
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// A fresh target in `org`: a viewer to change or remove, or a key to revoke.
async fn target(db: &TestDatabase, org: Uuid, kind: Target) -> Option<Uuid> {
    let client = db.connect().await;
    match kind {
        Target::None => None,
        Target::Member => Some(
            client
                .query_one("INSERT INTO users (organization_id, email, role) VALUES ($1, $2, 'viewer') RETURNING id", &[&org, &format!("t-{}@example.com", unique())])
                .await
                .expect("target")
                .get(0),
        ),
        Target::ApiKey => {
            let key = credentials::new_api_key();
            Some(
                client
                    .query_one(
                        "INSERT INTO api_keys (organization_id, name, prefix, key_hash, role) VALUES ($1, 't', $2, $3, 'viewer') RETURNING id",
                        &[&org, &key.prefix, &key.hash],
                    )
                    .await
                    .expect("key")
                    .get(0),
            )
        }
    }
}

async fn call(stack: &TestStack, route: &Route, id: Option<Uuid>, token: &str) -> (u16, String) {
    let path = match id {
        Some(id) => route.path.replace("{id}", &id.to_string()),
        None => route.path.to_owned(),
    };
    let mut request = reqwest::Client::new()
        .request(route.method.clone(), format!("{}{path}", stack.url))
        .bearer_auth(token);
    if let Some(body) = (route.body)() {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the runner answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn every_route_answers_every_role_and_never_another_tenant() {
    let db = TestDatabase::create().await;
    let all = gsign_platform::migrations::embedded().expect("migrations");
    gsign_platform::migrations::up(&db.database(), &all, None)
        .await
        .expect("migrate");
    let mut parameters: BTreeMap<String, String> = local_parameters();
    parameters.insert("DatabaseUrl".to_owned(), db.url.clone());
    let stack = start_stack(
        &root().join("template.yaml"),
        &gsign_local::registry(),
        parameters,
    )
    .await;
    let a = organization(&db).await;
    let b = organization(&db).await;

    for route in routes() {
        let what = format!("{} {}", route.method, route.path);
        for role in Role::ALL {
            let id = target(&db, a.id, route.target).await;
            let (status, body) = call(&stack, &route, id, &a.tokens[&role]).await;
            assert!(status < 500, "{what} as {role}: {status} {body}");
            if route.action.allowed_roles().contains(&role) {
                assert!(
                    ![401, 403, 404].contains(&status),
                    "{what} as {role} should be allowed: {status} {body}"
                );
            } else {
                assert_eq!(status, 403, "{what} as {role} must be forbidden: {body}");
                assert!(
                    body.contains("https://gsign.dev/problems/forbidden"),
                    "{what}: {body}"
                );
            }
        }
        // Organization B's owner, against A's resources.
        let owner_b = &b.tokens[&Role::Owner];
        if route.target != Target::None {
            let id = target(&db, a.id, route.target).await;
            let (status, body) = call(&stack, &route, id, owner_b).await;
            assert_eq!(status, 404, "{what} on another tenant's id: {body}");
        } else {
            let (status, body) = call(&stack, &route, None, owner_b).await;
            assert!(status < 500, "{what}: {body}");
            assert!(
                !body.contains(&a.id.to_string()),
                "{what} leaked tenant A: {body}"
            );
            for user in &a.users {
                assert!(
                    !body.contains(&user.to_string()),
                    "{what} leaked a user of tenant A: {body}"
                );
            }
        }
    }
    stack.stop().await;
}

/// The access table's action for each mutating route of `template.yaml`, by function. A
/// route missing here fails the test below: a new route states what it does.
fn action_of(binary: &str) -> Option<Action> {
    use Action::*;
    Some(match binary {
        "api-update-me" => UpdateOwnProfile,
        "api-update-organization" => UpdateOrganization,
        "api-invite-member" => InviteMember,
        "api-update-member" => ChangeMemberRole,
        "api-remove-member" => RemoveMember,
        "api-create-api-key" => CreateApiKey,
        "api-revoke-api-key" => RevokeApiKey,
        "api-create-document"
        | "api-update-document"
        | "api-delete-document"
        | "api-create-envelope"
        | "api-update-envelope"
        | "api-delete-envelope"
        | "api-add-recipient"
        | "api-update-recipient"
        | "api-remove-recipient"
        | "api-set-envelope-fields"
        | "api-send-envelope"
        | "api-void-envelope"
        | "api-remind-envelope"
        | "api-create-recipient-view"
        | "api-correct-recipient"
        | "api-create-signing-link"
        | "api-create-doc-pack"
        | "api-issue-doc-pack"
        | "api-void-doc-pack"
        | "api-regenerate-doc-pack"
        | "api-create-prompt"
        | "api-update-prompt"
        | "api-delete-prompt"
        | "api-seal-prompt" => WriteDocuments,
        "api-set-document-legal-hold" => SetLegalHold,
        "api-create-certificate"
        | "api-import-certificate-chain"
        | "api-set-default-certificate"
        | "api-revoke-certificate" => ManageCertificates,
        "api-verify-signatures" => VerifySignatures,
        "api-create-webhook"
        | "api-update-webhook"
        | "api-delete-webhook"
        | "api-rotate-webhook-secret"
        | "api-test-webhook"
        | "api-retry-webhook-delivery" => ManageWebhooks,
        "api-create-clause"
        | "api-create-clause-version"
        | "api-publish-clause"
        | "api-deactivate-clause"
        | "api-create-doc-template"
        | "api-create-doc-template-version"
        | "api-publish-doc-template"
        | "api-deactivate-doc-template" => ManageTemplates,
        "api-import-sealed-envelope" | "api-open-sealed-envelope" => OpenSealedEnvelopes,
        "api-register-crypto-key"
        | "api-generate-crypto-key"
        | "api-rotate-crypto-key"
        | "api-revoke-crypto-key" => ManageCryptoKeys,
        "api-create-checkout" | "api-create-portal-session" => UpdateOrganization,
        "api-add-mail-suppression" | "api-remove-mail-suppression" => ManageMailSuppressions,
        _ => return None,
    })
}

/// Routes every authenticated caller may call for itself, whatever its role or scopes.
const FOR_EVERY_CALLER: [&str; 1] = [
    // Ends the caller's own session.
    "api-logout",
];

/// An owner's API key of `org` (made by `creator`, an active owner) holding `scopes`.
async fn api_key(db: &TestDatabase, org: Uuid, creator: Uuid, scopes: &[Scope]) -> String {
    let key = credentials::new_api_key();
    let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    db.connect()
        .await
        .execute(
            "INSERT INTO api_keys (organization_id, created_by, name, prefix, key_hash, role, scopes)
             VALUES ($1, $2, 'matrix', $3, $4, 'owner', $5)",
            &[&org, &creator, &key.prefix, &key.hash, &scopes],
        )
        .await
        .expect("key");
    secrecy::ExposeSecret::expose_secret(&key.key).to_owned()
}

/// Calls `method path` with an empty JSON object (ids in the path are fresh UUIDs): the
/// access check comes before reading the body or looking anything up, so a refused caller
/// gets 403 whatever the body and ids.
async fn attempt(stack: &TestStack, method: &str, path: &str, bearer: &str) -> (u16, String) {
    let path: String = path
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                Uuid::new_v4().to_string()
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    let response = reqwest::Client::new()
        .request(
            method.parse().expect("method"),
            format!("{}{path}", stack.url),
        )
        .bearer_auth(bearer)
        .header("Idempotency-Key", Uuid::new_v4().to_string())
        .json(&json!({}))
        .send()
        .await
        .expect("the runner answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn every_mutating_route_of_the_template_refuses_exactly_the_roles_and_scopes_the_access_table_refuses(
) {
    let db = TestDatabase::migrated().await;
    let mut parameters: BTreeMap<String, String> = local_parameters();
    parameters.insert("DatabaseUrl".to_owned(), db.url.clone());
    // Several hundred calls from one address and a few keys, in a few seconds.
    for limit in ["RateLimitPerIp", "RateLimitPerApiKey"] {
        parameters.insert(limit.to_owned(), "100000".to_owned());
    }
    let stack = start_stack(
        &root().join("template.yaml"),
        &gsign_local::registry(),
        parameters,
    )
    .await;
    let org = organization(&db).await;
    let owner = org.users[0];

    let template =
        gsign_local::template::Template::load(&root().join("template.yaml")).expect("template");
    let mut routes = Vec::new();
    for function in template.functions().expect("functions") {
        for event in &function.events {
            let gsign_local::template::EventDef::Http {
                method,
                path,
                authorizer,
                ..
            } = event
            else {
                continue;
            };
            if method == "GET" || authorizer.as_deref() == Some("NONE") {
                continue;
            }
            routes.push((function.handler.clone(), method.clone(), path.clone()));
        }
    }
    assert!(routes.len() >= 58, "{} mutating routes", routes.len());

    let mut checked = 0;
    for (binary, method, path) in &routes {
        let what = format!("{method} {path} ({binary})");
        if FOR_EVERY_CALLER.contains(&binary.as_str()) {
            continue;
        }
        let action =
            action_of(binary).unwrap_or_else(|| panic!("{what}: say its action in action_of"));
        for role in Role::ALL {
            let (status, body) = attempt(&stack, method, path, &org.tokens[&role]).await;
            assert!(status < 500, "{what} as {role}: {status} {body}");
            if action.allowed_roles().contains(&role) {
                assert!(
                    ![401, 403].contains(&status),
                    "{what} as {role} must get past the access check: {status} {body}"
                );
            } else {
                assert_eq!(status, 403, "{what} as {role} must be forbidden: {body}");
                assert!(body.contains("/problems/forbidden"), "{what}: {body}");
            }
            checked += 1;
        }
        // API keys: every scope but the one the action needs is refused; that one alone is
        // enough (an owner's key); actions no key may take refuse a key holding every scope.
        match action.required_scope() {
            Some(needed) => {
                let others: Vec<Scope> = Scope::ALL.into_iter().filter(|s| *s != needed).collect();
                let key = api_key(&db, org.id, owner, &others).await;
                let (status, body) = attempt(&stack, method, path, &key).await;
                assert_eq!(status, 403, "{what} with a key lacking {needed:?}: {body}");
                let key = api_key(&db, org.id, owner, &[needed]).await;
                let (status, body) = attempt(&stack, method, path, &key).await;
                assert!(
                    status < 500 && ![401, 403].contains(&status),
                    "{what} with a key holding {needed:?}: {status} {body}"
                );
            }
            None => {
                let key = api_key(&db, org.id, owner, &Scope::ALL).await;
                let (status, body) = attempt(&stack, method, path, &key).await;
                assert_eq!(status, 403, "{what}: no API key may do this: {body}");
            }
        }
        checked += 2;
    }
    assert!(checked > 300, "{checked} calls");
    stack.stop().await;
}
