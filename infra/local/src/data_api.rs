//! A local Aurora Data API (the `rds-data` service) over the local Postgres.
//!
//! It speaks the REST protocol the AWS SDK sends (`POST /Execute`, `/BatchExecute`,
//! `/BeginTransaction`, `/CommitTransaction`, `/RollbackTransaction`, JSON bodies, errors named
//! by the `x-amzn-ErrorType` header) and keeps the Data API's rules, so that code which would
//! fail on Aurora fails here too:
//!
//! - named parameters (`:name`) only, typed by their value: a `stringValue` without a
//!   `typeHint` is a `varchar`, so comparing it with a `uuid` column fails as it does on Aurora;
//!   hints `UUID`, `JSON`, `TIMESTAMP`, `DATE`, `TIME` and `DECIMAL` cast it; array parameters
//!   are refused;
//! - one statement per call, no `schema` parameter (Aurora PostgreSQL refuses both);
//! - results of at most 1 MiB, and 64 KB per row;
//! - values as the Data API returns them: integers as `longValue`, `numeric`, `uuid`, `json`,
//!   timestamps and dates as `stringValue`, `bytea` as `blobValue`, one-dimensional arrays as
//!   `arrayValue`; other types are an `UnsupportedResultException`; `formatRecordsAs: JSON`
//!   returns `formattedRecords` instead;
//! - transactions that end on the first failed statement and expire after three idle minutes,
//!   and refuse a second statement while one is running.
//!
//! Not emulated: IAM and the Secrets Manager secret (any ARN is accepted; the local Postgres'
//! own user is used), `continueAfterTimeout` and statement timeouts, the Data API's latency.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use gsign_platform::database::{named, numeric};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio_postgres::types::{FromSql, IsNull, Kind, ToSql, Type};
use tokio_postgres::{Client, NoTls};

/// Where the runner serves it: the SDK's endpoint URL is `http://<runner>/_local/rds-data`.
pub const PATH: &str = "/_local/rds-data";

/// Largest result the Data API returns.
pub const MAX_RESULT_BYTES: usize = 1024 * 1024;
/// Largest row the Data API returns.
pub const MAX_ROW_BYTES: usize = 64 * 1024;
/// How long a transaction may sit idle before the Data API ends it.
pub const TRANSACTION_IDLE_LIMIT: Duration = Duration::from_secs(180);

/// The endpoint's state: where Postgres is, idle connections per database, open transactions.
#[derive(Clone)]
pub struct DataApi {
    inner: Arc<Inner>,
}

struct Inner {
    postgres: tokio_postgres::Config,
    idle: Mutex<HashMap<String, Vec<Client>>>,
    transactions: Mutex<HashMap<String, Arc<Transaction>>>,
    idle_limit: Duration,
}

struct Transaction {
    client: tokio::sync::Mutex<Client>,
    last_used: Mutex<Instant>,
    /// Its database: the connection goes back to that database's idle ones when it ends.
    database: String,
}

