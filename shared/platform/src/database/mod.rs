//! The database port: statements with named parameters (`:name`), rows of owned [`Value`]s,
//! and transactions, over either backend the deployment chooses (`DATABASE_BACKEND`):
//!
//! - [`postgres`]: `tokio-postgres` through a `deadpool` pool (RDS Proxy inside the VPC);
//! - [`data_api`]: Aurora's Data API over HTTPS (`aws-sdk-rdsdata`), for functions outside the
//!   VPC.
//!
//! Both type a parameter by its value, as the Data API does (a [`Value::Text`] is a `varchar`,
//! a [`Value::Uuid`] a `uuid`), so a statement that would fail on the Data API fails on
//! Postgres too. Neither takes arrays as parameters (the Data API cannot): pass a list as
//! [`Value::Json`] and unnest it in the statement ([`TEXT_ARRAY_OF_JSON`]). Results are read
//! into owned rows, so a store function returns the same thing on both backends.

pub mod data_api;
pub mod named;
pub mod numeric;
pub mod postgres;
pub mod stored;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use stored::{Stored, StoredName};

/// How a statement turns a JSON array parameter into a `text[]`: `ARRAY(SELECT
/// jsonb_array_elements_text(:list::jsonb))` (write it with the parameter's name).
pub const TEXT_ARRAY_OF_JSON: &str = "ARRAY(SELECT jsonb_array_elements_text(:list::jsonb))";

/// A parameter or column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL `NULL` (its type left to the statement).
    Null,
    /// `boolean`.
    Bool(bool),
    /// Any integer (`bigint` as a parameter).
    Int(i64),
    /// `double precision`.
    Float(f64),
    /// Decimal text (`numeric`).
    Decimal(String),
    /// `varchar` as a parameter; any text column.
    Text(String),
    /// `uuid`.
    Uuid(Uuid),
    /// `json` as a parameter; `json` or `jsonb` columns.
    Json(serde_json::Value),
    /// `timestamptz` (a `timestamp` column is read as UTC).
    Timestamp(DateTime<Utc>),
    /// `date`.
    Date(NaiveDate),
    /// `bytea`.
    Bytes(Vec<u8>),
    /// A one-dimensional array column (never a parameter).
    Array(Vec<Value>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "double precision",
            Value::Decimal(_) => "numeric",
            Value::Text(_) => "text",
            Value::Uuid(_) => "uuid",
            Value::Json(_) => "json",
            Value::Timestamp(_) => "timestamptz",
            Value::Date(_) => "date",
            Value::Bytes(_) => "bytea",
            Value::Array(_) => "array",
        }
    }
}

