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
    // Owned: a borrowed description cannot hold the nested `[optional]`
    // item, so `parse_borrowed` refused this format on every call.
    let format = time::format_description::parse_owned::<2>(
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

/// Properties of reading timestamps and dates a caller passes as text.
#[cfg(test)]
mod properties {
    use super::*;

    use proptest::prelude::*;

    /// A moment within the years both formats can write (0000-9999).
    fn moment() -> impl Strategy<Value = OffsetDateTime> {
        (-62_167_219_200i64..253_402_300_799, 0u32..1_000_000_000).prop_map(|(s, ns)| {
            OffsetDateTime::from_unix_timestamp(s).unwrap() + time::Duration::nanoseconds(ns.into())
        })
    }

    /// Found by `rfc3339_and_the_plain_form_read_back_the_same_moment`: the
    /// documented `YYYY-MM-DD HH:MM:SS` form failed with "timestamp format:
    /// optional item is not supported" on every call.
    #[test]
    fn the_plain_utc_form_is_read() {
        let t = parse_timestamp(1, "2026-01-31 12:00:00").unwrap();
        assert_eq!(t.unix_timestamp(), 1_769_860_800);
        let t = parse_timestamp(1, "2026-01-31T12:00:00.25").unwrap();
        assert_eq!(t.millisecond(), 250);
        let e = parse_timestamp(3, "yesterday").unwrap_err();
        assert!(
            e.message.contains("$3") && e.message.contains("RFC 3339"),
            "{e}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_text_is_a_timestamp_or_an_error_naming_the_parameter(s in any::<String>(), n in 1usize..99) {
            if let Err(e) = parse_timestamp(n, &s) {
                prop_assert!(e.message.contains(&format!("${n}")), "{}", e);
            }
            if let Err(e) = parse_date(n, &s) {
                prop_assert!(e.message.contains(&format!("${n}")), "{}", e);
            }
        }

        #[test]
        fn rfc3339_and_the_plain_form_read_back_the_same_moment(t in moment()) {
            let rfc = t.format(&Rfc3339).unwrap();
            prop_assert_eq!(parse_timestamp(1, &rfc).unwrap(), t);
            // `2026-01-31T12:00:00.5Z` → `2026-01-31 12:00:00.5`
            let plain = rfc.trim_end_matches('Z').replacen('T', " ", 1);
            prop_assert_eq!(parse_timestamp(1, &plain).unwrap(), t, "{}", plain);
            let date = t.date().to_string();
            prop_assert_eq!(parse_date(1, &date).unwrap(), t.date(), "{}", date);
        }
    }
}
