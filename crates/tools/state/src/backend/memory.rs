//! The in-process backend: one mutex-guarded map, monotonic clock, lazy expiry.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::Value;

use super::{Backend, Res};
use crate::error::StateError;

/// Writes between two sweeps of expired entries: expiry is lazy, and the
/// sweep keeps keys that are written once and never read (a throttle per
/// email) from piling up.
const SWEEP_EVERY: u32 = 1024;

struct Entry {
    value: Value,
    expires_at: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|t| t > now)
    }
}

type Namespaces = HashMap<String, HashMap<String, Entry>>;

/// State kept in this process only.
#[derive(Default)]
pub(crate) struct Memory {
    data: Mutex<Namespaces>,
    writes: AtomicU32,
}

impl Memory {
    fn write<R>(&self, f: impl FnOnce(&mut Namespaces, Instant) -> R) -> R {
        let now = Instant::now();
        let mut data = self.data.lock();
        if self.writes.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            for entries in data.values_mut() {
                entries.retain(|_, e| e.live(now));
            }
            data.retain(|_, entries| !entries.is_empty());
        }
        f(&mut data, now)
    }

    /// The live entries of `ns`, with its expired ones purged.
    fn live<R>(&self, ns: &str, f: impl FnOnce(&HashMap<String, Entry>) -> R) -> R {
        let now = Instant::now();
        let mut data = self.data.lock();
        match data.get_mut(ns) {
            Some(entries) => {
                entries.retain(|_, e| e.live(now));
                f(entries)
            }
            None => f(&HashMap::new()),
        }
    }

    /// `read` of the live value under `key`, if any; an expired one is purged.
    /// `has` reads nothing, so it copies no value.
    fn entry<R>(&self, ns: &str, key: &str, read: impl FnOnce(&Value) -> R) -> Option<R> {
        let now = Instant::now();
        let mut data = self.data.lock();
        let entries = data.get_mut(ns)?;
        match entries.get(key) {
            Some(e) if e.live(now) => Some(read(&e.value)),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }
}

fn deadline(now: Instant, ttl: Option<Duration>) -> Option<Instant> {
    // A ttl beyond the clock's range means "never" in practice.
    ttl.and_then(|ttl| now.checked_add(ttl))
}

impl Backend for Memory {
    fn set<'a>(
        &'a self,
        ns: &'a str,
        key: &'a str,
        value: Value,
        ttl: Option<Duration>,
    ) -> Res<'a, ()> {
        Box::pin(async move {
            self.write(|data, now| {
                let entry = Entry {
                    value,
                    expires_at: deadline(now, ttl),
                };
                data.entry(ns.to_owned())
                    .or_default()
                    .insert(key.to_owned(), entry);
            });
            Ok(())
        })
    }

    fn get<'a>(&'a self, ns: &'a str, key: &'a str) -> Res<'a, Option<Value>> {
        Box::pin(async move { Ok(self.entry(ns, key, Value::clone)) })
    }

    fn has<'a>(&'a self, ns: &'a str, key: &'a str) -> Res<'a, bool> {
        Box::pin(async move { Ok(self.entry(ns, key, |_| ()).is_some()) })
    }

    fn keys<'a>(&'a self, ns: &'a str) -> Res<'a, Vec<String>> {
        Box::pin(async move {
            let mut keys: Vec<String> = self.live(ns, |entries| entries.keys().cloned().collect());
            keys.sort();
            Ok(keys)
        })
    }

    fn get_all<'a>(&'a self, ns: &'a str) -> Res<'a, BTreeMap<String, Value>> {
        Box::pin(async move {
            Ok(self.live(ns, |entries| {
                entries
                    .iter()
                    .map(|(k, e)| (k.clone(), e.value.clone()))
                    .collect()
            }))
        })
    }

    fn increment<'a>(
        &'a self,
        ns: &'a str,
        key: &'a str,
        amount: i64,
        ttl: Option<Duration>,
    ) -> Res<'a, i64> {
        Box::pin(async move {
            self.write(|data, now| {
                let entries = data.entry(ns.to_owned()).or_default();
                let current = match entries.get(key) {
                    Some(e) if e.live(now) => {
                        Some(e.value.as_i64().ok_or_else(|| StateError::NotANumber {
                            namespace: ns.to_owned(),
                            key: key.to_owned(),
                        })?)
                    }
                    _ => None,
                };
                let next = current.unwrap_or(0).checked_add(amount).ok_or_else(|| {
                    StateError::Overflow {
                        namespace: ns.to_owned(),
                        key: key.to_owned(),
                    }
                })?;
                match (current, entries.get_mut(key)) {
                    (Some(_), Some(entry)) => entry.value = Value::from(next),
                    _ => {
                        let entry = Entry {
                            value: Value::from(next),
                            expires_at: deadline(now, ttl),
                        };
                        entries.insert(key.to_owned(), entry);
                    }
                }
                Ok(next)
            })
        })
    }

    fn delete<'a>(&'a self, ns: &'a str, key: &'a str) -> Res<'a, ()> {
        Box::pin(async move {
            if let Some(entries) = self.data.lock().get_mut(ns) {
                entries.remove(key);
            }
            Ok(())
        })
    }

    fn clear<'a>(&'a self, ns: &'a str) -> Res<'a, ()> {
        Box::pin(async move {
            self.data.lock().remove(ns);
            Ok(())
        })
    }

    fn describe(&self) -> String {
        "memory (this process only; STATE_BACKEND=redis shares state between replicas)".to_owned()
    }
}
