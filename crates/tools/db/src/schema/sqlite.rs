//! The schema of a SQLite database, from its pragma functions.

use serde_json::Value as J;

use super::{Column, ColumnType, ForeignKey, Schema, Table, text};
use crate::core::Core;
use crate::error::DbError;
use crate::ops;
use crate::value::Value;

async fn rows(db: &Core, sql: &str, table: &str) -> Result<Vec<J>, DbError> {
    let params = [Value::Text(table.to_owned())];
    ops::rows(crate::tx::statement(db, sql, if table.is_empty() { &[] } else { &params }).await?)
}

pub(super) async fn describe(db: &Core) -> Result<Schema, DbError> {
    let mut schema = Schema::default();
    let names = rows(
        db,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        "",
    )
    .await?;
    for name in names.iter().map(|r| text(r, "name")) {
        let mut table = Table::default();
        let columns = rows(
            db,
            "SELECT name, type, \"notnull\" AS not_null, dflt_value, pk FROM pragma_table_info($1) ORDER BY cid",
            &name,
        )
        .await?;
        for c in &columns {
            table.columns.push(Column {
                name: text(c, "name"),
                ty: ColumnType::normalise(&text(c, "type")),
                nullable: c["not_null"] == 0,
                default: c["dflt_value"].as_str().map(str::to_owned),
                primary_key: c["pk"].as_i64().unwrap_or(0) > 0,
            });
        }
        let indexes = rows(
            db,
            "SELECT name FROM pragma_index_list($1) WHERE \"unique\" = 1 AND origin <> 'pk'",
            &name,
        )
        .await?;
        for index in indexes.iter().map(|r| text(r, "name")) {
            let cols = rows(
                db,
                "SELECT name FROM pragma_index_info($1) ORDER BY seqno",
                &index,
            )
            .await?;
            table
                .unique
                .push(cols.iter().map(|r| text(r, "name")).collect());
        }
        let fks = rows(
            db,
            "SELECT \"from\" AS col, \"table\" AS ref_table, \"to\" AS ref_col FROM pragma_foreign_key_list($1)",
            &name,
        )
        .await?;
        for fk in &fks {
            let references_table = text(fk, "ref_table");
            let mut references_column = text(fk, "ref_col");
            if references_column.is_empty() {
                let pk = rows(
                    db,
                    "SELECT name FROM pragma_table_info($1) WHERE pk = 1",
                    &references_table,
                )
                .await?;
                references_column = pk.first().map(|r| text(r, "name")).unwrap_or_default();
            }
            table.foreign_keys.push(ForeignKey {
                column: text(fk, "col"),
                references_table,
                references_column,
            });
        }
        schema.tables.insert(name, table);
    }
    Ok(schema)
}
