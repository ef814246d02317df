use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::StateError;
use crate::state::{Shared, State};

/// The longest ttl accepted: about 100 years. Redis refuses an expiry past
/// `i64::MAX` ms from now only after `INCRBY` ran inside the script, which
/// left a counter with no ttl at all; checked before Redis is touched.
pub(crate) const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// One namespace of the state tool: its keys never collide with another
/// namespace's. Cheap to clone; get one with [`State::namespace`](crate::State::namespace).
#[derive(Clone)]
pub struct StateNamespace {
    shared: Arc<Shared>,
    name: Arc<str>,
    /// Why the name cannot be used; reported by every call rather than at
    /// creation, so `state.namespace("x")` stays a one-liner.
    problem: Option<&'static str>,
}

impl std::fmt::Debug for StateNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("StateNamespace").field(&self.name).finish()
    }
}

#[microcore_kernel::contract(of = State)]
impl StateNamespace {
    pub(crate) fn new(shared: Arc<Shared>, name: Arc<str>) -> Self {
        let problem = if name.is_empty() {
            Some("it is empty; name it after its purpose, e.g. \"login_throttle\"")
        } else if name.contains(':') {
            Some("it contains `:`, which separates namespace and key in Redis; use `_` or `.`")
        } else {
            None
        };
        Self {
            shared,
            name,
            problem,
        }
    }

    /// The namespace's name.
    #[not_in_manifest]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Stores `value` under `key`, for `ttl` if given, else until deleted.
    ///
    /// Replaces both the value and the ttl of an existing key.
    ///
    /// A zero ttl or one over about 100 years is refused before anything is written.
    pub async fn set<T: Serialize>(
        &self,
        key: &str,
        value: T,
        ttl: Option<Duration>,
    ) -> Result<(), StateError> {
        self.shared
            .probe
            .observe("set", async {
                self.check(key, ttl)?;
                let value = serde_json::to_value(value).map_err(|e| StateError::Serialize {
                    namespace: self.name.to_string(),
                    key: key.to_owned(),
                    reason: e.to_string(),
                })?;
                self.shared.backend.set(&self.name, key, value, ttl).await
            })
            .await
    }

    /// The value under `key` as a `T`, `None` when missing or expired.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StateError> {
        self.shared
            .probe
            .observe("get", async {
                self.check(key, None)?;
                let Some(value) = self.shared.backend.get(&self.name, key).await? else {
                    return Ok(None);
                };
                serde_json::from_value(value)
                    .map(Some)
                    .map_err(|e| StateError::Deserialize {
                        namespace: self.name.to_string(),
                        key: key.to_owned(),
                        expected: std::any::type_name::<T>(),
                        reason: e.to_string(),
                    })
            })
            .await
    }

    /// Whether `key` holds a live value.
    pub async fn has(&self, key: &str) -> Result<bool, StateError> {
        self.shared
            .probe
            .observe("has", async {
                self.check(key, None)?;
                self.shared.backend.has(&self.name, key).await
            })
            .await
    }

    /// Every live key of this namespace, sorted.
    pub async fn keys(&self) -> Result<Vec<String>, StateError> {
        self.shared
            .probe
            .observe("keys", async {
                self.check("", None)?;
                self.shared.backend.keys(&self.name).await
            })
            .await
    }

    /// Every live entry of this namespace, as a copy.
    pub async fn get_all(&self) -> Result<BTreeMap<String, Value>, StateError> {
        self.shared
            .probe
            .observe("get_all", async {
                self.check("", None)?;
                self.shared.backend.get_all(&self.name).await
            })
            .await
    }

    /// Atomically adds `amount` (from 0) and returns the new value, setting a ttl only on creation (a fixed window).
    ///
    /// A missing (or expired) key starts from 0. `ttl` applies only when this
    /// call creates the key, making a fixed window: later increments keep the
    /// original expiry, and after it the count restarts. Atomic across
    /// replicas on Redis (one script). A bad ttl is refused before Redis is touched.
    pub async fn increment(
        &self,
        key: &str,
        amount: i64,
        ttl: Option<Duration>,
    ) -> Result<i64, StateError> {
        self.shared
            .probe
            .observe("increment", async {
                self.check(key, ttl)?;
                self.shared
                    .backend
                    .increment(&self.name, key, amount, ttl)
                    .await
            })
            .await
    }

    /// Removes `key`; nothing happens when it does not exist.
    pub async fn delete(&self, key: &str) -> Result<(), StateError> {
        self.shared
            .probe
            .observe("delete", async {
                self.check(key, None)?;
                self.shared.backend.delete(&self.name, key).await
            })
            .await
    }

    /// Removes every key of this namespace.
    pub async fn clear(&self) -> Result<(), StateError> {
        self.shared
            .probe
            .observe("clear", async {
                self.check("", None)?;
                self.shared.backend.clear(&self.name).await
            })
            .await
    }

    fn check(&self, key: &str, ttl: Option<Duration>) -> Result<(), StateError> {
        if let Some(reason) = self.problem {
            return Err(StateError::InvalidNamespace {
                namespace: self.name.to_string(),
                reason,
            });
        }
        if ttl == Some(Duration::ZERO) {
            return Err(StateError::ZeroTtl {
                namespace: self.name.to_string(),
                key: key.to_owned(),
            });
        }
        if let Some(ttl) = ttl.filter(|t| *t > MAX_TTL) {
            return Err(StateError::TtlTooLong {
                namespace: self.name.to_string(),
                key: key.to_owned(),
                ttl_secs: ttl.as_secs(),
                max_secs: MAX_TTL.as_secs(),
            });
        }
        Ok(())
    }
}
