use gsign_platform::migrations::{self, MigrationError};
use gsign_tests::{start_app, TestDatabase};

async fn tables(db: &TestDatabase) -> Vec<String> {
    db.connect()
        .await
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = 'public' ORDER BY 1",
            &[],
        )
        .await
        .expect("list tables")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn migrations_apply_roll_back_completely_and_apply_again() {
    let db = TestDatabase::create().await;
    let all = migrations::embedded().expect("embedded migrations");
    let database = db.database();

    let applied = migrations::up(&database, &all, None).await.expect("up");
    assert_eq!(applied.len(), all.len());
    assert!(tables(&db).await.contains(&"organizations".to_owned()));

    let reverted = migrations::down(&database, &all, usize::MAX)
        .await
        .expect("down");
    assert_eq!(reverted.len(), all.len());
    assert_eq!(
        tables(&db).await,
        vec!["schema_migrations".to_owned()],
        "every down script must undo its up script completely"
    );

    let again = migrations::up(&database, &all, None)
        .await
        .expect("up again");
    assert_eq!(again.len(), all.len());
    assert!(migrations::up(&database, &all, None)
        .await
        .expect("idempotent")
        .is_empty());
}

#[tokio::test]
async fn an_applied_migration_that_was_edited_is_refused() {
    let db = TestDatabase::create().await;
    let all = migrations::embedded().expect("embedded migrations");
    let client = db.connect().await;
    migrations::up(&db.database(), &all, None)
        .await
        .expect("up");
    client
        .execute(
            "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1",
            &[],
        )
        .await
        .expect("tamper");
    let err = migrations::up(&db.database(), &all, None)
        .await
        .expect_err("edited migration");
    assert!(
        matches!(err, MigrationError::Edited { version: 1, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn concurrent_migrators_apply_each_migration_once() {
    let db = TestDatabase::create().await;
    let all = migrations::embedded().expect("embedded migrations");
    // Two migrators, each with a pool of its own.
    let (a, b) = (db.database(), db.database());
    let (ra, rb) = tokio::join!(
        migrations::up(&a, &all, None),
        migrations::up(&b, &all, None)
    );
    let total = ra.expect("first").len() + rb.expect("second").len();
    assert_eq!(total, all.len(), "the advisory lock serialises migrators");
}

#[tokio::test]
async fn the_migrate_function_reports_what_it_changed() {
    let db = TestDatabase::create().await;
    let env = gsign_tests::stack_env()
        .clone()
        .with("DATABASE_URL", db.url.clone())
        .with("DATABASE_TLS", "disable");
    let migrator = gsign_functions_system::jobs::migrate::Migrator::from_env(&env)
        .await
        .expect("config");
    use gsign_functions_system::jobs::migrate::Command;
    let up = migrator.run(Command::Up { to: None }).await.expect("up");
    assert_eq!(up.changed.len() as i64, up.latest);
    let down = migrator
        .run(Command::Down { steps: 1 })
        .await
        .expect("down");
    assert_eq!(down.changed.len(), 1);
    assert_eq!(down.applied.len() as i64, up.latest - 1);
}

#[tokio::test]
async fn an_event_migrate_cannot_read_fails_permanently_the_way_lambda_reports_it() {
    let db = TestDatabase::migrated().await;
    let stack = start_app(&db, &[]).await;
    let response = reqwest::Client::new()
        .post(format!("{}/_local/invoke/migrate", stack.url))
        .json(&serde_json::json!({"action": "sideways"}))
        .send()
        .await
        .expect("the runner answers");
    // Lambda answers a failed invoke with 200, the header, and the error's type and message.
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response
            .headers()
            .get("x-amz-function-error")
            .and_then(|v| v.to_str().ok()),
        Some("Unhandled")
    );
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["errorType"], "Permanent", "{body}");
    let message = body["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains("not a migrate command"), "{message}");
    assert!(message.contains("sideways"), "the cause is kept: {message}");
    stack.stop().await;
}