/// What can be a statement parameter.
pub trait ToValue {
    /// The parameter's value.
    fn to_value(&self) -> Value;
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

macro_rules! to_value {
    ($($ty:ty => |$v:ident| $e:expr),+ $(,)?) => {
        $(impl ToValue for $ty {
            fn to_value(&self) -> Value {
                let $v = self;
                $e
            }
        })+
    };
}

to_value! {
    bool => |v| Value::Bool(*v),
    i16 => |v| Value::Int(i64::from(*v)),
    i32 => |v| Value::Int(i64::from(*v)),
    i64 => |v| Value::Int(*v),
    u32 => |v| Value::Int(i64::from(*v)),
    f64 => |v| Value::Float(*v),
    str => |v| Value::Text(v.to_owned()),
    String => |v| Value::Text(v.clone()),
    Uuid => |v| Value::Uuid(*v),
    serde_json::Value => |v| Value::Json(v.clone()),
    DateTime<Utc> => |v| Value::Timestamp(*v),
    NaiveDate => |v| Value::Date(*v),
    [u8] => |v| Value::Bytes(v.to_vec()),
    Vec<u8> => |v| Value::Bytes(v.clone()),
}

/// The largest value a statement should return inline when it may be large (a clause's text,
/// a template's logo): Aurora's Data API refuses a row over 64 KB and a result over 1 MiB, so a
/// larger one is returned as `NULL` and read with [`read_in_slices`] (one page of 100 rows then
/// stays under 1 MiB).
pub const INLINE_VALUE_BYTES: i64 = 8 * 1024;

/// How much of a value [`read_in_slices`] reads per statement: 32 KiB of bytes are about 44 KB
/// of base64 in the Data API's answer, under its 64 KB a row.
const SLICE_BYTES: i64 = 32 * 1024;

/// The text of `expression` over the one row `from` selects (`"content::text"`,
/// `"doc_clause WHERE clause_id = :id"`, with `params` for `from`), read 32 KiB at a time, so
/// a value larger than a Data API row reads whole on either backend. The caller makes sure
/// the value does not change meanwhile (an immutable column, or its transaction's lock).
pub async fn read_in_slices(
    db: &(impl Session + ?Sized),
    expression: &str,
    from: &str,
    params: &[(&str, Value)],
) -> Result<String, DbError> {
    let bytes = read_bytes_in_slices(
        db,
        &format!("convert_to(({expression}), 'UTF8')"),
        from,
        params,
    )
    .await?;
    String::from_utf8(bytes)
        .map_err(|err| DbError::decode(format!("a value read in slices is not UTF-8: {err}")))
}

/// The bytes of `expression` (a `bytea`) over the one row `from` selects, read like
/// [`read_in_slices`].
pub async fn read_bytes_in_slices(
    db: &(impl Session + ?Sized),
    expression: &str,
    from: &str,
    params: &[(&str, Value)],
) -> Result<Vec<u8>, DbError> {
    let sql = format!(
        "SELECT substring(({expression}) FROM :slice_start::int FOR :slice_bytes::int) AS slice \
         FROM {from}"
    );
    let mut bytes: Vec<u8> = Vec::new();
    loop {
        let mut all = params.to_vec();
        all.push(("slice_start", Value::Int(bytes.len() as i64 + 1)));
        all.push(("slice_bytes", Value::Int(SLICE_BYTES)));
        let slice: Vec<u8> = db
            .fetch_optional(&sql, &all)
            .await?
            .ok_or_else(|| DbError::new(DbErrorKind::RowCount, "the row read in slices is gone"))?
            .get("slice")?;
        let last = (slice.len() as i64) < SLICE_BYTES;
        bytes.extend(slice);
        if last {
            return Ok(bytes);
        }
    }
}

/// The JSON value of `expression` (`jsonb` or `json`) over the one row `from` selects, read in
/// slices like [`read_in_slices`].
pub async fn read_json_in_slices(
    db: &(impl Session + ?Sized),
    expression: &str,
    from: &str,
    params: &[(&str, Value)],
) -> Result<serde_json::Value, DbError> {
    let text = read_in_slices(db, &format!("({expression})::text"), from, params).await?;
    serde_json::from_str(&text)
        .map_err(|err| DbError::decode(format!("a value read in slices is not JSON: {err}")))
}

/// A list of texts as the JSON array a statement unnests ([`TEXT_ARRAY_OF_JSON`]).
pub fn json_list<S: AsRef<str>>(items: &[S]) -> Value {
    Value::Json(serde_json::Value::Array(
        items
            .iter()
            .map(|s| serde_json::Value::String(s.as_ref().to_owned()))
            .collect(),
    ))
}

/// A statement's named parameters: `params!(org, id, limit = page.fetch())` names each by its
/// variable, or by the name before `=`.
#[macro_export]
macro_rules! params {
    ($($name:ident $(= $value:expr)?),* $(,)?) => {
        &[$((
            stringify!($name),
            $crate::database::ToValue::to_value(&$crate::params!(@value $name $(, $value)?)),
        )),*] as &[(&str, $crate::database::Value)]
    };
    (@value $name:ident) => { $name };
    (@value $name:ident, $value:expr) => { $value };
}

/// What can be read from a column.
pub trait FromValue: Sized {
    /// The value, or why it is not one.
    fn from_value(value: &Value) -> Result<Self, String>;
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

impl FromValue for Value {
    fn from_value(value: &Value) -> Result<Self, String> {
        Ok(value.clone())
    }
}

fn wrong(value: &Value, wanted: &str) -> String {
    format!("a {} column read as {wanted}", value.kind())
}

impl FromValue for bool {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Bool(v) => Ok(*v),
            other => Err(wrong(other, "a boolean")),
        }
    }
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Int(v) => Ok(*v),
            other => Err(wrong(other, "an integer")),
        }
    }
}

impl FromValue for i32 {
    fn from_value(value: &Value) -> Result<Self, String> {
        let v = i64::from_value(value)?;
        i32::try_from(v).map_err(|_| format!("{v} does not fit an i32"))
    }
}

impl FromValue for i16 {
    fn from_value(value: &Value) -> Result<Self, String> {
        let v = i64::from_value(value)?;
        i16::try_from(v).map_err(|_| format!("{v} does not fit an i16"))
    }
}

