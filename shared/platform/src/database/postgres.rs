//! The port over `tokio-postgres`: named parameters made positional, each typed by its value
//! (as the Data API types them), results read into owned [`Row`]s.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use tokio_postgres::types::{FromSql, IsNull, Kind, ToSql, Type};
use tokio_postgres::GenericClient;
use uuid::Uuid;

use super::{named, numeric, DbError, DbErrorKind, Row, Session, Value};

/// A parameter type Postgres infers from the statement (what an untyped `NULL` is).
fn inferred() -> Type {
    Type::new(
        "unknown".to_owned(),
        0,
        Kind::Simple,
        "pg_catalog".to_owned(),
    )
}

/// The type a parameter is sent as: the Data API's typing of the same value.
fn parameter_type(value: &Value) -> Result<Type, DbError> {
    Ok(match value {
        Value::Null => inferred(),
        Value::Bool(_) => Type::BOOL,
        Value::Int(_) => Type::INT8,
        Value::Float(_) => Type::FLOAT8,
        Value::Decimal(_) => Type::NUMERIC,
        Value::Text(_) => Type::VARCHAR,
        Value::Uuid(_) => Type::UUID,
        Value::Json(_) => Type::JSON,
        Value::Timestamp(_) => Type::TIMESTAMPTZ,
        Value::Date(_) => Type::DATE,
        Value::Bytes(_) => Type::BYTEA,
        Value::Array(_) => {
            return Err(DbError::statement(
                "array parameters are not supported (the Data API has none): pass JSON and \
                 unnest it in the statement",
            ))
        }
    })
}

/// A parameter as `tokio-postgres` sends it.
#[derive(Debug)]
struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Bool(v) => v.to_sql(ty, out),
            Value::Int(v) => v.to_sql(ty, out),
            Value::Float(v) => v.to_sql(ty, out),
            Value::Decimal(v) => numeric::encode(v, out),
            Value::Text(v) => v.as_str().to_sql(ty, out),
            Value::Uuid(v) => v.to_sql(ty, out),
            Value::Json(v) => v.to_sql(ty, out),
            Value::Timestamp(v) => v.to_sql(ty, out),
            Value::Date(v) => v.to_sql(ty, out),
            Value::Bytes(v) => v.as_slice().to_sql(ty, out),
            Value::Array(_) => Err("array parameters are not supported".into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

/// The values of `params` in the order of the statement's `$n`.
fn bind<'a>(
    names: &[String],
    params: &'a [(&str, Value)],
) -> Result<(Vec<Type>, Vec<Param<'a>>), DbError> {
    let mut types = Vec::with_capacity(names.len());
    let mut values = Vec::with_capacity(names.len());
    for name in names {
        let (_, value) = params.iter().find(|(n, _)| n == name).ok_or_else(|| {
            DbError::statement(format!("No value specified for parameter: {name}"))
        })?;
        types.push(parameter_type(value)?);
        values.push(Param(value));
    }
    Ok((types, values))
}

/// `sql` prepared on `client` with its parameters typed by value, and the values to send.
async fn prepare<'a>(
    client: &(impl GenericClient + Sync),
    sql: &str,
    params: &'a [(&str, Value)],
) -> Result<(tokio_postgres::Statement, Vec<Param<'a>>), DbError> {
    let statement = named::positional(sql).map_err(|e| DbError::statement(e.to_string()))?;
    let (types, values) = bind(&statement.names, params)?;
    let prepared = client
        .prepare_typed(&statement.sql, &types)
        .await
        .map_err(from_postgres)?;
    Ok((prepared, values))
}

/// The values as `tokio-postgres` takes them.
fn as_sql<'v>(values: &'v [Param<'_>]) -> Vec<&'v (dyn ToSql + Sync)> {
    values.iter().map(|v| v as _).collect()
}

/// Runs `sql` on `client` and reads its rows.
pub async fn query(
    client: &(impl GenericClient + Sync),
    sql: &str,
    params: &[(&str, Value)],
) -> Result<Vec<Row>, DbError> {
    let (prepared, values) = prepare(client, sql, params).await?;
    let rows = client
        .query(&prepared, &as_sql(&values))
        .await
        .map_err(from_postgres)?;
    let columns: Arc<[String]> = prepared
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    rows.iter()
        .map(|row| {
            let values = (0..columns.len())
                .map(|i| column_value(row, i))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Row::new(Arc::clone(&columns), values))
        })
        .collect()
}

/// Runs `sql` on `client` and returns how many rows it changed.
pub async fn execute(
    client: &(impl GenericClient + Sync),
    sql: &str,
    params: &[(&str, Value)],
) -> Result<u64, DbError> {
    let (prepared, values) = prepare(client, sql, params).await?;
    client
        .execute(&prepared, &as_sql(&values))
        .await
        .map_err(from_postgres)
}

/// `numeric` as decimal text.
struct Decimal(String);

