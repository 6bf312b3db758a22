//! The port over Aurora's Data API (`aws-sdk-rdsdata`): `ExecuteStatement` with named
//! parameters and type hints, transactions by id.
//!
//! Results are asked for as typed fields with column metadata, not as JSON records: the
//! metadata's type name tells a `uuid`, a timestamp, `json` or `numeric` (all sent as strings)
//! from text, `bytea` comes as bytes rather than base64 in JSON, and a row reads the same as
//! from the Postgres adapter.

use std::sync::Arc;

use aws_sdk_rdsdata::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_rdsdata::primitives::Blob;
use aws_sdk_rdsdata::types::{ArrayValue, ColumnMetadata, Field, SqlParameter, TypeHint};
use base64::Engine as _;
use chrono::{NaiveDate, NaiveDateTime};

use super::{named, DbError, DbErrorKind, Row, Value};

/// Where statements go: the cluster, the secret holding its credentials, the database.
pub struct DataApi {
    client: aws_sdk_rdsdata::Client,
    resource_arn: String,
    secret_arn: String,
    database: String,
}

/// The Data API's text form of a timestamp (no zone: UTC).
const TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.f";

impl DataApi {
    /// The Data API of cluster `resource_arn`, signing in with the secret `secret_arn`.
    pub fn new(
        client: aws_sdk_rdsdata::Client,
        resource_arn: String,
        secret_arn: String,
        database: String,
    ) -> Self {
        Self {
            client,
            resource_arn,
            secret_arn,
            database,
        }
    }

    /// Runs `sql` (in `transaction`, or on its own) and reads its rows.
    pub async fn query(
        &self,
        transaction: Option<&str>,
        sql: &str,
        params: &[(&str, Value)],
    ) -> Result<Vec<Row>, DbError> {
        let output = self.run(transaction, sql, params).await?;
        let columns: Arc<[String]> = output
            .column_metadata()
            .iter()
            .map(|c| c.name().unwrap_or_default().to_owned())
            .collect();
        let metadata = output.column_metadata();
        output
            .records()
            .iter()
            .map(|record| {
                let values = record
                    .iter()
                    .enumerate()
                    .map(|(i, field)| value_of(field, metadata.get(i)))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Row::new(Arc::clone(&columns), values))
            })
            .collect()
    }

    /// Runs `sql` (in `transaction`, or on its own) and returns how many rows it changed.
    pub async fn execute(
        &self,
        transaction: Option<&str>,
        sql: &str,
        params: &[(&str, Value)],
    ) -> Result<u64, DbError> {
        let output = self.run(transaction, sql, params).await?;
        Ok(u64::try_from(output.number_of_records_updated()).unwrap_or(0))
    }

    /// Runs `sql` once per parameter set in one `BatchExecuteStatement` (in `transaction`, or
    /// on its own: then every set or none).
    pub async fn batch(
        &self,
        transaction: Option<&str>,
        sql: &str,
        sets: &[Vec<(&str, Value)>],
    ) -> Result<(), DbError> {
        if sets.is_empty() {
            return Ok(());
        }
        let parameter_sets = sets
            .iter()
            .map(|params| parameters(sql, params))
            .collect::<Result<Vec<_>, _>>()?;
        self.client
            .batch_execute_statement()
            .resource_arn(&self.resource_arn)
            .secret_arn(&self.secret_arn)
            .database(&self.database)
            .sql(sql)
            .set_parameter_sets(Some(parameter_sets))
            .set_transaction_id(transaction.map(str::to_owned))
            .send()
            .await
            .map(drop)
            .map_err(from_sdk)
    }

    async fn run(
        &self,
        transaction: Option<&str>,
        sql: &str,
        params: &[(&str, Value)],
    ) -> Result<aws_sdk_rdsdata::operation::execute_statement::ExecuteStatementOutput, DbError>
    {
        let parameters = parameters(sql, params)?;
        self.client
            .execute_statement()
            .resource_arn(&self.resource_arn)
            .secret_arn(&self.secret_arn)
            .database(&self.database)
            .sql(sql)
            .set_parameters(Some(parameters))
            .set_transaction_id(transaction.map(str::to_owned))
            .include_result_metadata(true)
            .send()
            .await
            .map_err(from_sdk)
    }

    /// Starts a transaction.
    pub async fn begin(self: &Arc<Self>) -> Result<DataApiTransaction, DbError> {
        let output = self
            .client
            .begin_transaction()
            .resource_arn(&self.resource_arn)
            .secret_arn(&self.secret_arn)
            .database(&self.database)
            .send()
            .await
            .map_err(from_sdk)?;
        let id = output.transaction_id().unwrap_or_default().to_owned();
        if id.is_empty() {
            return Err(DbError::new(
                DbErrorKind::Unavailable,
                "BeginTransaction answered without a transaction id",
            ));
        }
        Ok(DataApiTransaction {
            api: Arc::clone(self),
            id,
            open: true,
        })
    }

    async fn end(&self, id: &str, commit: bool) -> Result<(), DbError> {
        if commit {
            self.client
                .commit_transaction()
                .resource_arn(&self.resource_arn)
                .secret_arn(&self.secret_arn)
                .transaction_id(id)
                .send()
                .await
                .map(drop)
                .map_err(from_sdk)
        } else {
            self.client
                .rollback_transaction()
                .resource_arn(&self.resource_arn)
                .secret_arn(&self.secret_arn)
                .transaction_id(id)
                .send()
                .await
                .map(drop)
                .map_err(from_sdk)
        }
    }
}

