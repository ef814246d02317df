//! Running one statement on a SQLite connection: binding and decoding.

use base64::Engine as _;
use futures::TryStreamExt;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{
    AssertSqlSafe, Column, Either, Executor, Row, Sqlite, SqliteConnection, TypeInfo, ValueRef,
};

use crate::backend::{Output, Row as JsonRow};
use crate::error::DbError;
use crate::value::Value;

type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments>;

/// Runs `sql` and collects its rows and affected-row count (undecoded, so a
/// busy error can still be retried by the caller).
pub(crate) async fn fetch(
    conn: &mut SqliteConnection,
    sql: &str,
    params: &[Value],
) -> Result<(Vec<SqliteRow>, u64), sqlx::Error> {
    let query = bound(sql, params);
    let mut stream = conn.fetch_many(query);
    let mut rows = Vec::new();
    let mut affected = 0;
    while let Some(item) = stream.try_next().await? {
        match item {
            Either::Left(done) => affected += done.rows_affected(),
            Either::Right(row) => rows.push(row),
        }
    }
    Ok((rows, affected))
}

/// Runs `sql` up to its first row, if it is one statement (SQLite stops
/// there; a write with RETURNING has run whole by then). `None` for a script
/// of several statements: the caller runs it whole with [`fetch`], so no
/// statement after the first row is skipped.
pub(crate) async fn fetch_first(
    conn: &mut SqliteConnection,
    sql: &str,
    params: &[Value],
) -> Option<Result<Option<SqliteRow>, sqlx::Error>> {
    if sql.trim_end().trim_end_matches(';').contains(';') {
        return None;
    }
    let query = bound(sql, params);
    Some(conn.fetch_optional(query).await)
}

/// `sql` with `params` bound in order.
fn bound<'q>(sql: &'q str, params: &'q [Value]) -> Query<'q> {
    params
        .iter()
        .fold(sqlx::query(AssertSqlSafe(sql)), |q: Query<'_>, p| {
            bind(q, p)
        })
}

/// Decodes collected rows.
pub(crate) fn output(rows: Vec<SqliteRow>, rows_affected: u64) -> Result<Output, DbError> {
    Ok(Output {
        rows: rows.iter().map(decode).collect::<Result<_, _>>()?,
        rows_affected,
    })
}

fn bind<'q>(q: Query<'q>, value: &Value) -> Query<'q> {
    match value {
        Value::Null => q.bind(None::<i64>),
        Value::Bool(b) => q.bind(*b),
        Value::Int(i) => q.bind(*i),
        Value::Float(f) => q.bind(*f),
        Value::Text(s) => q.bind(s.clone()),
        Value::Bytes(b) => q.bind(b.clone()),
        Value::Json(j) => q.bind(j.to_string()),
    }
}

/// SQLite values by storage class; a column declared `BOOLEAN` reads as a bool.
pub(crate) fn decode(row: &SqliteRow) -> Result<JsonRow, DbError> {
    use serde_json::Value as J;
    let mut out = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let raw = row.try_get_raw(i).map_err(|e| DbError::from_generic(&e))?;
        let value = if raw.is_null() {
            J::Null
        } else {
            let storage = raw.type_info();
            let declared_bool = column.type_info().name() == "BOOLEAN";
            let get_err = |e: sqlx::Error| {
                DbError::caller(format!("cannot read column {}: {e}", column.name()))
            };
            match storage.name() {
                "INTEGER" | "INT4" | "BOOLEAN" => {
                    let v: i64 = row.try_get_unchecked(i).map_err(get_err)?;
                    if declared_bool {
                        J::Bool(v != 0)
                    } else {
                        J::from(v)
                    }
                }
                "REAL" => J::from(row.try_get_unchecked::<f64, _>(i).map_err(get_err)?),
                "BLOB" => {
                    let v: Vec<u8> = row.try_get_unchecked(i).map_err(get_err)?;
                    J::String(base64::engine::general_purpose::STANDARD.encode(v))
                }
                _ => J::String(row.try_get_unchecked::<String, _>(i).map_err(get_err)?),
            }
        };
        out.push((column.name().to_owned(), value));
    }
    Ok(out)
}
