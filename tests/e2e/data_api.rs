//! The local Data API endpoint (`gsign_local::data_api`) as the AWS SDK sees it: the real
//! `aws-sdk-rdsdata` client, the endpoint on a port of its own, a database of the test's own.

use std::time::Duration;

use aws_sdk_rdsdata::error::ProvideErrorMetadata as _;
use aws_sdk_rdsdata::types::{Field, RecordsFormatType, SqlParameter, TypeHint};
use aws_sdk_rdsdata::Client;
use gsign_local::data_api::DataApi;
use gsign_tests::TestDatabase;

const CLUSTER: &str = "arn:aws:rds:eu-west-1:123456789012:cluster:gsign";
const SECRET: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:gsign-db";

struct Endpoint {
    client: Client,
    db: TestDatabase,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn endpoint_with(configure: impl FnOnce(DataApi) -> DataApi) -> Endpoint {
    let db = TestDatabase::create().await;
    let api = configure(DataApi::new(&db.url).expect("database url"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new().nest_service(gsign_local::data_api::PATH, api.router());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let config = aws_sdk_rdsdata::config::Builder::from(&gsign_tests::sdk().await)
        .endpoint_url(format!("http://{addr}{}", gsign_local::data_api::PATH))
        .build();
    Endpoint {
        client: Client::from_conf(config),
        db,
        server,
    }
}

async fn endpoint() -> Endpoint {
    endpoint_with(|api| api).await
}

fn text(name: &str, value: &str) -> SqlParameter {
    SqlParameter::builder()
        .name(name)
        .value(Field::StringValue(value.to_owned()))
        .build()
}

fn hinted(name: &str, value: &str, hint: TypeHint) -> SqlParameter {
    SqlParameter::builder()
        .name(name)
        .value(Field::StringValue(value.to_owned()))
        .type_hint(hint)
        .build()
}

fn long(name: &str, value: i64) -> SqlParameter {
    SqlParameter::builder()
        .name(name)
        .value(Field::LongValue(value))
        .build()
}

impl Endpoint {
    fn execute(
        &self,
        sql: &str,
    ) -> aws_sdk_rdsdata::operation::execute_statement::builders::ExecuteStatementFluentBuilder
    {
        self.client
            .execute_statement()
            .resource_arn(CLUSTER)
            .secret_arn(SECRET)
            .database(&self.db.name)
            .sql(sql)
    }

    async fn run(&self, sql: &str) {
        self.execute(sql)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }

    async fn begin(&self) -> String {
        self.client
            .begin_transaction()
            .resource_arn(CLUSTER)
            .secret_arn(SECRET)
            .database(&self.db.name)
            .send()
            .await
            .expect("begin")
            .transaction_id
            .expect("transaction id")
    }

    async fn count(&self, table: &str) -> i64 {
        let out = self
            .execute(&format!("SELECT count(*) FROM {table}"))
            .send()
            .await
            .expect("count");
        match &out.records()[0][0] {
            Field::LongValue(n) => *n,
            other => panic!("count is {other:?}"),
        }
    }
}

/// Sends `request`, which must fail with the Data API exception `code`; its message.
async fn refused(
    request: aws_sdk_rdsdata::operation::execute_statement::builders::ExecuteStatementFluentBuilder,
    code: &str,
) -> String {
    let err = request.send().await.expect_err(code);
    assert_eq!(err.code(), Some(code), "{err:?}");
    err.message().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn values_go_in_with_type_hints_and_come_back_as_the_data_api_returns_them() {
    let api = endpoint().await;
    api.run(
        "CREATE TABLE things (id UUID PRIMARY KEY, n INT NOT NULL, big BIGINT, ok BOOLEAN, \
         price NUMERIC(10, 2), doc JSONB, at TIMESTAMPTZ, day DATE, tags TEXT[], raw BYTEA, note TEXT)",
    )
    .await;
    let id = "1b4e28ba-2fa1-11d2-883f-0016d3cca427";
    let inserted = api
        .execute(
            "INSERT INTO things VALUES (:id, :n, :big, :ok, :price, :doc, :at, :day, \
             ARRAY['a', :tag], :raw, :note)",
        )
        .set_parameters(Some(vec![
            hinted("id", id, TypeHint::Uuid),
            long("n", 7),
            long("big", 9_007_199_254_740_993),
            SqlParameter::builder()
                .name("ok")
                .value(Field::BooleanValue(true))
                .build(),
            hinted("price", "12.50", TypeHint::Decimal),
            hinted("doc", r#"{"a": [1, 2]}"#, TypeHint::Json),
            hinted("at", "2026-12-06 10:11:12.345", TypeHint::Timestamp),
            hinted("day", "2026-12-06", TypeHint::Date),
            text("tag", "b"),
            SqlParameter::builder()
                .name("raw")
                .value(Field::BlobValue(aws_sdk_rdsdata::primitives::Blob::new(
                    vec![0u8, 1, 255],
                )))
                .build(),
            SqlParameter::builder()
                .name("note")
                .value(Field::IsNull(true))
                .build(),
        ]))
        .send()
        .await
        .expect("insert");
    assert_eq!(inserted.number_of_records_updated(), 1);

    let out = api
        .execute("SELECT * FROM things WHERE id = :id")
        .parameters(hinted("id", id, TypeHint::Uuid))
        .include_result_metadata(true)
        .send()
        .await
        .expect("select");
    let row = &out.records()[0];
    assert_eq!(row[0], Field::StringValue(id.to_owned()));
    assert_eq!(row[1], Field::LongValue(7));
    assert_eq!(row[2], Field::LongValue(9_007_199_254_740_993));
    assert_eq!(row[3], Field::BooleanValue(true));
    assert_eq!(row[4], Field::StringValue("12.50".to_owned()));
    assert_eq!(row[5], Field::StringValue(r#"{"a": [1, 2]}"#.to_owned()));
    assert_eq!(
        row[6],
        Field::StringValue("2026-12-06 10:11:12.345".to_owned())
    );
    assert_eq!(row[7], Field::StringValue("2026-12-06".to_owned()));
    match &row[8] {
        Field::ArrayValue(aws_sdk_rdsdata::types::ArrayValue::StringValues(tags)) => {
            assert_eq!(tags, &[Some("a".to_owned()), Some("b".to_owned())]);
        }
        other => panic!("tags: {other:?}"),
    }
    match &row[9] {
        Field::BlobValue(blob) => assert_eq!(blob.as_ref(), &[0u8, 1, 255]),
        other => panic!("raw: {other:?}"),
    }
    assert_eq!(row[10], Field::IsNull(true));
    let types: Vec<&str> = out
        .column_metadata()
        .iter()
        .map(|c| c.type_name().unwrap_or_default())
        .collect();
    assert_eq!(
        types,
        [
            "uuid",
            "int4",
            "int8",
            "bool",
            "numeric",
            "jsonb",
            "timestamptz",
            "date",
            "_text",
            "bytea",
            "text"
        ]
    );

    let json = api
        .execute("SELECT n, price, tags, note FROM things")
        .format_records_as(RecordsFormatType::Json)
        .send()
        .await
        .expect("json records");
    assert!(json.records().is_empty());
    let records: serde_json::Value =
        serde_json::from_str(json.formatted_records().expect("formatted")).expect("json");
    assert_eq!(
        records,
        serde_json::json!([{"n": 7, "price": "12.50", "tags": ["a", "b"], "note": null}])
    );
}

#[tokio::test]
async fn what_aurora_refuses_is_refused_with_its_exception() {
    let api = endpoint().await;
    api.run("CREATE TABLE things (id UUID PRIMARY KEY)").await;

    // A string without a type hint is a varchar: comparing it with a uuid fails on Aurora.
    let message = refused(
        api.execute("SELECT * FROM things WHERE id = :id")
            .parameters(text("id", "1b4e28ba-2fa1-11d2-883f-0016d3cca427")),
        "DatabaseErrorException",
    )
    .await;
    assert!(message.contains("SQLState: 42883"), "{message}");

    let array = SqlParameter::builder()
        .name("ids")
        .value(Field::ArrayValue(
            aws_sdk_rdsdata::types::ArrayValue::StringValues(vec![Some("a".to_owned())]),
        ))
        .build();
    refused(
        api.execute("SELECT * FROM things WHERE id::text = ANY(:ids)")
            .parameters(array),
        "BadRequestException",
    )
    .await;

    let err = api
        .execute("SELECT 1; SELECT 2")
        .send()
        .await
        .expect_err("two statements");
    assert_eq!(err.code(), Some("BadRequestException"), "{err:?}");

    refused(api.execute("SELECT :missing"), "BadRequestException").await;

    refused(
        api.execute("SELECT 1").schema("public"),
        "BadRequestException",
    )
    .await;

    // 1 MiB of results at most, 64 KB per row.
    refused(
        api.execute("SELECT repeat('x', 60000) FROM generate_series(1, 20)"),
        "BadRequestException",
    )
    .await;
    refused(
        api.execute("SELECT repeat('x', 70000)"),
        "UnsupportedResultException",
    )
    .await;
    refused(
        api.execute("SELECT interval '1 day'"),
        "UnsupportedResultException",
    )
    .await;

    let err = api
        .client
        .execute_statement()
        .resource_arn(CLUSTER)
        .secret_arn(SECRET)
        .database("gsign_no_such_database")
        .sql("SELECT 1")
        .send()
        .await
        .expect_err("no such database");
    assert_eq!(err.code(), Some("DatabaseNotFoundException"), "{err:?}");
}

#[tokio::test]
async fn transactions_commit_roll_back_lock_rows_and_end_on_the_first_failure() {
    let api = endpoint().await;
    api.run("CREATE TABLE things (id BIGINT PRIMARY KEY)").await;

    let rolled_back = api.begin().await;
    api.execute("INSERT INTO things VALUES (:id)")
        .parameters(long("id", 1))
        .transaction_id(&rolled_back)
        .send()
        .await
        .expect("insert");
    assert_eq!(api.count("things").await, 0, "not visible before commit");
    let status = api
        .client
        .rollback_transaction()
        .resource_arn(CLUSTER)
        .secret_arn(SECRET)
        .transaction_id(&rolled_back)
        .send()
        .await
        .expect("rollback");
    assert_eq!(status.transaction_status(), Some("Rollback Complete"));
    assert_eq!(api.count("things").await, 0);

    let committed = api.begin().await;
    api.execute("INSERT INTO things VALUES (:id)")
        .parameters(long("id", 2))
        .transaction_id(&committed)
        .send()
        .await
        .expect("insert");
    // The row is locked by the open transaction: another one cannot take it.
    let other = api.begin().await;
    api.run("INSERT INTO things VALUES (3)").await;
    api.execute("SELECT id FROM things WHERE id = 3 FOR UPDATE")
        .transaction_id(&committed)
        .send()
        .await
        .expect("lock");
    let err = api
        .execute("SELECT id FROM things WHERE id = 3 FOR UPDATE NOWAIT")
        .transaction_id(&other)
        .send()
        .await
        .expect_err("locked");
    assert!(
        err.message().is_some_and(|m| m.contains("SQLState: 55P03")),
        "{err:?}"
    );
    // That failure ended the other transaction, as on Aurora.
    refused(
        api.execute("SELECT 1").transaction_id(&other),
        "TransactionNotFoundException",
    )
    .await;
    let status = api
        .client
        .commit_transaction()
        .resource_arn(CLUSTER)
        .secret_arn(SECRET)
        .transaction_id(&committed)
        .send()
        .await
        .expect("commit");
    assert_eq!(status.transaction_status(), Some("Transaction Committed"));
    assert_eq!(api.count("things").await, 2);
}

#[tokio::test]
async fn a_transaction_runs_one_statement_at_a_time_and_expires_when_idle() {
    let api = endpoint_with(|api| api.with_idle_limit(Duration::from_millis(300))).await;
    let transaction = api.begin().await;
    let slow = api
        .execute("SELECT pg_sleep(1)")
        .transaction_id(&transaction)
        .send();
    let second = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        api.execute("SELECT 1")
            .transaction_id(&transaction)
            .send()
            .await
    };
    let (slow, second) = tokio::join!(slow, second);
    slow.expect("the first statement runs");
    let err = second.expect_err("refused while the first runs");
    assert_eq!(err.code(), Some("DatabaseErrorException"), "{err:?}");

    // Idle past the limit, it is gone.
    tokio::time::sleep(Duration::from_millis(400)).await;
    refused(
        api.execute("SELECT 1").transaction_id(&transaction),
        "TransactionNotFoundException",
    )
    .await;
}

#[tokio::test]
async fn a_batch_inserts_every_set_or_none() {
    let api = endpoint().await;
    api.run("CREATE TABLE things (id BIGINT PRIMARY KEY)").await;
    let batch = |ids: &[i64]| {
        api.client
            .batch_execute_statement()
            .resource_arn(CLUSTER)
            .secret_arn(SECRET)
            .database(&api.db.name)
            .sql("INSERT INTO things VALUES (:id)")
            .set_parameter_sets(Some(ids.iter().map(|id| vec![long("id", *id)]).collect()))
            .send()
    };
    let out = batch(&[1, 2, 3]).await.expect("batch");
    assert_eq!(out.update_results().len(), 3);
    assert_eq!(api.count("things").await, 3);
    let err = batch(&[4, 1]).await.expect_err("duplicate key");
    assert!(
        err.message().is_some_and(|m| m.contains("SQLState: 23505")),
        "{err:?}"
    );
    assert_eq!(api.count("things").await, 3, "none of the failed batch");
}