impl FromValue for f64 {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Float(v) => Ok(*v),
            // Integers and decimals widen, as Postgres casts them.
            #[allow(clippy::cast_precision_loss)]
            Value::Int(v) => Ok(*v as f64),
            Value::Decimal(text) => text
                .parse()
                .map_err(|_| format!("{text:?} is not a number")),
            other => Err(wrong(other, "a number")),
        }
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Text(v) | Value::Decimal(v) => Ok(v.clone()),
            other => Err(wrong(other, "text")),
        }
    }
}

impl FromValue for Uuid {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Uuid(v) => Ok(*v),
            other => Err(wrong(other, "a uuid")),
        }
    }
}

impl FromValue for serde_json::Value {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Json(v) => Ok(v.clone()),
            other => Err(wrong(other, "JSON")),
        }
    }
}

impl FromValue for DateTime<Utc> {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Timestamp(v) => Ok(*v),
            other => Err(wrong(other, "a timestamp")),
        }
    }
}

impl FromValue for NaiveDate {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Date(v) => Ok(*v),
            other => Err(wrong(other, "a date")),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Bytes(v) => Ok(v.clone()),
            other => Err(wrong(other, "bytes")),
        }
    }
}

impl FromValue for Vec<String> {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Array(items) => items.iter().map(String::from_value).collect(),
            other => Err(wrong(other, "a text array")),
        }
    }
}

impl FromValue for Vec<Uuid> {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Array(items) => items.iter().map(Uuid::from_value).collect(),
            other => Err(wrong(other, "a uuid array")),
        }
    }
}

impl FromValue for Vec<Vec<u8>> {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Array(items) => items.iter().map(Vec::<u8>::from_value).collect(),
            other => Err(wrong(other, "a bytea array")),
        }
    }
}

impl<T: StoredName> FromValue for Stored<T> {
    fn from_value(value: &Value) -> Result<Self, String> {
        let name = String::from_value(value)?;
        T::from_stored(&name)
            .map(Stored)
            .ok_or_else(|| format!("{name:?} is not a known {}", T::WHAT))
    }
}

/// One row of a result, its values owned.
#[derive(Debug, Clone)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    /// A row of `values` under `columns` (same order).
    pub fn new(columns: Arc<[String]>, values: Vec<Value>) -> Self {
        Self { columns, values }
    }

    /// Column `name` as a `T`; an absent column or a value of another type is an error.
    pub fn get<T: FromValue>(&self, name: &str) -> Result<T, DbError> {
        let index = self
            .columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| DbError::decode(format!("the result has no column {name}")))?;
        self.at(index)
            .map_err(|err| DbError::decode(format!("column {name}: {}", err.message)))
    }

    /// The column at `index` as a `T`.
    pub fn at<T: FromValue>(&self, index: usize) -> Result<T, DbError> {
        let value = self
            .values
            .get(index)
            .ok_or_else(|| DbError::decode(format!("the result has no column {index}")))?;
        T::from_value(value).map_err(DbError::decode)
    }

    /// Column `name`, a text column holding one of core's enums by its name.
    pub fn stored<T: StoredName>(&self, name: &str) -> Result<T, DbError> {
        Ok(self.get::<Stored<T>>(name)?.0)
    }

    /// The column names, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }
}

