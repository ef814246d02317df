//! PostgreSQL columns into JSON, by column type.
//!
//! Timestamps become RFC 3339 text (a `timestamp` without time zone is read
//! as UTC), bytes become base64, `json`/`jsonb` stay JSON, `numeric` becomes
//! a JSON number like SQLite gives it: an integer when it has no fraction and
//! fits i64 (`sum(bigint)` is numeric), else a float; NaN and infinities are
//! an error, not a number. Text-like types and enums read as strings; any
//! other type (arrays, `inet`, `money`, `interval`, ranges, composites) is an
//! error that says to cast the column to text, never bytes read as text.

use base64::Engine as _;
use serde_json::Value as J;
use sqlx::postgres::{PgRow, PgTypeInfo, PgTypeKind};
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
        let base = base_type(column.type_info());
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
            match base.name() {
                "BOOL" => J::Bool(get!(bool)),
                "INT2" => J::from(get!(i16)),
                "INT4" => J::from(get!(i32)),
                "INT8" => J::from(get!(i64)),
                "OID" => J::from(get!(sqlx::postgres::types::Oid).0),
                "FLOAT4" => J::from(get!(f32)),
                "FLOAT8" => J::from(get!(f64)),
                "NUMERIC" => {
                    numeric(raw.as_bytes().map_err(|e| cannot(&e))?).map_err(|e| cannot(&e))?
                }
                "JSON" | "JSONB" => get!(Json<J>).0,
                "BYTEA" => {
                    J::String(base64::engine::general_purpose::STANDARD.encode(get!(Vec<u8>)))
                }
                "TIMESTAMPTZ" => J::String(rfc3339(get!(OffsetDateTime))?),
                "TIMESTAMP" => J::String(rfc3339(get!(PrimitiveDateTime).assume_utc())?),
                "DATE" => J::String(get!(Date).to_string()),
                "TIME" => J::String(get!(Time).to_string()),
                "UUID" => J::String(get!(uuid::Uuid).to_string()),
                _ if is_text(base) => J::String(get!(String)),
                _ => return Err(cannot(&"the db tool does not read this type")),
            }
        };
        out.push((column.name().to_owned(), value));
    }
    Ok(out)
}

/// A domain's underlying type (domains of domains too).
fn base_type(ty: &PgTypeInfo) -> &PgTypeInfo {
    match ty.kind() {
        PgTypeKind::Domain(inner) => base_type(inner),
        _ => ty,
    }
}

/// Types whose binary form is their text.
fn is_text(ty: &PgTypeInfo) -> bool {
    matches!(ty.kind(), PgTypeKind::Enum(_))
        || [
            "TEXT", "VARCHAR", "BPCHAR", "CHAR", "NAME", "UNKNOWN", "\"CHAR\"", "XML",
        ]
        .contains(&ty.name())
        || ty.name().eq_ignore_ascii_case("citext")
}

fn rfc3339(t: OffsetDateTime) -> Result<String, DbError> {
    t.format(&Rfc3339)
        .map_err(|e| DbError::caller(format!("timestamp out of RFC 3339 range: {e}")))
}

/// The binary `numeric` format: ndigits, weight, sign, dscale, then base-10000
/// digits, the first worth 10000^weight.
fn numeric(bytes: &[u8]) -> Result<J, &'static str> {
    const MALFORMED: &str = "malformed numeric value";
    let word = |k: usize| {
        bytes
            .get(2 * k..2 * k + 2)
            .map(|b| i16::from_be_bytes([b[0], b[1]]))
            .ok_or(MALFORMED)
    };
    let ndigits = usize::try_from(word(0)?).map_err(|_| MALFORMED)?;
    let weight = i32::from(word(1)?);
    let negative = match word(2)? as u16 {
        0x0000 => false,
        0x4000 => true,
        0xC000 => return Err("NaN is not a JSON number"),
        _ => return Err("an infinite numeric is not a JSON number"),
    };
    let digits = (0..ndigits)
        .map(|k| word(4 + k))
        .collect::<Result<Vec<i16>, _>>()?;
    let integral = digits
        .iter()
        .enumerate()
        .all(|(k, d)| *d == 0 || weight >= i32::try_from(k).unwrap_or(i32::MAX));
    if integral {
        let mut value: i128 = 0;
        let mut fits = true;
        for (k, d) in digits.iter().enumerate() {
            let exp = u32::try_from(weight - i32::try_from(k).unwrap_or(i32::MAX)).unwrap_or(0);
            let term = 10000i128
                .checked_pow(exp)
                .and_then(|p| p.checked_mul(i128::from(*d)));
            match term.and_then(|t| value.checked_add(t)) {
                Some(v) => value = v,
                None => fits = false,
            }
        }
        let value = if negative { -value } else { value };
        if let (true, Ok(v)) = (fits, i64::try_from(value)) {
            return Ok(J::from(v));
        }
    }
    let mut value = 0f64;
    for (k, d) in digits.iter().enumerate() {
        value += f64::from(*d) * 10000f64.powi(weight - i32::try_from(k).unwrap_or(i32::MAX));
    }
    Ok(J::from(if negative { -value } else { value }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn decodes_binary_numeric() {
        // 12.5 = digits [12, 5000], weight 0, positive, dscale 1
        let bytes = [0, 2, 0, 0, 0, 0, 0, 1, 0, 12, 0x13, 0x88];
        assert_eq!(super::numeric(&bytes), Ok(serde_json::json!(12.5)));
        let neg = [0, 1, 0, 1, 0x40, 0, 0, 0, 0, 3];
        assert_eq!(super::numeric(&neg), Ok(serde_json::json!(-30000)));
        let infinity = [0, 0, 0, 0, 0xD0, 0, 0, 0];
        assert!(super::numeric(&infinity).is_err());
    }
}