/// A Data API transaction; dropped uncommitted, it is rolled back in the background (or, with
/// no runtime left, ends when the Data API expires it).
pub struct DataApiTransaction {
    api: Arc<DataApi>,
    id: String,
    open: bool,
}

impl DataApiTransaction {
    /// Runs `sql` in the transaction once per parameter set, in one call.
    pub async fn batch(&self, sql: &str, sets: &[Vec<(&str, Value)>]) -> Result<(), DbError> {
        self.api.batch(Some(&self.id), sql, sets).await
    }

    /// Runs `sql` in the transaction and reads its rows.
    pub async fn query(&self, sql: &str, params: &[(&str, Value)]) -> Result<Vec<Row>, DbError> {
        self.api.query(Some(&self.id), sql, params).await
    }

    /// Runs `sql` in the transaction and returns how many rows it changed.
    pub async fn execute(&self, sql: &str, params: &[(&str, Value)]) -> Result<u64, DbError> {
        self.api.execute(Some(&self.id), sql, params).await
    }

    /// Commits.
    pub async fn commit(mut self) -> Result<(), DbError> {
        self.open = false;
        self.api.end(&self.id, true).await
    }

    /// Rolls back.
    pub async fn rollback(mut self) -> Result<(), DbError> {
        self.open = false;
        self.api.end(&self.id, false).await
    }
}

impl Drop for DataApiTransaction {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let api = Arc::clone(&self.api);
            let id = std::mem::take(&mut self.id);
            runtime.spawn(async move {
                if let Err(err) = api.end(&id, false).await {
                    tracing::debug!(error = %err, "rolling back an abandoned transaction");
                }
            });
        }
    }
}

/// A parameter as the Data API takes it: the value's field and, where a string stands for
/// another type, its hint.
/// The parameters `sql` names, from `params`. Checked here as the Data API would, without the
/// round trip: one statement, every parameter given, none an array.
fn parameters(sql: &str, params: &[(&str, Value)]) -> Result<Vec<SqlParameter>, DbError> {
    let statement = named::positional(sql).map_err(|e| DbError::statement(e.to_string()))?;
    statement
        .names
        .iter()
        .map(|name| {
            let (_, value) = params.iter().find(|(n, _)| n == name).ok_or_else(|| {
                DbError::statement(format!("No value specified for parameter: {name}"))
            })?;
            parameter(name, value)
        })
        .collect()
}

fn parameter(name: &str, value: &Value) -> Result<SqlParameter, DbError> {
    let (field, hint) = match value {
        Value::Null => (Field::IsNull(true), None),
        Value::Bool(v) => (Field::BooleanValue(*v), None),
        Value::Int(v) => (Field::LongValue(*v), None),
        Value::Float(v) => (Field::DoubleValue(*v), None),
        Value::Decimal(v) => (Field::StringValue(v.clone()), Some(TypeHint::Decimal)),
        Value::Text(v) => (Field::StringValue(v.clone()), None),
        Value::Uuid(v) => (Field::StringValue(v.to_string()), Some(TypeHint::Uuid)),
        Value::Json(v) => (Field::StringValue(v.to_string()), Some(TypeHint::Json)),
        Value::Timestamp(v) => (
            Field::StringValue(v.naive_utc().format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
            Some(TypeHint::Timestamp),
        ),
        Value::Date(v) => (
            Field::StringValue(v.format("%Y-%m-%d").to_string()),
            Some(TypeHint::Date),
        ),
        Value::Bytes(v) => (Field::BlobValue(Blob::new(v.clone())), None),
        Value::Array(_) => {
            return Err(DbError::statement(format!(
                "Parameter {name}: array parameters are not supported"
            )))
        }
    };
    Ok(SqlParameter::builder()
        .name(name)
        .value(field)
        .set_type_hint(hint)
        .build())
}

/// A result field as a [`Value`], strings read by the column's type.
fn value_of(field: &Field, column: Option<&ColumnMetadata>) -> Result<Value, DbError> {
    let type_name = column.and_then(ColumnMetadata::type_name).unwrap_or("text");
    let name = column.and_then(ColumnMetadata::name).unwrap_or("?");
    let bad = |what: &str| DbError::decode(format!("column {name} ({type_name}): {what}"));
    Ok(match field {
        Field::IsNull(_) => Value::Null,
        Field::BooleanValue(v) => Value::Bool(*v),
        Field::LongValue(v) => Value::Int(*v),
        Field::DoubleValue(v) => Value::Float(*v),
        Field::BlobValue(v) => Value::Bytes(v.as_ref().to_vec()),
        Field::StringValue(text) => typed_text(text, type_name).map_err(|e| bad(&e))?,
        Field::ArrayValue(array) => {
            let element = type_name.strip_prefix('_').unwrap_or("text");
            Value::Array(array_items(array, element).map_err(|e| bad(&e))?)
        }
        _ => return Err(bad("a field of a kind this client does not know")),
    })
}

/// A string field of a column of type `type_name`.
fn typed_text(text: &str, type_name: &str) -> Result<Value, String> {
    Ok(match type_name {
        "uuid" => Value::Uuid(
            text.parse()
                .map_err(|_| format!("{text:?} is not a uuid"))?,
        ),
        "json" | "jsonb" => {
            Value::Json(serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?)
        }
        "timestamptz" | "timestamp" => Value::Timestamp(
            NaiveDateTime::parse_from_str(text, TIMESTAMP_FORMAT)
                .map_err(|_| format!("{text:?} is not a timestamp"))?
                .and_utc(),
        ),
        "date" => Value::Date(
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| format!("{text:?} is not a date"))?,
        ),
        "numeric" => Value::Decimal(text.to_owned()),
        "bytea" => Value::Bytes(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| "bytes that are not base64".to_owned())?,
        ),
        _ => Value::Text(text.to_owned()),
    })
}

