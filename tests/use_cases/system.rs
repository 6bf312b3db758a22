//! The system area's outbox sweeper: rows a function committed but never published (it
//! crashed between commit and publish) are published once.

use gsign_platform::lambda::Handler;
use gsign_tests::use_cases::function_env;
use gsign_tests::{Tenant, TestDatabase};
use serde_json::json;

#[tokio::test]
async fn rows_left_unpublished_are_swept_once() {
    let db = TestDatabase::migrated().await;
    let tenant = Tenant::create(&db, "admin").await;
    let client = db.connect().await;
    for (kind, payload) in [
        (
            "audit",
            json!({"action": "test.left_behind", "organization_id": tenant.org,
                   "resource_type": "test", "resource_id": "1", "details": {}}),
        ),
        (
            "email",
            json!({"to": "ana@example.com", "template": "test", "organization_id": tenant.org}),
        ),
    ] {
        client
            .execute(
                "INSERT INTO outbox (organization_id, kind, payload, created_at) \
                 VALUES ($1, $2, $3, now() - interval '1 minute')",
                &[&tenant.org, &kind, &payload],
            )
            .await
            .expect("a row left behind");
    }
    let env = function_env("schedule-sweep-outbox", &db).with("OUTBOX_SWEEP_GRACE_SECONDS", "0");
    let Handler::Invoke(sweep) = (gsign_functions_system::jobs::outbox::SWEEP_OUTBOX.init)(env)
        .await
        .expect("the sweeper starts")
    else {
        panic!("the sweeper is an invoked function");
    };

    let swept = sweep.handle(json!({})).await.expect("swept");
    assert_eq!(swept["published"], 2, "{swept}");
    let unpublished: i64 = client
        .query_one(
            "SELECT count(*) FROM outbox WHERE organization_id = $1 AND published_at IS NULL",
            &[&tenant.org],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(unpublished, 0);
    let again = sweep.handle(json!({})).await.expect("swept");
    assert_eq!(again["published"], 0, "nothing is published twice: {again}");
}

/// What a function of the webhooks area is built from, on `db` through the chosen backend.
async fn function_base(db: &TestDatabase) -> gsign_platform::service::Base {
    let env = function_env("api-create-webhook", db);
    let mut r = env.reader();
    let config = gsign_platform::service::BaseConfig::read(&mut r);
    let config = r
        .finish(|| config)
        .expect("the function's settings are valid");
    gsign_platform::service::Base::build(config)
        .await
        .expect("the clients build")
}

#[tokio::test]
async fn functions_reach_the_tests_database_through_the_chosen_backend() {
    use gsign_platform::database::Session as _;
    let db = TestDatabase::migrated().await;
    let tenant = Tenant::create(&db, "owner").await;
    let base = function_base(&db).await;
    assert_eq!(base.db.backend(), gsign_tests::use_cases::backend());
    let row = base
        .db
        .connect()
        .await
        .expect("a connection")
        .fetch_one(
            "SELECT count(*) AS organizations FROM organizations WHERE id = :org",
            gsign_platform::params!(org = tenant.org),
        )
        .await
        .expect("the statement runs");
    assert_eq!(row.get::<i64>("organizations").expect("a count"), 1);
}

#[tokio::test]
async fn the_migrate_function_applies_reverts_and_applies_again_on_the_chosen_backend() {
    use gsign_functions_system::jobs::migrate::{Command, Migrator};
    let db = TestDatabase::create().await;
    let migrator = Migrator::from_env(&function_env("migrate", &db))
        .await
        .expect("the migrator starts");
    let up = migrator.run(Command::Up { to: None }).await.expect("up");
    assert_eq!(up.changed.len() as i64, up.latest);
    let down = migrator
        .run(Command::Down { steps: usize::MAX })
        .await
        .expect("down");
    assert_eq!(down.changed.len() as i64, up.latest);
    assert!(down.applied.is_empty(), "{:?}", down.applied);
    let again = migrator
        .run(Command::Up { to: None })
        .await
        .expect("up again");
    assert_eq!(again.applied.len() as i64, up.latest);
}

#[tokio::test]
async fn two_migrators_at_once_apply_each_migration_once_on_the_chosen_backend() {
    use gsign_functions_system::jobs::migrate::{Command, Migrator};
    let db = TestDatabase::create().await;
    let env = function_env("migrate", &db);
    let (a, b) = (
        Migrator::from_env(&env).await.expect("a migrator"),
        Migrator::from_env(&env).await.expect("another"),
    );
    let (ra, rb) = tokio::join!(
        a.run(Command::Up { to: None }),
        b.run(Command::Up { to: None })
    );
    let (ra, rb) = (ra.expect("first"), rb.expect("second"));
    assert_eq!(
        (ra.changed.len() + rb.changed.len()) as i64,
        ra.latest,
        "the migration lock lets each migration be applied once"
    );
}

#[tokio::test]
async fn the_sweeper_racing_the_publisher_publishes_each_row_once_on_the_chosen_backend() {
    use gsign_platform::database::Session as _;
    let db = TestDatabase::migrated().await;
    let tenant = Tenant::create(&db, "owner").await;
    let base = function_base(&db).await;
    // Thirty committed rows, as a request leaves them before publishing.
    let mut connection = base.db.connect().await.expect("a connection");
    let tx = connection.begin().await.expect("a transaction");
    let mut ids = Vec::new();
    for n in 0..30 {
        let event = gsign_platform::outbox::AuditEvent {
            action: "test.raced".to_owned(),
            organization_id: tenant.org,
            actor_user_id: None,
            actor_api_key_id: None,
            resource_type: "test".to_owned(),
            resource_id: n.to_string(),
            ip: None,
            user_agent: None,
            details: json!({}),
        };
        ids.push(
            gsign_platform::outbox::audit(&tx, &event)
                .await
                .expect("written"),
        );
    }
    tx.commit().await.expect("committed");

    // The request's publisher and the sweeper (no grace) take the same rows at once.
    let (published, swept) = tokio::join!(
        base.relay.publish(&base.db, &ids),
        base.relay.sweep(&base.db, std::time::Duration::ZERO)
    );
    let () = published;
    swept.expect("the sweep runs");

    let row = base
        .db
        .connect()
        .await
        .expect("a connection")
        .fetch_one(
            "SELECT count(*) FILTER (WHERE published_at IS NOT NULL) AS published, \
                    count(*) FILTER (WHERE attempts <> 1) AS not_once \
               FROM outbox WHERE organization_id = :org",
            gsign_platform::params!(org = tenant.org),
        )
        .await
        .expect("counted");
    assert_eq!(row.get::<i64>("published").expect("a count"), 30);
    assert_eq!(
        row.get::<i64>("not_once").expect("a count"),
        0,
        "a row sent by both would have two attempts"
    );
}