impl<'a> FromSql<'a> for Decimal {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        numeric::decode(raw).map(Decimal)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

/// Column `i` of `row` as a [`Value`]: the types the Data API can return, and no others.
fn column_value(row: &tokio_postgres::Row, i: usize) -> Result<Value, DbError> {
    let column = &row.columns()[i];
    let ty = column.type_();
    let read = |err: tokio_postgres::Error| {
        DbError::decode(format!("column {}: {err}", column.name())).with_source(err)
    };
    macro_rules! get {
        ($t:ty, $wrap:expr) => {
            row.try_get::<_, Option<$t>>(i)
                .map_err(read)?
                .map_or(Value::Null, $wrap)
        };
    }
    Ok(match *ty {
        Type::BOOL => get!(bool, Value::Bool),
        Type::INT2 => get!(i16, |v| Value::Int(i64::from(v))),
        Type::INT4 => get!(i32, |v| Value::Int(i64::from(v))),
        Type::INT8 => get!(i64, Value::Int),
        Type::OID => get!(u32, |v| Value::Int(i64::from(v))),
        Type::FLOAT4 => get!(f32, |v| Value::Float(f64::from(v))),
        Type::FLOAT8 => get!(f64, Value::Float),
        Type::NUMERIC => get!(Decimal, |d: Decimal| Value::Decimal(d.0)),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
            get!(String, Value::Text)
        }
        Type::UUID => get!(Uuid, Value::Uuid),
        Type::JSON | Type::JSONB => get!(serde_json::Value, Value::Json),
        Type::TIMESTAMPTZ => get!(DateTime<Utc>, Value::Timestamp),
        Type::TIMESTAMP => get!(NaiveDateTime, |v: NaiveDateTime| Value::Timestamp(
            v.and_utc()
        )),
        Type::DATE => get!(NaiveDate, Value::Date),
        Type::BYTEA => get!(Vec<u8>, Value::Bytes),
        Type::VOID => Value::Null,
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY => {
            get!(Vec<String>, |v: Vec<String>| Value::Array(
                v.into_iter().map(Value::Text).collect()
            ))
        }
        Type::UUID_ARRAY => {
            get!(Vec<Uuid>, |v: Vec<Uuid>| Value::Array(
                v.into_iter().map(Value::Uuid).collect()
            ))
        }
        Type::INT4_ARRAY => get!(Vec<i32>, |v: Vec<i32>| Value::Array(
            v.into_iter().map(|n| Value::Int(i64::from(n))).collect()
        )),
        Type::INT8_ARRAY => {
            get!(Vec<i64>, |v: Vec<i64>| Value::Array(
                v.into_iter().map(Value::Int).collect()
            ))
        }
        Type::BYTEA_ARRAY => get!(Vec<Vec<u8>>, |v: Vec<Vec<u8>>| Value::Array(
            v.into_iter().map(Value::Bytes).collect()
        )),
        _ if matches!(ty.kind(), Kind::Enum(_)) => get!(String, Value::Text),
        _ => {
            return Err(DbError::decode(format!(
                "column {} has type {}, which the Data API cannot return either: cast it in \
                 the statement (to text, say)",
                column.name(),
                ty.name()
            )))
        }
    })
}

/// A `tokio-postgres` error as the port's: refused (with its SQLSTATE), or unreachable.
pub fn from_postgres(err: tokio_postgres::Error) -> DbError {
    if let Some(db) = err.as_db_error() {
        let code = db.code().code().to_owned();
        let message = format!("ERROR: {}; SQLState: {code}", db.message());
        return DbError::new(DbErrorKind::Refused, message)
            .with_code(Some(code))
            .with_source(err);
    }
    if err.is_closed() {
        return DbError::new(DbErrorKind::Unavailable, "the database connection closed")
            .with_source(err);
    }
    let message = err.to_string();
    let kind =
        if message.starts_with("error serializing") || message.starts_with("error deserializing") {
            DbErrorKind::Decode
        } else {
            DbErrorKind::Unavailable
        };
    DbError::new(kind, message).with_source(err)
}

/// A pool that could not give a connection.
pub fn unavailable_from_pool(err: deadpool_postgres::PoolError) -> DbError {
    DbError::new(
        DbErrorKind::Unavailable,
        format!("no database connection: {err}"),
    )
    .with_source(err)
}

// Code not yet moved to the port passes its `tokio-postgres` clients and transactions to the
// port's functions (the outbox, the idempotency store) as they are.

#[async_trait]
impl Session for tokio_postgres::Client {
    async fn fetch_all(&self, sql: &str, params: &[(&str, Value)]) -> Result<Vec<Row>, DbError> {
        query(self, sql, params).await
    }

    async fn run(&self, sql: &str, params: &[(&str, Value)]) -> Result<u64, DbError> {
        execute(self, sql, params).await
    }
}

#[async_trait]
impl Session for tokio_postgres::Transaction<'_> {
    async fn fetch_all(&self, sql: &str, params: &[(&str, Value)]) -> Result<Vec<Row>, DbError> {
        query(self, sql, params).await
    }

    async fn run(&self, sql: &str, params: &[(&str, Value)]) -> Result<u64, DbError> {
        execute(self, sql, params).await
    }
}

#[async_trait]
impl Session for deadpool_postgres::Object {
    async fn fetch_all(&self, sql: &str, params: &[(&str, Value)]) -> Result<Vec<Row>, DbError> {
        query(&***self, sql, params).await
    }

    async fn run(&self, sql: &str, params: &[(&str, Value)]) -> Result<u64, DbError> {
        execute(&***self, sql, params).await
    }
}

#[async_trait]
impl Session for deadpool_postgres::ClientWrapper {
    async fn fetch_all(&self, sql: &str, params: &[(&str, Value)]) -> Result<Vec<Row>, DbError> {
        query(&**self, sql, params).await
    }

    async fn run(&self, sql: &str, params: &[(&str, Value)]) -> Result<u64, DbError> {
        execute(&**self, sql, params).await
    }
}

#[async_trait]
impl Session for deadpool_postgres::Transaction<'_> {
    async fn fetch_all(&self, sql: &str, params: &[(&str, Value)]) -> Result<Vec<Row>, DbError> {
        query(&**self, sql, params).await
    }

    async fn run(&self, sql: &str, params: &[(&str, Value)]) -> Result<u64, DbError> {
        execute(&**self, sql, params).await
    }
}