/// What went wrong with a statement, the same way on both backends.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DbError {
    kind: DbErrorKind,
    code: Option<String>,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The kinds of [`DbError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbErrorKind {
    /// The database could not be reached (or the connection broke): worth a retry later.
    Unavailable,
    /// The database refused the statement (see [`DbError::code`]).
    Refused,
    /// The statement or its parameters cannot be sent (a missing parameter, an array
    /// parameter, more than one statement).
    Statement,
    /// A result could not be read as asked (wrong type, unsupported type, too large).
    Decode,
    /// `fetch_one` found no row, or `fetch_optional` more than one.
    RowCount,
}

impl DbError {
    pub(crate) fn new(kind: DbErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            code: None,
            message: message.into(),
            source: None,
        }
    }

    /// A stored value the code cannot read as the type it expects.
    pub fn decode(message: impl Into<String>) -> Self {
        Self::new(DbErrorKind::Decode, message)
    }

    pub(crate) fn statement(message: impl Into<String>) -> Self {
        Self::new(DbErrorKind::Statement, message)
    }

    pub(crate) fn with_code(mut self, code: Option<String>) -> Self {
        self.code = code;
        self
    }

    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Its kind.
    pub fn kind(&self) -> DbErrorKind {
        self.kind
    }

    /// The SQLSTATE of a refused statement (`23505` for a unique violation).
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// Whether a unique constraint refused the statement.
    pub fn is_unique_violation(&self) -> bool {
        self.code() == Some("23505")
    }

    /// Whether trying again later may succeed: the database was unreachable, or the
    /// transaction lost a serialization race or a deadlock.
    pub fn is_retryable(&self) -> bool {
        self.kind == DbErrorKind::Unavailable
            || matches!(self.code(), Some("40001" | "40P01" | "55P03" | "57P01"))
    }
}

/// Where statements run: a connection, a transaction, or (for code not yet moved to the port)
/// a `tokio-postgres` client or transaction.
#[async_trait]
pub trait Session: Send + Sync {
    /// Runs a statement and returns its rows.
    async fn fetch_all(&self, sql: &str, params: &[(&str, Value)]) -> Result<Vec<Row>, DbError>;

    /// Runs a statement and returns how many rows it changed.
    async fn run(&self, sql: &str, params: &[(&str, Value)]) -> Result<u64, DbError>;

    /// Runs a statement once per parameter set (a multi-row insert): in one
    /// `BatchExecuteStatement` on the Data API, set after set on Postgres. In a transaction
    /// when every set or none must apply.
    async fn run_batch(&self, sql: &str, sets: &[Vec<(&str, Value)>]) -> Result<(), DbError> {
        for params in sets {
            self.run(sql, params).await?;
        }
        Ok(())
    }

    /// The statement's only row, if any; more than one is an error.
    async fn fetch_optional(
        &self,
        sql: &str,
        params: &[(&str, Value)],
    ) -> Result<Option<Row>, DbError> {
        let mut rows = self.fetch_all(sql, params).await?;
        match rows.len() {
            0 | 1 => Ok(rows.pop()),
            n => Err(DbError::new(
                DbErrorKind::RowCount,
                format!("expected at most one row, got {n}"),
            )),
        }
    }

    /// The statement's only row; none or more than one is an error.
    async fn fetch_one(&self, sql: &str, params: &[(&str, Value)]) -> Result<Row, DbError> {
        self.fetch_optional(sql, params)
            .await?
            .ok_or_else(|| DbError::new(DbErrorKind::RowCount, "expected one row, got none"))
    }
}

/// The database as the deployment chose it; cheap to clone, built once per container.
#[derive(Clone)]
pub enum Database {
    /// `tokio-postgres` through a pool.
    Postgres(deadpool_postgres::Pool),
    /// Aurora's Data API.
    DataApi(Arc<data_api::DataApi>),
}

impl Database {
    /// A connection (a pool checkout; with the Data API, nothing to open).
    pub async fn connect(&self) -> Result<Connection, DbError> {
        Ok(match self {
            Database::Postgres(pool) => {
                Connection::Postgres(pool.get().await.map_err(postgres::unavailable_from_pool)?)
            }
            Database::DataApi(api) => Connection::DataApi(Arc::clone(api)),
        })
    }

    /// Runs `SELECT 1` (the health check).
    pub async fn ping(&self) -> Result<(), DbError> {
        self.connect()
            .await?
            .fetch_one("SELECT 1 AS one", &[])
            .await
            .map(drop)
    }

    /// Which backend it is (`postgres` or `data-api`), for logs.
    pub fn backend(&self) -> Backend {
        match self {
            Database::Postgres(_) => Backend::Postgres,
            Database::DataApi(_) => Backend::DataApi,
        }
    }
}

impl From<&Database> for Database {
    fn from(db: &Database) -> Self {
        db.clone()
    }
}

impl From<deadpool_postgres::Pool> for Database {
    fn from(pool: deadpool_postgres::Pool) -> Self {
        Database::Postgres(pool)
    }
}

impl From<&deadpool_postgres::Pool> for Database {
    fn from(pool: &deadpool_postgres::Pool) -> Self {
        Database::Postgres(pool.clone())
    }
}

/// A database backend (`DATABASE_BACKEND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `postgres`: `tokio-postgres` and a pool, inside the VPC.
    Postgres,
    /// `data-api`: Aurora's Data API over HTTPS.
    DataApi,
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "postgres" => Ok(Self::Postgres),
            "data-api" => Ok(Self::DataApi),
            other => Err(format!("expected postgres or data-api, got {other:?}")),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Postgres => "postgres",
            Backend::DataApi => "data-api",
        })
    }
}

