//! PostgreSQL columns into JSON, by column type.
//!
//! Timestamps become RFC 3339 text (a `timestamp` without time zone is read
//! as UTC), bytes become base64, `json`/`jsonb` stay JSON, `numeric` becomes
//! a JSON number (f64).

use base64::Engine as _;
use serde_json::Value as J;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{Column, Row, TypeInfo, ValueRef};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

use crate::backend::Row as JsonRow;
use crate::error::DbError;

/// Decodes one row.
pub(crate) fn decode(row: &PgRow) -> Result<JsonRow, DbError> {
    let mut out = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let ty = column.type_info().name().to_owned();
        let cannot = |e: &dyn std::fmt::Display| {
            DbError::caller(format!(
                "cannot read column {} of type {ty}: {e}; cast it in the SQL (e.g. {}::text)",
                column.name(),
                column.name()
            ))
        };
        let raw = row.try_get_raw(i).map_err(|e| cannot(&e))?;
        let value = if raw.is_null() {
            J::Null
        } else {
            macro_rules! get {
                ($t:ty) => {
                    row.try_get_unchecked::<$t, _>(i).map_err(|e| cannot(&e))?
                };
            }
            match ty.as_str() {
                "BOOL" => J::Bool(get!(bool)),
                "INT2" => J::from(get!(i16)),
                "INT4" => J::from(get!(i32)),
                "INT8" => J::from(get!(i64)),
                "OID" => J::from(get!(sqlx::postgres::types::Oid).0),
                "FLOAT4" => J::from(get!(f32)),
                "FLOAT8" => J::from(get!(f64)),
                "NUMERIC" => numeric(raw.as_bytes().map_err(|e| cannot(&e))?)
                    .map(J::from)
                    .ok_or_else(|| cannot(&"not a finite number"))?,
                "JSON" | "JSONB" => get!(Json<J>).0,
                "BYTEA" => {
                    J::String(base64::engine::general_purpose::STANDARD.encode(get!(Vec<u8>)))
                }
                "TIMESTAMPTZ" => J::String(rfc3339(get!(OffsetDateTime))?),
                "TIMESTAMP" => J::String(rfc3339(get!(PrimitiveDateTime).assume_utc())?),
                "DATE" => J::String(get!(Date).to_string()),
                "TIME" => J::String(get!(Time).to_string()),
                "UUID" => J::String(get!(uuid::Uuid).to_string()),
                _ => J::String(get!(String)),
            }
        };
        out.push((column.name().to_owned(), value));
    }
    Ok(out)
}

fn rfc3339(t: OffsetDateTime) -> Result<String, DbError> {
    t.format(&Rfc3339)
        .map_err(|e| DbError::caller(format!("timestamp out of RFC 3339 range: {e}")))
}

/// The binary `numeric` format: ndigits, weight, sign, dscale, then base-10000 digits.
fn numeric(bytes: &[u8]) -> Option<f64> {
    let word = |k: usize| {
        bytes
            .get(2 * k..2 * k + 2)
            .map(|b| i16::from_be_bytes([b[0], b[1]]))
    };
    let ndigits = usize::try_from(word(0)?).ok()?;
    let weight = i32::from(word(1)?);
    let sign = word(2)? as u16;
    if sign == 0xC000 {
        return None;
    }
    let mut value = 0f64;
    for k in 0..ndigits {
        let digit = f64::from(word(4 + k)?);
        value += digit * 10000f64.powi(weight - i32::try_from(k).ok()?);
    }
    Some(if sign == 0x4000 { -value } else { value })
}

#[cfg(test)]
mod tests {
    #[test]
    fn decodes_binary_numeric() {
        // 12.5 = digits [12, 5000], weight 0, positive, dscale 1
        let bytes = [0, 2, 0, 0, 0, 0, 0, 1, 0, 12, 0x13, 0x88];
        assert_eq!(super::numeric(&bytes), Some(12.5));
        let neg = [0, 1, 0, 1, 0x40, 0, 0, 0, 0, 3];
        assert_eq!(super::numeric(&neg), Some(-30000.0));
    }
}
