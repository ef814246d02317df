//! The schema of the current PostgreSQL schema (`current_schema()`), from
//! the system catalogs.

use serde_json::Value as J;

use super::{Column, ColumnType, ForeignKey, Schema, Table, text};
use crate::core::Core;
use crate::error::DbError;
use crate::ops;
use crate::value::Value;

const TABLES: &str = "SELECT c.oid::int8 AS oid, c.relname::text AS name FROM pg_class c \
    JOIN pg_namespace n ON n.oid = c.relnamespace \
    WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema()";

const COLUMNS: &str = "SELECT a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS type, \
    a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS dflt, \
    EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary \
            AND a.attnum = ANY (i.indkey)) AS pk \
    FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
    WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

const UNIQUE: &str = "SELECT i.indexrelid::int8 AS idx, a.attname::text AS name FROM pg_index i \
    CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) \
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
    WHERE i.indrelid = $1::int8::oid AND i.indisunique AND NOT i.indisprimary \
    ORDER BY i.indexrelid, k.ord";

const FOREIGN_KEYS: &str = "SELECT a.attname::text AS col, cl.relname::text AS ref_table, \
    af.attname::text AS ref_col FROM pg_constraint c \
    CROSS JOIN LATERAL unnest(c.conkey, c.confkey) AS k(col, fcol) \
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.col \
    JOIN pg_attribute af ON af.attrelid = c.confrelid AND af.attnum = k.fcol \
    JOIN pg_class cl ON cl.oid = c.confrelid \
    WHERE c.contype = 'f' AND c.conrelid = $1::int8::oid";

async fn rows(db: &Core, sql: &str, params: &[Value]) -> Result<Vec<J>, DbError> {
    ops::rows(crate::tx::statement(db, sql, params).await?)
}

pub(super) async fn describe(db: &Core) -> Result<Schema, DbError> {
    let mut schema = Schema::default();
    for t in rows(db, TABLES, &[]).await? {
        let oid = [Value::Int(t["oid"].as_i64().unwrap_or_default())];
        let mut table = Table::default();
        for c in rows(db, COLUMNS, &oid).await? {
            table.columns.push(Column {
                name: text(&c, "name"),
                ty: ColumnType::normalise(&text(&c, "type")),
                nullable: c["not_null"] == false,
                default: c["dflt"].as_str().map(strip_literal_cast),
                primary_key: c["pk"] == true,
            });
        }
        let mut current: Option<(i64, Vec<String>)> = None;
        for u in rows(db, UNIQUE, &oid).await? {
            let idx = u["idx"].as_i64().unwrap_or_default();
            match &mut current {
                Some((i, cols)) if *i == idx => cols.push(text(&u, "name")),
                _ => {
                    if let Some((_, cols)) = current.take() {
                        table.unique.push(cols);
                    }
                    current = Some((idx, vec![text(&u, "name")]));
                }
            }
        }
        if let Some((_, cols)) = current {
            table.unique.push(cols);
        }
        for fk in rows(db, FOREIGN_KEYS, &oid).await? {
            table.foreign_keys.push(ForeignKey {
                column: text(&fk, "col"),
                references_table: text(&fk, "ref_table"),
                references_column: text(&fk, "ref_col"),
            });
        }
        schema.tables.insert(text(&t, "name"), table);
    }
    Ok(schema)
}

/// `'x'::text` → `'x'`, `'{}'::jsonb` → `'{}'`; other expressions unchanged.
fn strip_literal_cast(default: &str) -> String {
    if default.starts_with('\'')
        && let Some(end) = default.rfind("'::")
    {
        return default[..=end].to_owned();
    }
    default.to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn strips_casts_of_literals_only() {
        assert_eq!(super::strip_literal_cast("'x'::text"), "'x'");
        assert_eq!(super::strip_literal_cast("'a'::character varying"), "'a'");
        assert_eq!(
            super::strip_literal_cast("CURRENT_TIMESTAMP"),
            "CURRENT_TIMESTAMP"
        );
        assert_eq!(
            super::strip_literal_cast("nextval('t_id_seq'::regclass)"),
            "nextval('t_id_seq'::regclass)"
        );
    }
}
