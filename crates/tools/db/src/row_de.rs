//! Reading a row straight into the caller's `T`.
//!
//! The row's columns are handed to `T`'s `Deserialize` as a map, name by
//! name. Building a JSON object first (a map of copied keys, then a `Value`
//! decoded again) cost an allocation per column and a sort on every row
//! read, on the hottest path of an authenticated read.

use serde::de::{self, Visitor};
use serde::forward_to_deserialize_any;

use crate::backend::Row;

/// A row as a serde map of column name to value. The values are moved out,
/// the names stay in the row, so the error that says `T` does not fit can
/// still list the columns.
pub(crate) struct RowDeserializer<'r> {
    row: &'r mut Row,
}

impl<'r> RowDeserializer<'r> {
    pub(crate) fn new(row: &'r mut Row) -> Self {
        Self { row }
    }
}

impl<'de> de::Deserializer<'de> for RowDeserializer<'_> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        let columns = self
            .row
            .iter_mut()
            .map(|(name, value)| (name.as_str(), std::mem::take(value)));
        let mut map = de::value::MapDeserializer::new(columns);
        let value = visitor.visit_map(&mut map)?;
        map.end()?;
        Ok(value)
    }

    /// As `serde_json::from_value` reads an object: `Some` of the row.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_some(self)
    }

    /// As `serde_json::from_value` reads an object: the wrapped type reads the row.
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}
