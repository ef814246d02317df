//! `describe_schema`: the live tables, the same shape on every engine.

mod postgres;
mod sqlite;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::backend::Engine;
use crate::core::Core;
use crate::error::DbError;

/// Every table of the database, by name (sorted). Serialises as
/// `{table: {internal, columns, unique, foreign_keys}}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Schema {
    /// Tables by name.
    pub tables: BTreeMap<String, Table>,
}

/// One table.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Table {
    /// True for tables whose name starts with `_` (framework bookkeeping).
    pub internal: bool,
    /// Columns in table order.
    pub columns: Vec<Column>,
    /// Sets of columns under a unique constraint or index (primary key excluded), sorted.
    pub unique: Vec<Vec<String>>,
    /// Foreign keys, sorted by column.
    pub foreign_keys: Vec<ForeignKey>,
}

/// One column.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Column {
    /// Name.
    pub name: String,
    /// The declared type, normalised.
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// False for `NOT NULL` and primary-key columns.
    pub nullable: bool,
    /// The default expression as the engine reports it (PostgreSQL casts of
    /// literals such as `'x'::text` are stripped).
    pub default: Option<String>,
    /// Part of the primary key.
    pub primary_key: bool,
}

/// A closed vocabulary of column types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// Text and anything not listed below.
    Text,
    /// Any integer.
    Int,
    /// Floating point and decimal.
    Float,
    /// Boolean.
    Bool,
    /// Timestamp, date or time.
    Timestamp,
    /// JSON / JSONB.
    Json,
    /// Bytes (BLOB / BYTEA).
    Blob,
}

impl ColumnType {
    /// Normalises an engine's declared type name.
    pub(crate) fn normalise(declared: &str) -> Self {
        let t = declared.to_ascii_uppercase();
        if t.contains("JSON") {
            ColumnType::Json
        } else if t.contains("BOOL") {
            ColumnType::Bool
        } else if t.contains("TIMESTAMP") || t.contains("DATE") || t.starts_with("TIME") {
            ColumnType::Timestamp
        } else if t.starts_with("INTERVAL") || t.contains("POINT") {
            ColumnType::Text
        } else if t.contains("INT") || t.contains("SERIAL") {
            ColumnType::Int
        } else if ["REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL"]
            .iter()
            .any(|p| t.contains(p))
        {
            ColumnType::Float
        } else if t.contains("BLOB") || t.contains("BYTEA") {
            ColumnType::Blob
        } else {
            ColumnType::Text
        }
    }
}

/// A foreign key of one column.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ForeignKey {
    /// The referencing column.
    pub column: String,
    /// The referenced table.
    pub references_table: String,
    /// The referenced column.
    pub references_column: String,
}

pub(crate) async fn describe(db: &Core) -> Result<Schema, DbError> {
    let mut schema = match db.engine() {
        Engine::Sqlite => sqlite::describe(db).await?,
        Engine::Postgres => postgres::describe(db).await?,
    };
    for (name, table) in &mut schema.tables {
        table.internal = name.starts_with('_');
        for column in &mut table.columns {
            if column.primary_key {
                column.nullable = false;
            }
        }
        table.unique.sort();
        table.unique.dedup();
        table.foreign_keys.sort();
    }
    Ok(schema)
}

/// Reads a text field of a schema row.
pub(super) fn text(row: &serde_json::Value, field: &str) -> String {
    match &row[field] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::ColumnType::{self, *};

    #[test]
    fn types_normalise_to_the_closed_vocabulary() {
        let cases = [
            ("INTEGER", Int),
            ("bigint", Int),
            ("VARCHAR(20)", Text),
            ("character varying(255)", Text),
            ("double precision", Float),
            ("NUMERIC(10,2)", Float),
            ("BOOLEAN", Bool),
            ("timestamp with time zone", Timestamp),
            ("DATETIME", Timestamp),
            ("jsonb", Json),
            ("BLOB", Blob),
            ("bytea", Blob),
            ("uuid", Text),
            ("", Text),
        ];
        for (declared, want) in cases {
            assert_eq!(ColumnType::normalise(declared), want, "{declared}");
        }
    }
}
