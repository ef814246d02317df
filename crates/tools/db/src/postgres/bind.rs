//! Converting each [`Value`] to the type PostgreSQL inferred for its `$n`.
//!
//! The statement is prepared first (PostgreSQL infers every parameter's type
//! from the SQL), then each value is encoded as exactly that type. So a text
//! value can fill a `timestamptz` column and an `i64` an `int4` column, like a
//! literal would, without casts in the SQL.

use sqlx::postgres::PgArguments;
use sqlx::types::Json;
use sqlx::{Postgres, TypeInfo};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::error::DbError;
use crate::value::Value;

pub(crate) type Query<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

const TEXTS: [&str; 5] = ["TEXT", "VARCHAR", "BPCHAR", "NAME", "UNKNOWN"];

/// Binds `value` as parameter `$n`, which PostgreSQL expects to be of type `ty`.
pub(crate) fn bind<'q>(
    q: Query<'q>,
    n: usize,
    value: &Value,
    ty: &str,
) -> Result<Query<'q>, DbError> {
    let is_text = TEXTS.contains(&ty) || ty.eq_ignore_ascii_case("citext");
    let mismatch = || {
        DbError::caller(format!(
            "parameter ${n}: a {} value cannot be sent where PostgreSQL expects {ty}; pass a \
             matching value or cast in the SQL (e.g. ${n}::text)",
            value.type_name()
        ))
    };
    let range = |v: i64| DbError::caller(format!("parameter ${n}: {v} does not fit in {ty}"));
    Ok(match (value, ty) {
        (Value::Null, _) => q.bind(None::<String>),
        (Value::Bool(b), "BOOL") => q.bind(*b),
        (Value::Bool(b), _) if is_text => q.bind(b.to_string()),
        (Value::Int(i), "INT2") => q.bind(i16::try_from(*i).map_err(|_| range(*i))?),
        (Value::Int(i), "INT4") => q.bind(i32::try_from(*i).map_err(|_| range(*i))?),
        (Value::Int(i), "INT8") => q.bind(*i),
        (Value::Int(i), "FLOAT4") => q.bind(*i as f32),
        (Value::Int(i), "FLOAT8") => q.bind(*i as f64),
        (Value::Int(i), _) if is_text => q.bind(i.to_string()),
        (Value::Float(f), "FLOAT4") => q.bind(*f as f32),
        (Value::Float(f), "FLOAT8") => q.bind(*f),
        (Value::Float(f), _) if is_text => q.bind(f.to_string()),
        (Value::Text(s), _) if is_text => q.bind(s.clone()),
        (Value::Text(s), "JSON" | "JSONB") => {
            let json: serde_json::Value = serde_json::from_str(s).map_err(|e| {
                DbError::caller(format!(
                    "parameter ${n}: text sent to a {ty} column is not JSON: {e}"
                ))
            })?;
            q.bind(Json(json))
        }
        (Value::Text(s), "TIMESTAMPTZ") => q.bind(parse_timestamp(n, s)?),
        (Value::Text(s), "TIMESTAMP") => {
            let t = parse_timestamp(n, s)?.to_offset(UtcOffset::UTC);
            q.bind(PrimitiveDateTime::new(t.date(), t.time()))
        }
        (Value::Text(s), "DATE") => q.bind(parse_date(n, s)?),
        (Value::Text(s), "UUID") => {
            q.bind(uuid::Uuid::parse_str(s).map_err(|e| {
                DbError::caller(format!("parameter ${n}: {s:?} is not a uuid: {e}"))
            })?)
        }
        (Value::Bytes(b), "BYTEA") => q.bind(b.clone()),
        (Value::Json(j), "JSON" | "JSONB") => q.bind(Json(j.clone())),
        (Value::Json(j), _) if is_text => q.bind(j.to_string()),
        _ => return Err(mismatch()),
    })
}

/// RFC 3339, or `YYYY-MM-DD HH:MM:SS[.fff]` read as UTC.
fn parse_timestamp(n: usize, s: &str) -> Result<OffsetDateTime, DbError> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    let format = time::format_description::parse_borrowed::<2>(
        "[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond]]]",
    )
    .map_err(|e| DbError::tool(format!("timestamp format: {e}")))?;
    PrimitiveDateTime::parse(&s.replacen('T', " ", 1), &format)
        .map(PrimitiveDateTime::assume_utc)
        .map_err(|_| {
            DbError::caller(format!(
                "parameter ${n}: {s:?} is not a timestamp; use RFC 3339 (2026-01-31T12:00:00Z) \
                 or 'YYYY-MM-DD HH:MM:SS' (UTC)"
            ))
        })
}

fn parse_date(n: usize, s: &str) -> Result<Date, DbError> {
    let format = time::format_description::parse_borrowed::<2>("[year]-[month]-[day]")
        .map_err(|e| DbError::tool(format!("date format: {e}")))?;
    Date::parse(s, &format)
        .map_err(|_| DbError::caller(format!("parameter ${n}: {s:?} is not a date (YYYY-MM-DD)")))
}

/// The name of an inferred parameter type, as `bind` expects it.
pub(crate) fn type_name(ty: &sqlx::postgres::PgTypeInfo) -> String {
    ty.name().to_owned()
}