/// A Data API error: its name (the SDK's exception type), HTTP status and message.
#[derive(Debug)]
pub struct ApiError {
    kind: &'static str,
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn bad_request(message: impl Into<String>) -> Self {
        Self {
            kind: "BadRequestException",
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    fn database(message: impl Into<String>) -> Self {
        Self {
            kind: "DatabaseErrorException",
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    fn unsupported(message: impl Into<String>) -> Self {
        Self {
            kind: "UnsupportedResultException",
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    fn transaction_not_found(id: &str) -> Self {
        Self {
            kind: "TransactionNotFoundException",
            status: StatusCode::NOT_FOUND,
            message: format!("Transaction {id} is not found"),
        }
    }

    fn unavailable(message: impl Into<String>) -> Self {
        Self {
            kind: "DatabaseUnavailableException",
            status: StatusCode::GATEWAY_TIMEOUT,
            message: message.into(),
        }
    }

    /// A Postgres error worded as the Data API words it: the server's message, then its
    /// position and SQLSTATE (`…; SQLState: 23505`), which callers map as they would a driver's.
    fn from_postgres(err: &tokio_postgres::Error) -> Self {
        match err.as_db_error() {
            Some(db) => {
                let mut message = format!("ERROR: {}", db.message());
                if let Some(hint) = db.hint() {
                    message.push_str(&format!("\n  Hint: {hint}"));
                }
                if let Some(tokio_postgres::error::ErrorPosition::Original(at)) = db.position() {
                    message.push_str(&format!("\n  Position: {at}"));
                }
                message.push_str(&format!("; SQLState: {}", db.code().code()));
                Self::database(message)
            }
            None => Self::unavailable(format!("the database is unreachable: {err}")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "message": self.message }))).into_response();
        response
            .headers_mut()
            .insert("x-amzn-ErrorType", HeaderValue::from_static(self.kind));
        response
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    resource_arn: Option<String>,
    secret_arn: Option<String>,
    database: Option<String>,
    schema: Option<String>,
}

impl Target {
    fn check(&self) -> Result<(), ApiError> {
        for (name, value) in [
            ("resourceArn", &self.resource_arn),
            ("secretArn", &self.secret_arn),
        ] {
            if value.as_deref().is_none_or(str::is_empty) {
                return Err(ApiError::bad_request(format!("{name} is required")));
            }
        }
        if self.schema.is_some() {
            return Err(ApiError::bad_request(
                "The schema parameter isn't supported by Aurora PostgreSQL",
            ));
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecuteRequest {
    #[serde(flatten)]
    target: Target,
    sql: Option<String>,
    #[serde(default)]
    parameters: Vec<SqlParameter>,
    transaction_id: Option<String>,
    #[serde(default)]
    include_result_metadata: bool,
    format_records_as: Option<String>,
    result_set_options: Option<ResultSetOptions>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchRequest {
    #[serde(flatten)]
    target: Target,
    sql: Option<String>,
    #[serde(default)]
    parameter_sets: Vec<Vec<SqlParameter>>,
    transaction_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TransactionRequest {
    #[serde(flatten)]
    target: Target,
    transaction_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ResultSetOptions {
    decimal_return_type: Option<String>,
    long_return_type: Option<String>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct SqlParameter {
    name: Option<String>,
    value: Option<Map<String, Value>>,
    type_hint: Option<String>,
}

impl DataApi {
    /// An endpoint executing on the Postgres `database_url` names (its database is the default
    /// when a request names none).
    pub fn new(database_url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            inner: Arc::new(Inner {
                postgres: database_url.parse()?,
                idle: Mutex::new(HashMap::new()),
                transactions: Mutex::new(HashMap::new()),
                idle_limit: TRANSACTION_IDLE_LIMIT,
            }),
        })
    }

    /// The same endpoint with another idle limit for transactions (tests).
    pub fn with_idle_limit(self, limit: Duration) -> Self {
        let inner = Inner {
            postgres: self.inner.postgres.clone(),
            idle: Mutex::new(HashMap::new()),
            transactions: Mutex::new(HashMap::new()),
            idle_limit: limit,
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The REST routes the SDK calls. Also starts ending idle transactions every few seconds,
    /// as the Data API does, for as long as the routes exist.
    pub fn router(self) -> Router {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&self.inner);
            runtime.spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(5));
                loop {
                    tick.tick().await;
                    match weak.upgrade() {
                        Some(inner) => DataApi { inner }.end_idle_transactions(),
                        None => break,
                    }
                }
            });
        }
        Router::new()
            .route("/Execute", post(execute))
            .route("/BatchExecute", post(batch_execute))
            .route("/BeginTransaction", post(begin_transaction))
            .route("/CommitTransaction", post(commit_transaction))
            .route("/RollbackTransaction", post(rollback_transaction))
            .with_state(self)
    }

    /// Drops transactions idle longer than the limit; dropping the connection rolls them back.
    pub fn end_idle_transactions(&self) {
        let limit = self.inner.idle_limit;
        let mut open = lock(&self.inner.transactions);
        open.retain(|_, t| lock(&t.last_used).elapsed() < limit);
    }

    fn database_name(&self, target: &Target) -> String {
        target
            .database
            .clone()
            .filter(|d| !d.is_empty())
            .or_else(|| self.inner.postgres.get_dbname().map(str::to_owned))
            .unwrap_or_else(|| "postgres".to_owned())
    }

    async fn connect(&self, database: &str) -> Result<Client, ApiError> {
        if let Some(client) = lock(&self.inner.idle).get_mut(database).and_then(Vec::pop) {
            if !client.is_closed() {
                return Ok(client);
            }
        }
        let mut config = self.inner.postgres.clone();
        config.dbname(database);
        let (client, connection) = config.connect(NoTls).await.map_err(|err| {
            if err
                .as_db_error()
                .is_some_and(|db| db.code().code() == "3D000")
            {
                ApiError {
                    kind: "DatabaseNotFoundException",
                    status: StatusCode::NOT_FOUND,
                    message: format!("Database {database} does not exist"),
                }
            } else {
                ApiError::from_postgres(&err)
            }
        })?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    fn release(&self, database: &str, client: Client) {
        if client.is_closed() {
            return;
        }
        let mut idle = lock(&self.inner.idle);
        let pool = idle.entry(database.to_owned()).or_default();
        if pool.len() < 8 {
            pool.push(client);
        }
    }

    fn transaction(&self, id: &str) -> Result<Arc<Transaction>, ApiError> {
        let mut open = lock(&self.inner.transactions);
        let transaction = open
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::transaction_not_found(id))?;
        let mut last_used = lock(&transaction.last_used);
        if last_used.elapsed() >= self.inner.idle_limit {
            drop(last_used);
            open.remove(id);
            return Err(ApiError::transaction_not_found(id));
        }
        *last_used = Instant::now();
        drop(last_used);
        Ok(transaction)
    }

    fn end_transaction(&self, id: &str) -> Option<Arc<Transaction>> {
        lock(&self.inner.transactions).remove(id)
    }

    /// Runs `work` on the transaction `id`, or on a connection of its own in autocommit (in
    /// one implicit transaction when `atomic`). A failed statement ends the transaction.
    async fn run<T>(
        &self,
        target: &Target,
        transaction_id: Option<&str>,
        atomic: bool,
        work: impl AsyncFnOnce(&Client) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        match transaction_id {
            Some(id) => {
                let transaction = self.transaction(id)?;
                let Ok(client) = transaction.client.try_lock() else {
                    return Err(ApiError::database("Transaction is still running a query"));
                };
                let result = work(&client).await;
                if result.is_err() {
                    drop(client);
                    self.end_transaction(id);
                }
                result
            }
            None => {
                let database = self.database_name(target);
                let client = self.connect(&database).await?;
                let result = if atomic {
                    match client.batch_execute("BEGIN").await {
                        Ok(()) => {
                            let result = work(&client).await;
                            let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
                            match client.batch_execute(end).await {
                                Ok(()) => result,
                                Err(err) => result.and(Err(ApiError::from_postgres(&err))),
                            }
                        }
                        Err(err) => Err(ApiError::from_postgres(&err)),
                    }
                } else {
                    work(&client).await
                };
                self.release(&database, client);
                result
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|err| ApiError::bad_request(format!("The request body is not valid: {err}")))
}

async fn execute(State(api): State<DataApi>, body: axum::body::Bytes) -> Response {
    respond(execute_statement(&api, parse(&body)).await)
}

async fn batch_execute(State(api): State<DataApi>, body: axum::body::Bytes) -> Response {
    respond(batch_execute_statement(&api, parse(&body)).await)
}

async fn begin_transaction(State(api): State<DataApi>, body: axum::body::Bytes) -> Response {
    respond(begin(&api, parse(&body)).await)
}

async fn commit_transaction(State(api): State<DataApi>, body: axum::body::Bytes) -> Response {
    respond(end(&api, parse(&body), "COMMIT", "Transaction Committed").await)
}

async fn rollback_transaction(State(api): State<DataApi>, body: axum::body::Bytes) -> Response {
    respond(end(&api, parse(&body), "ROLLBACK", "Rollback Complete").await)
}

fn respond(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(body) => Json(body).into_response(),
        Err(err) => err.into_response(),
    }
}

async fn execute_statement(
    api: &DataApi,
    request: Result<ExecuteRequest, ApiError>,
) -> Result<Value, ApiError> {
    let request = request?;
    let statement = Statement::of(&request.target, request.sql.as_deref())?;
    let bound = statement.bind(&request.parameters)?;
    let json_records = match request.format_records_as.as_deref() {
        None | Some("NONE") => false,
        Some("JSON") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "formatRecordsAs must be NONE or JSON, not {other}"
            )))
        }
    };
    let options = request.result_set_options.unwrap_or_default();
    let shape = Shape {
        json_records,
        longs_as_strings: options.long_return_type.as_deref() == Some("STRING"),
        decimals_as_numbers: options.decimal_return_type.as_deref() == Some("DOUBLE_OR_LONG"),
    };
    let (columns, rows, affected) = api
        .run(
            &request.target,
            request.transaction_id.as_deref(),
            false,
            async |client: &Client| query(client, &statement.sql, &bound).await,
        )
        .await?;
    let mut response = Map::new();
    let records = rows
        .iter()
        .map(|row| encode_row(row, &columns, &shape))
        .collect::<Result<Vec<_>, _>>()?;
    let mut size = 0;
    for record in &records {
        let row_size = record.to_string().len();
        if row_size > MAX_ROW_BYTES {
            return Err(ApiError::unsupported(format!(
                "Packet for query is too large ({row_size} > {MAX_ROW_BYTES} bytes in one row)"
            )));
        }
        size += row_size;
    }
    if size > MAX_RESULT_BYTES {
        return Err(ApiError::bad_request(
            "Database returned more than the allowed response size limit",
        ));
    }
    // A statement that returns rows reports none updated; one that does not, its count.
    let updated = if columns.is_empty() { affected } else { 0 };
    response.insert("numberOfRecordsUpdated".to_owned(), json!(updated));
    response.insert("generatedFields".to_owned(), json!([]));
    if shape.json_records {
        let objects: Vec<Value> = records
            .into_iter()
            .map(|record| {
                let Value::Array(fields) = record else {
                    return Value::Null;
                };
                Value::Object(
                    columns
                        .iter()
                        .zip(fields)
                        .map(|(column, field)| (column.name.clone(), field))
                        .collect(),
                )
            })
            .collect();
        response.insert(
            "formattedRecords".to_owned(),
            Value::String(Value::Array(objects).to_string()),
        );
    } else if !columns.is_empty() {
        response.insert("records".to_owned(), Value::Array(records));
    }
    if request.include_result_metadata {
        response.insert(
            "columnMetadata".to_owned(),
            Value::Array(columns.iter().map(column_metadata).collect()),
        );
    }
    Ok(Value::Object(response))
}

async fn batch_execute_statement(
    api: &DataApi,
    request: Result<BatchRequest, ApiError>,
) -> Result<Value, ApiError> {
    let request = request?;
    let statement = Statement::of(&request.target, request.sql.as_deref())?;
    let sets = if request.parameter_sets.is_empty() {
        vec![Vec::new()]
    } else {
        request.parameter_sets.clone()
    };
    let bound = sets
        .iter()
        .map(|set| statement.bind(set))
        .collect::<Result<Vec<_>, _>>()?;
    let results = api
        .run(
            &request.target,
            request.transaction_id.as_deref(),
            true,
            async |client: &Client| {
                let mut results = Vec::with_capacity(bound.len());
                for parameters in &bound {
                    query(client, &statement.sql, parameters).await?;
                    results.push(json!({ "generatedFields": [] }));
                }
                Ok(results)
            },
        )
        .await?;
    Ok(json!({ "updateResults": results }))
}

async fn begin(
    api: &DataApi,
    request: Result<TransactionRequest, ApiError>,
) -> Result<Value, ApiError> {
    let request = request?;
    request.target.check()?;
    let database = api.database_name(&request.target);
    let client = api.connect(&database).await?;
    client
        .batch_execute("BEGIN")
        .await
        .map_err(|err| ApiError::from_postgres(&err))?;
    let id = base64::engine::general_purpose::STANDARD.encode(uuid::Uuid::new_v4().as_bytes());
    lock(&api.inner.transactions).insert(
        id.clone(),
        Arc::new(Transaction {
            client: tokio::sync::Mutex::new(client),
            last_used: Mutex::new(Instant::now()),
            database,
        }),
    );
    Ok(json!({ "transactionId": id }))
}

async fn end(
    api: &DataApi,
    request: Result<TransactionRequest, ApiError>,
    command: &str,
    status: &str,
) -> Result<Value, ApiError> {
    let request = request?;
    let Target {
        resource_arn,
        secret_arn,
        ..
    } = &request.target;
    if resource_arn.is_none() || secret_arn.is_none() {
        return Err(ApiError::bad_request(
            "resourceArn and secretArn are required",
        ));
    }
    let id = request
        .transaction_id
        .ok_or_else(|| ApiError::bad_request("transactionId is required"))?;
    let transaction = api.transaction(&id)?;
    let Ok(client) = transaction.client.try_lock() else {
        return Err(ApiError::database("Transaction is still running a query"));
    };
    api.end_transaction(&id);
    client
        .batch_execute(command)
        .await
        .map_err(|err| ApiError::from_postgres(&err))?;
    drop(client);
    // The connection serves other calls again (an idle one, outside any transaction), as
    // the Data API's own pool would; one still shared by a racing call is simply dropped.
    if let Ok(ended) = Arc::try_unwrap(transaction) {
        api.release(&ended.database, ended.client.into_inner());
    }
    Ok(json!({ "transactionStatus": status }))
}

/// One statement with its named parameters turned into Postgres' positional ones.
struct Statement {
    sql: String,
    /// The parameter names in `$n` order.
    names: Vec<String>,
}

/// What a request's parameter values become for Postgres.
struct Bound {
    types: Vec<Type>,
    values: Vec<Param>,
}

#[derive(Debug)]
enum Param {
    Null,
    Bool(bool),
    Long(i64),
    Double(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Statement {
    /// The statement of a request, once its target is checked and its `sql` is there.
    fn of(target: &Target, sql: Option<&str>) -> Result<Self, ApiError> {
        target.check()?;
        let sql = sql
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| ApiError::bad_request("sql is required"))?;
        Self::parse(sql)
    }

    /// Rewrites `:name` placeholders to `$n` (the scanner the database port's Postgres
    /// adapter uses too); refuses a second statement.
    fn parse(sql: &str) -> Result<Self, ApiError> {
        let statement = named::positional(sql).map_err(|e| ApiError::bad_request(e.to_string()))?;
        Ok(Self {
            sql: statement.sql,
            names: statement.names,
        })
    }

    /// The values of `parameters` in `$n` order, typed as the Data API types them.
    fn bind(&self, parameters: &[SqlParameter]) -> Result<Bound, ApiError> {
        let mut types = Vec::with_capacity(self.names.len());
        let mut values = Vec::with_capacity(self.names.len());
        for name in &self.names {
            let parameter = parameters
                .iter()
                .find(|p| p.name.as_deref() == Some(name))
                .ok_or_else(|| {
                    ApiError::bad_request(format!("No value specified for parameter: {name}"))
                })?;
            let (ty, value) = typed(name, parameter)?;
            types.push(ty);
            values.push(value);
        }
        Ok(Bound { types, values })
    }
}

/// A parameter's Postgres type and value: by its `Field` member and `typeHint`.
fn typed(name: &str, parameter: &SqlParameter) -> Result<(Type, Param), ApiError> {
    let value = parameter
        .value
        .as_ref()
        .ok_or_else(|| ApiError::bad_request(format!("Parameter {name} has no value")))?;
    let Some((member, inner)) = value.iter().next().filter(|_| value.len() == 1) else {
        return Err(ApiError::bad_request(format!(
            "Parameter {name}'s value must set exactly one member"
        )));
    };
    let wrong = || ApiError::bad_request(format!("Parameter {name}: {member} has the wrong type"));
    let hinted = |hint: &str| -> Result<Type, ApiError> {
        Ok(match hint {
            "UUID" => Type::UUID,
            "JSON" => Type::JSON,
            "TIMESTAMP" => Type::TIMESTAMP,
            "DATE" => Type::DATE,
            "TIME" => Type::TIME,
            "DECIMAL" => Type::NUMERIC,
            other => {
                return Err(ApiError::bad_request(format!(
                    "Parameter {name}: unknown typeHint {other}"
                )))
            }
        })
    };
    Ok(match member.as_str() {
        "isNull" => (unspecified(), Param::Null),
        "booleanValue" => (Type::BOOL, Param::Bool(inner.as_bool().ok_or_else(wrong)?)),
        "longValue" => (Type::INT8, Param::Long(inner.as_i64().ok_or_else(wrong)?)),
        "doubleValue" => (
            Type::FLOAT8,
            Param::Double(inner.as_f64().ok_or_else(wrong)?),
        ),
        "stringValue" => {
            let text = inner.as_str().ok_or_else(wrong)?.to_owned();
            let ty = match parameter.type_hint.as_deref() {
                None => Type::VARCHAR,
                Some(hint) => hinted(hint)?,
            };
            (ty, Param::Text(text))
        }
        "blobValue" => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(inner.as_str().ok_or_else(wrong)?)
                .map_err(|_| wrong())?;
            (Type::BYTEA, Param::Bytes(bytes))
        }
        "arrayValue" => {
            return Err(ApiError::bad_request(format!(
                "Parameter {name}: array parameters are not supported"
            )))
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "Parameter {name}: unknown value member {other}"
            )))
        }
    })
}

/// A parameter type left for the server to infer (what a Data API `isNull` is).
fn unspecified() -> Type {
    Type::new(
        "unspecified".to_owned(),
        0,
        Kind::Simple,
        "pg_catalog".to_owned(),
    )
}

impl ToSql for Param {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Param::Null => Ok(IsNull::Yes),
            Param::Bool(v) => v.to_sql(ty, out),
            Param::Long(v) => v.to_sql(ty, out),
            Param::Double(v) => v.to_sql(ty, out),
            Param::Bytes(v) => v.to_sql(ty, out),
            Param::Text(text) => match *ty {
                Type::UUID => text.parse::<uuid::Uuid>()?.to_sql(ty, out),
                Type::JSON => serde_json::from_str::<Value>(text)?.to_sql(ty, out),
                Type::TIMESTAMP => parse_timestamp(text)?.to_sql(ty, out),
                Type::DATE => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")?.to_sql(ty, out),
                Type::TIME => {
                    chrono::NaiveTime::parse_from_str(text, "%H:%M:%S%.f")?.to_sql(ty, out)
                }
                Type::NUMERIC => numeric::encode(text, out),
                _ => text.as_str().to_sql(ty, out),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

/// The Data API's TIMESTAMP format, `YYYY-MM-DD HH:MM:SS[.fff]` (no zone: UTC).
fn parse_timestamp(text: &str) -> Result<chrono::NaiveDateTime, chrono::ParseError> {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
}

/// A column of a result: its name and Postgres type.
struct Column {
    name: String,
    ty: Type,
}

type Outcome = (Vec<Column>, Vec<Vec<Option<Vec<u8>>>>, u64);

async fn query(client: &Client, sql: &str, bound: &Bound) -> Result<Outcome, ApiError> {
    use futures::TryStreamExt as _;
    let statement = client
        .prepare_typed(sql, &bound.types)
        .await
        .map_err(|err| ApiError::from_postgres(&err))?;
    let columns: Vec<Column> = statement
        .columns()
        .iter()
        .map(|c| Column {
            name: c.name().to_owned(),
            ty: c.type_().clone(),
        })
        .collect();
    let params = bound.values.iter().map(|v| v as &(dyn ToSql + Sync));
    let stream = client
        .query_raw(&statement, params)
        .await
        .map_err(|err| ApiError::from_postgres(&err))?;
    futures::pin_mut!(stream);
    let mut rows = Vec::new();
    let mut size = 0usize;
    while let Some(row) = stream
        .try_next()
        .await
        .map_err(|err| ApiError::from_postgres(&err))?
    {
        let mut values = Vec::with_capacity(columns.len());
        for index in 0..columns.len() {
            let Raw(value) = row
                .try_get::<_, Raw>(index)
                .map_err(|err| ApiError::database(err.to_string()))?;
            size += value.as_ref().map_or(0, Vec::len);
            values.push(value);
        }
        // Stop reading well before holding a result the Data API would refuse anyway.
        if size > 4 * MAX_RESULT_BYTES {
            return Err(ApiError::bad_request(
                "Database returned more than the allowed response size limit",
            ));
        }
        rows.push(values);
    }
    let affected = stream.rows_affected().unwrap_or(0);
    Ok((columns, rows, affected))
}

/// A column value as Postgres sent it (binary format), whatever its type.
struct Raw(Option<Vec<u8>>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(Some(raw.to_vec())))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// How the request asked for values.
struct Shape {
    json_records: bool,
    longs_as_strings: bool,
    decimals_as_numbers: bool,
}

fn encode_row(
    row: &[Option<Vec<u8>>],
    columns: &[Column],
    shape: &Shape,
) -> Result<Value, ApiError> {
    row.iter()
        .zip(columns)
        .map(|(value, column)| encode_value(value.as_deref(), column, shape))
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// One value as a Data API `Field` (or, for `formatRecordsAs: JSON`, as a JSON value).
fn encode_value(raw: Option<&[u8]>, column: &Column, shape: &Shape) -> Result<Value, ApiError> {
    // `void` (what `SELECT pg_sleep(1)` returns) has no value to give.
    let Some(raw) = raw.filter(|_| column.ty != Type::VOID) else {
        return Ok(if shape.json_records {
            Value::Null
        } else {
            json!({ "isNull": true })
        });
    };
    let scalar = scalar(raw, &column.ty, shape).map_err(|reason| {
        ApiError::unsupported(format!(
            "The result contains the unsupported data type {} (column {}): {reason}",
            column.ty.name(),
            column.name
        ))
    })?;
    Ok(if shape.json_records {
        scalar.plain()
    } else {
        scalar.field()
    })
}

enum Scalar {
    Bool(bool),
    Long(i64),
    Double(f64),
    String(String),
    Blob(Vec<u8>),
    Array(Vec<Scalar>),
}

impl Scalar {
    fn field(self) -> Value {
        match self {
            Scalar::Bool(v) => json!({ "booleanValue": v }),
            Scalar::Long(v) => json!({ "longValue": v }),
            Scalar::Double(v) => json!({ "doubleValue": v }),
            Scalar::String(v) => json!({ "stringValue": v }),
            Scalar::Blob(v) => {
                json!({ "blobValue": base64::engine::general_purpose::STANDARD.encode(v) })
            }
            Scalar::Array(items) => {
                let member = match items.first() {
                    Some(Scalar::Bool(_)) => "booleanValues",
                    Some(Scalar::Long(_)) => "longValues",
                    Some(Scalar::Double(_)) => "doubleValues",
                    _ => "stringValues",
                };
                json!({ "arrayValue": { member: items.into_iter().map(Scalar::plain).collect::<Vec<_>>() } })
            }
        }
    }

    fn plain(self) -> Value {
        match self {
            Scalar::Bool(v) => json!(v),
            Scalar::Long(v) => json!(v),
            Scalar::Double(v) => json!(v),
            Scalar::String(v) => json!(v),
            Scalar::Blob(v) => json!(base64::engine::general_purpose::STANDARD.encode(v)),
            Scalar::Array(items) => Value::Array(items.into_iter().map(Scalar::plain).collect()),
        }
    }
}

type DecodeError = Box<dyn std::error::Error + Sync + Send>;

fn scalar(raw: &[u8], ty: &Type, shape: &Shape) -> Result<Scalar, DecodeError> {
    let long = |v: i64| {
        if shape.longs_as_strings {
            Scalar::String(v.to_string())
        } else {
            Scalar::Long(v)
        }
    };
    Ok(match *ty {
        Type::BOOL => Scalar::Bool(bool::from_sql(ty, raw)?),
        Type::INT2 => long(i64::from(i16::from_sql(ty, raw)?)),
        Type::INT4 => long(i64::from(i32::from_sql(ty, raw)?)),
        Type::INT8 => long(i64::from_sql(ty, raw)?),
        Type::OID => long(i64::from(u32::from_sql(ty, raw)?)),
        Type::FLOAT4 => Scalar::Double(f64::from(f32::from_sql(ty, raw)?)),
        Type::FLOAT8 => Scalar::Double(f64::from_sql(ty, raw)?),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
            Scalar::String(String::from_utf8(raw.to_vec())?)
        }
        Type::UUID => Scalar::String(uuid::Uuid::from_sql(ty, raw)?.to_string()),
        Type::JSON => Scalar::String(String::from_utf8(raw.to_vec())?),
        // jsonb's binary form is a version byte, then the text.
        Type::JSONB => Scalar::String(String::from_utf8(
            raw.get(1..).unwrap_or_default().to_vec(),
        )?),
        Type::TIMESTAMP => Scalar::String(
            chrono::NaiveDateTime::from_sql(ty, raw)?
                .format("%Y-%m-%d %H:%M:%S%.f")
                .to_string(),
        ),
        Type::TIMESTAMPTZ => Scalar::String(
            chrono::DateTime::<chrono::Utc>::from_sql(ty, raw)?
                .format("%Y-%m-%d %H:%M:%S%.f")
                .to_string(),
        ),
        Type::DATE => Scalar::String(
            chrono::NaiveDate::from_sql(ty, raw)?
                .format("%Y-%m-%d")
                .to_string(),
        ),
        Type::TIME => Scalar::String(
            chrono::NaiveTime::from_sql(ty, raw)?
                .format("%H:%M:%S%.f")
                .to_string(),
        ),
        Type::BYTEA => Scalar::Blob(raw.to_vec()),
        Type::NUMERIC => {
            let text = numeric::decode(raw)?;
            if shape.decimals_as_numbers {
                match text.parse::<i64>() {
                    Ok(v) => Scalar::Long(v),
                    Err(_) => Scalar::Double(text.parse()?),
                }
            } else {
                Scalar::String(text)
            }
        }
        _ => match ty.kind() {
            Kind::Enum(_) => Scalar::String(String::from_utf8(raw.to_vec())?),
            Kind::Array(element) => Scalar::Array(decode_array(raw, element, shape)?),
            _ => return Err("no Data API representation".into()),
        },
    })
}

/// A one-dimensional array without NULLs (the Data API refuses others).
fn decode_array(raw: &[u8], element: &Type, shape: &Shape) -> Result<Vec<Scalar>, DecodeError> {
    let mut at = 0usize;
    let mut next_i32 = |raw: &[u8]| -> Result<i32, DecodeError> {
        let bytes: [u8; 4] = raw
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or("truncated array")?;
        at += 4;
        Ok(i32::from_be_bytes(bytes))
    };
    let dimensions = next_i32(raw)?;
    let _has_nulls = next_i32(raw)?;
    let _element_oid = next_i32(raw)?;
    if dimensions == 0 {
        return Ok(Vec::new());
    }
    if dimensions != 1 {
        return Err("multidimensional arrays are not supported".into());
    }
    let length = next_i32(raw)?;
    let _lower_bound = next_i32(raw)?;
    let mut items = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
    let mut offset = 20usize;
    for _ in 0..length {
        let len_bytes: [u8; 4] = raw
            .get(offset..offset + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or("truncated array")?;
        offset += 4;
        let len = i32::from_be_bytes(len_bytes);
        if len < 0 {
            return Err("arrays with NULL elements are not supported".into());
        }
        let end = offset + usize::try_from(len)?;
        let item = raw.get(offset..end).ok_or("truncated array")?;
        items.push(scalar(item, element, shape)?);
        offset = end;
    }
    Ok(items)
}

/// `columnMetadata` of one column, with the JDBC type code the Data API reports.
fn column_metadata(column: &Column) -> Value {
    let jdbc = match column.ty {
        Type::BOOL => -7,
        Type::INT2 => 5,
        Type::INT4 => 4,
        Type::INT8 => -5,
        Type::FLOAT4 => 7,
        Type::FLOAT8 => 8,
        Type::NUMERIC => 2,
        Type::DATE => 91,
        Type::TIME => 92,
        Type::TIMESTAMP | Type::TIMESTAMPTZ => 93,
        Type::BYTEA => -2,
        _ if matches!(column.ty.kind(), Kind::Array(_)) => 2003,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => 12,
        _ => 1111,
    };
    json!({
        "name": column.name,
        "label": column.name,
        "typeName": column.ty.name(),
        "type": jdbc,
        "schemaName": "",
        "tableName": "",
        "nullable": 2,
        "isSigned": matches!(column.ty, Type::INT2 | Type::INT4 | Type::INT8 | Type::FLOAT4 | Type::FLOAT8 | Type::NUMERIC),
        "isCurrency": false,
        "isCaseSensitive": matches!(column.ty, Type::TEXT | Type::VARCHAR | Type::BPCHAR),
        "isAutoIncrement": false,
        "precision": 0,
        "scale": 0,
        "arrayBaseColumnType": 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_statement_is_a_bad_request() {
        let err = Statement::parse("SELECT 1; SELECT 2")
            .err()
            .expect("refused");
        assert_eq!(err.kind, "BadRequestException");
    }
}