/// A connection: statements on it commit one by one.
// One lives on a use case's stack at a time; boxing the pooled client would only add an
// allocation per checkout.
#[allow(clippy::large_enum_variant)]
pub enum Connection {
    /// A pooled `tokio-postgres` client.
    Postgres(deadpool_postgres::Object),
    /// The Data API (each statement its own call).
    DataApi(Arc<data_api::DataApi>),
}

impl Connection {
    /// Starts a transaction; it rolls back unless committed.
    pub async fn begin(&mut self) -> Result<Transaction<'_>, DbError> {
        Ok(match self {
            Connection::Postgres(client) => Transaction::Postgres(
                client
                    .transaction()
                    .await
                    .map_err(postgres::from_postgres)?,
            ),
            Connection::DataApi(api) => Transaction::DataApi(api.begin().await?),
        })
    }
}

#[async_trait]
impl Session for Connection {
    async fn fetch_all(&self, sql: &str, params: &[(&str, Value)]) -> Result<Vec<Row>, DbError> {
        match self {
            Connection::Postgres(client) => postgres::query(&***client, sql, params).await,
            Connection::DataApi(api) => api.query(None, sql, params).await,
        }
    }

    async fn run(&self, sql: &str, params: &[(&str, Value)]) -> Result<u64, DbError> {
        match self {
            Connection::Postgres(client) => postgres::execute(&***client, sql, params).await,
            Connection::DataApi(api) => api.execute(None, sql, params).await,
        }
    }

    async fn run_batch(&self, sql: &str, sets: &[Vec<(&str, Value)>]) -> Result<(), DbError> {
        match self {
            Connection::Postgres(client) => {
                for params in sets {
                    postgres::execute(&***client, sql, params).await?;
                }
                Ok(())
            }
            Connection::DataApi(api) => api.batch(None, sql, sets).await,
        }
    }
}

/// A transaction: rolled back when dropped uncommitted.
pub enum Transaction<'c> {
    /// A `tokio-postgres` transaction.
    Postgres(deadpool_postgres::Transaction<'c>),
    /// A Data API transaction.
    DataApi(data_api::DataApiTransaction),
}

impl Transaction<'_> {
    /// Commits.
    pub async fn commit(self) -> Result<(), DbError> {
        match self {
            Transaction::Postgres(tx) => tx.commit().await.map_err(postgres::from_postgres),
            Transaction::DataApi(tx) => tx.commit().await,
        }
    }

    /// Runs a script of several statements (a migration): on Postgres in one round trip, on
    /// the Data API one statement per call. It takes no parameters.
    pub async fn run_script(&self, script: &str) -> Result<(), DbError> {
        match self {
            Transaction::Postgres(tx) => tx
                .batch_execute(script)
                .await
                .map_err(postgres::from_postgres),
            Transaction::DataApi(tx) => {
                for statement in named::statements(script) {
                    tx.execute(&statement, &[]).await?;
                }
                Ok(())
            }
        }
    }

    /// Rolls back (dropping it does the same, without waiting).
    pub async fn rollback(self) -> Result<(), DbError> {
        match self {
            Transaction::Postgres(tx) => tx.rollback().await.map_err(postgres::from_postgres),
            Transaction::DataApi(tx) => tx.rollback().await,
        }
    }
}

#[async_trait]
impl Session for Transaction<'_> {
    async fn fetch_all(&self, sql: &str, params: &[(&str, Value)]) -> Result<Vec<Row>, DbError> {
        match self {
            Transaction::Postgres(tx) => postgres::query(&**tx, sql, params).await,
            Transaction::DataApi(tx) => tx.query(sql, params).await,
        }
    }

    async fn run(&self, sql: &str, params: &[(&str, Value)]) -> Result<u64, DbError> {
        match self {
            Transaction::Postgres(tx) => postgres::execute(&**tx, sql, params).await,
            Transaction::DataApi(tx) => tx.execute(sql, params).await,
        }
    }

    async fn run_batch(&self, sql: &str, sets: &[Vec<(&str, Value)>]) -> Result<(), DbError> {
        match self {
            Transaction::Postgres(tx) => {
                for params in sets {
                    postgres::execute(&**tx, sql, params).await?;
                }
                Ok(())
            }
            Transaction::DataApi(tx) => tx.batch(sql, sets).await,
        }
    }
}
