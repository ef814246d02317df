//! What `query`, `query_one` and `execute` make of a statement's output, the
//! same for the pool and for a transaction.

use serde::de::DeserializeOwned;
use serde_json::Value as J;

use crate::backend::{Output, Row};
use crate::error::DbError;
use crate::row_de::RowDeserializer;

/// Every row as `T`.
pub(crate) fn rows<T: DeserializeOwned>(out: Output) -> Result<Vec<T>, DbError> {
    out.rows.into_iter().map(row).collect()
}

/// The first row as `T`, if any.
pub(crate) fn first<T: DeserializeOwned>(out: Output) -> Result<Option<T>, DbError> {
    out.rows.into_iter().next().map(row).transpose()
}

/// The row `query_one` read, if any, as `T`.
pub(crate) fn first_of<T: DeserializeOwned>(first: Option<Row>) -> Result<Option<T>, DbError> {
    first.map(row).transpose()
}

/// The first column of the first returned row (RETURNING), else rows affected.
pub(crate) fn execute_result(out: Output) -> Result<i64, DbError> {
    let Some(first) = out.rows.into_iter().next() else {
        return i64::try_from(out.rows_affected)
            .map_err(|_| DbError::tool("rows affected exceeds i64"));
    };
    match first.into_iter().next() {
        Some((_, J::Number(n))) if n.is_i64() => Ok(n.as_i64().unwrap_or_default()),
        Some((name, value)) => Err(DbError::caller(format!(
            "execute() returns the first returned column as an integer, but {name} is {value}; \
             use query_one() to read other values"
        ))),
        None => Ok(0),
    }
}

fn row<T: DeserializeOwned>(mut row: Row) -> Result<T, DbError> {
    for (i, (name, _)) in row.iter().enumerate() {
        if row[..i].iter().any(|(earlier, _)| earlier == name) {
            return Err(DbError::caller(format!(
                "the query returns two columns named {name}; give one an alias (AS other_name)"
            )));
        }
    }
    T::deserialize(RowDeserializer::new(&mut row)).map_err(|e| {
        let columns: Vec<&str> = row.iter().map(|(name, _)| name.as_str()).collect();
        DbError::caller(format!(
            "a row does not fit {}: {e}; the row has columns [{}]. Select columns named like \
             the fields (use AS), or read serde_json::Value",
            std::any::type_name::<T>(),
            columns.join(", ")
        ))
    })
}