fn array_items(array: &ArrayValue, element: &str) -> Result<Vec<Value>, String> {
    fn each<T: Copy>(items: &[Option<T>], wrap: fn(T) -> Value) -> Vec<Value> {
        items
            .iter()
            .map(|item| item.map_or(Value::Null, wrap))
            .collect()
    }
    Ok(match array {
        ArrayValue::StringValues(items) => items
            .iter()
            .map(|text| {
                text.as_deref()
                    .map_or(Ok(Value::Null), |t| typed_text(t, element))
            })
            .collect::<Result<_, _>>()?,
        ArrayValue::LongValues(items) => each(items, Value::Int),
        ArrayValue::DoubleValues(items) => each(items, Value::Float),
        ArrayValue::BooleanValues(items) => each(items, Value::Bool),
        _ => return Err("a nested array".to_owned()),
    })
}

/// An SDK failure as the port's error: the database's refusal (with the SQLSTATE the Data API
/// appends to its message), a result it could not return, or an unreachable service.
fn from_sdk<E, R>(err: SdkError<E, R>) -> DbError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let SdkError::ServiceError(context) = err else {
        let message = format!("the Data API is unreachable: {err}");
        return DbError::new(DbErrorKind::Unavailable, message).with_source(err);
    };
    let service = context.into_err();
    let code = service.code().unwrap_or("Unknown").to_owned();
    let message = format!("{code}: {}", service.message().unwrap_or_default());
    let kind = match code.as_str() {
        "DatabaseUnavailableException"
        | "ServiceUnavailableError"
        | "DatabaseResumingException"
        | "InternalServerErrorException"
        | "ThrottlingException" => DbErrorKind::Unavailable,
        "UnsupportedResultException" => DbErrorKind::Decode,
        _ => DbErrorKind::Refused,
    };
    let sql_state = message.rsplit_once("SQLState: ").map(|(_, rest)| {
        rest.chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect::<String>()
    });
    DbError::new(kind, message)
        .with_code(sql_state.filter(|s| s.len() == 5))
        .with_source(service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_read_by_their_column_type() {
        assert_eq!(
            typed_text("2026-12-06 13:05:00.25", "timestamptz"),
            Ok(Value::Timestamp(
                NaiveDateTime::parse_from_str("2026-12-06 13:05:00.25", TIMESTAMP_FORMAT)
                    .expect("a timestamp")
                    .and_utc()
            ))
        );
        assert_eq!(
            typed_text("12.50", "numeric"),
            Ok(Value::Decimal("12.50".to_owned()))
        );
        assert_eq!(
            typed_text("{\"a\":1}", "jsonb"),
            Ok(Value::Json(serde_json::json!({"a": 1})))
        );
        assert!(typed_text("not-a-uuid", "uuid").is_err());
        assert_eq!(typed_text("x", "varchar"), Ok(Value::Text("x".to_owned())));
    }

    #[test]
    fn arrays_are_refused_as_parameters() {
        let err = parameter("ids", &Value::Array(vec![])).expect_err("refused");
        assert_eq!(err.kind(), DbErrorKind::Statement);
    }
}
