//! Statement parameters: one small enum every backend knows how to bind.
//!
//! Plugins never see sqlx types; they pass `params![a, b]` and the backend
//! converts each [`Value`] to what the statement expects (on PostgreSQL, to the
//! type the server inferred for that `$n`).

use std::borrow::Cow;

/// One parameter of a statement (`$1`, `$2`, ...).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// SQL `NULL` (also what `None` becomes).
    Null,
    /// A boolean (SQLite stores it as 0/1).
    Bool(bool),
    /// A 64-bit integer (narrowed, with a range check, for smaller PostgreSQL columns).
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// Text. On PostgreSQL it is also accepted where the server expects a
    /// timestamp (RFC 3339 or `YYYY-MM-DD HH:MM:SS`), a date, a uuid or JSON.
    Text(String),
    /// Raw bytes (`BLOB` / `BYTEA`).
    Bytes(Vec<u8>),
    /// A JSON document (`JSON`/`JSONB` on PostgreSQL, its text on SQLite).
    Json(serde_json::Value),
}

/// The parameters of one statement, in `$1..$n` order. Build it with [`params!`](crate::params).
pub type Params = Vec<Value>;

/// The parameters of a statement, in `$1..$n` order: `params![id, name]`, or
/// `params![]` for none. Each argument is converted with `Value::from`, so
/// integers, floats, bools, strings, bytes, `serde_json::Value`, `Uuid` and
/// `Option` of any of them work.
#[macro_export]
macro_rules! params {
    () => {
        ::std::vec::Vec::<$crate::Value>::new()
    };
    ($($value:expr),+ $(,)?) => {
        ::std::vec![$($crate::Value::from($value)),+]
    };
}

macro_rules! from_via {
    ($variant:ident: $($ty:ty => $conv:expr),+ $(,)?) => {
        $(impl From<$ty> for Value {
            fn from(v: $ty) -> Self {
                #[allow(clippy::redundant_closure_call)]
                Value::$variant(($conv)(v))
            }
        })+
    };
}

from_via!(Int:
    i8 => i64::from, i16 => i64::from, i32 => i64::from, i64 => |v| v,
    u8 => i64::from, u16 => i64::from, u32 => i64::from,
    &i8 => |v: &i8| i64::from(*v), &i16 => |v: &i16| i64::from(*v),
    &i32 => |v: &i32| i64::from(*v), &i64 => |v: &i64| *v,
    &u8 => |v: &u8| i64::from(*v), &u16 => |v: &u16| i64::from(*v), &u32 => |v: &u32| i64::from(*v),
    // Lengths and counts (`items.len()`) are `usize`; a value past i64::MAX
    // (over 9.2e18) cannot be stored by either engine, so it saturates.
    usize => saturate, &usize => |v: &usize| saturate(*v), isize => |v: isize| v as i64,
    u64 => saturate, &u64 => |v: &u64| saturate(*v),
);

/// `v` as an `i64`, at most `i64::MAX`.
fn saturate(v: impl TryInto<i64>) -> i64 {
    v.try_into().unwrap_or(i64::MAX)
}
from_via!(Float: f32 => f64::from, f64 => |v| v, &f32 => |v: &f32| f64::from(*v), &f64 => |v: &f64| *v);
from_via!(Bool: bool => |v| v, &bool => |v: &bool| *v);
from_via!(Text:
    String => |v| v, &str => str::to_owned, &String => |v: &String| v.clone(),
    Cow<'_, str> => Cow::into_owned, uuid::Uuid => |v: uuid::Uuid| v.to_string(),
);
from_via!(Bytes: Vec<u8> => |v| v, &[u8] => <[u8]>::to_vec);
from_via!(Json: serde_json::Value => |v| v, &serde_json::Value => |v: &serde_json::Value| v.clone());

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl Value {
    /// A short name of the variant, for error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytes",
            Value::Json(_) => "json",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_types_convert_and_none_is_null() {
        let name = String::from("Ana");
        let p = crate::params![1, 2.5, true, "a", &name, None::<i64>, Some(3u8), vec![1u8]];
        assert_eq!(
            p,
            vec![
                Value::Int(1),
                Value::Float(2.5),
                Value::Bool(true),
                Value::Text("a".into()),
                Value::Text("Ana".into()),
                Value::Null,
                Value::Int(3),
                Value::Bytes(vec![1]),
            ]
        );
        assert!(crate::params![].is_empty());
    }

    #[test]
    fn lengths_and_references_convert_like_their_values() {
        let items = [1, 2, 3];
        let (limit, small) = (10u64, 7u32);
        assert_eq!(
            crate::params![items.len(), &limit, &small, u64::MAX],
            vec![
                Value::Int(3),
                Value::Int(10),
                Value::Int(7),
                Value::Int(i64::MAX)
            ]
        );
    }
}
