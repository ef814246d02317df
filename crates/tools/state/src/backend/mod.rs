//! The narrow contract every state backend implements. Values cross it as
//! JSON, already serialised by the handle, so backends never see user types.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;

use crate::error::StateError;

mod memory;
mod redis;

pub(crate) use self::memory::Memory;
pub(crate) use self::redis::Redis;

/// Result of a backend call.
pub(crate) type Res<'a, T> = BoxFuture<'a, Result<T, StateError>>;

/// One state store. `ttl`s reaching a backend are never zero.
pub(crate) trait Backend: Send + Sync + 'static {
    /// Stores `value`, replacing any previous value and ttl.
    fn set<'a>(
        &'a self,
        ns: &'a str,
        key: &'a str,
        value: Value,
        ttl: Option<Duration>,
    ) -> Res<'a, ()>;
    /// The live value, if any.
    fn get<'a>(&'a self, ns: &'a str, key: &'a str) -> Res<'a, Option<Value>>;
    /// Whether a live value exists.
    fn has<'a>(&'a self, ns: &'a str, key: &'a str) -> Res<'a, bool>;
    /// Every live key, sorted.
    fn keys<'a>(&'a self, ns: &'a str) -> Res<'a, Vec<String>>;
    /// Every live entry, as an independent copy.
    fn get_all<'a>(&'a self, ns: &'a str) -> Res<'a, BTreeMap<String, Value>>;
    /// Atomically adds `amount` (a missing key counts as 0); `ttl` applies
    /// only when this call creates the key.
    fn increment<'a>(
        &'a self,
        ns: &'a str,
        key: &'a str,
        amount: i64,
        ttl: Option<Duration>,
    ) -> Res<'a, i64>;
    /// Removes the key; no-op when missing.
    fn delete<'a>(&'a self, ns: &'a str, key: &'a str) -> Res<'a, ()>;
    /// Removes every key of the namespace.
    fn clear<'a>(&'a self, ns: &'a str) -> Res<'a, ()>;
    /// For the boot report: which backend, where.
    fn describe(&self) -> String;
}
