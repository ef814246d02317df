use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use microcore_kernel::{Env, Probe, Tool, ToolError, ToolSetup};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::backend::{Backend, Memory, Redis};
use crate::error::StateError;
use crate::namespace::StateNamespace;

/// The namespace of the methods called on [`State`] itself.
pub const DEFAULT_NAMESPACE: &str = "default";

/// The default of `STATE_KEY_PREFIX`.
pub(crate) const DEFAULT_KEY_PREFIX: &str = "microcore";

/// What every handle and namespace view shares.
pub(crate) struct Shared {
    pub(crate) probe: Probe,
    pub(crate) backend: Box<dyn Backend>,
}

/// Shared key-value state with expiry. Cheap to clone. Its methods act on
/// the `"default"` namespace; [`State::namespace`] gives a view of another.
#[derive(Clone)]
pub struct State {
    default: StateNamespace,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("backend", &self.shared.backend.describe())
            .finish()
    }
}

#[microcore_kernel::contract(
    backends = "memory (default) | Redis",
    env = "STATE_BACKEND, REDIS_URL, STATE_KEY_PREFIX",
    errors = "StateError: Serialize, Deserialize, NotANumber, Overflow, ZeroTtl, TtlTooLong, InvalidNamespace, Unavailable, Backend"
)]
impl State {
    fn with_backend(backend: Box<dyn Backend>, probe: Probe) -> Self {
        probe.accept_faults();
        let shared = Arc::new(Shared { probe, backend });
        Self {
            default: StateNamespace::new(shared.clone(), DEFAULT_NAMESPACE.into()),
            shared,
        }
    }

    /// A state kept in this process (what `setup_for_tests` gives).
    pub fn in_memory(probe: Probe) -> Self {
        Self::with_backend(Box::new(Memory::default()), probe)
    }

    /// The backend chosen by `STATE_BACKEND` (`memory`, the default, or
    /// `redis` at `REDIS_URL`, default `redis://127.0.0.1:6379`).
    pub async fn from_env(env: &Env, probe: Probe) -> Result<Self, ToolError> {
        match env
            .get_or("STATE_BACKEND", "memory")
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "memory" => Ok(Self::in_memory(probe)),
            "redis" => {
                let url = env.get_or("REDIS_URL", "redis://127.0.0.1:6379");
                let prefix = key_prefix(env)?;
                let redis = Redis::connect(url, &prefix).await.map_err(ToolError::new)?;
                Ok(Self::with_backend(Box::new(redis), probe))
            }
            other => Err(ToolError::new(format!(
                "STATE_BACKEND={other:?} is not a state backend; use `memory` (default) or `redis`"
            ))),
        }
    }

    /// A view of the namespace `name`: its keys are apart from every other
    /// namespace's. The name may not be empty or contain `:` (every call on
    /// such a view fails saying so).
    pub fn namespace(&self, name: impl Into<String>) -> StateNamespace {
        StateNamespace::new(self.shared.clone(), Arc::from(name.into()))
    }

    /// See [`StateNamespace::set`].
    pub async fn set<T: Serialize>(
        &self,
        key: &str,
        value: T,
        ttl: Option<Duration>,
    ) -> Result<(), StateError> {
        self.default.set(key, value, ttl).await
    }

    /// See [`StateNamespace::get`].
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StateError> {
        self.default.get(key).await
    }

    /// See [`StateNamespace::has`].
    pub async fn has(&self, key: &str) -> Result<bool, StateError> {
        self.default.has(key).await
    }

    /// See [`StateNamespace::keys`].
    pub async fn keys(&self) -> Result<Vec<String>, StateError> {
        self.default.keys().await
    }

    /// See [`StateNamespace::get_all`].
    pub async fn get_all(&self) -> Result<BTreeMap<String, Value>, StateError> {
        self.default.get_all().await
    }

    /// See [`StateNamespace::increment`].
    pub async fn increment(
        &self,
        key: &str,
        amount: i64,
        ttl: Option<Duration>,
    ) -> Result<i64, StateError> {
        self.default.increment(key, amount, ttl).await
    }

    /// See [`StateNamespace::delete`].
    pub async fn delete(&self, key: &str) -> Result<(), StateError> {
        self.default.delete(key).await
    }

    /// See [`StateNamespace::clear`]: clears the `"default"` namespace only.
    pub async fn clear(&self) -> Result<(), StateError> {
        self.default.clear().await
    }
}

/// `STATE_KEY_PREFIX` (default `microcore`): the first segment of every Redis
/// key, so two apps sharing a Redis database never list or clear each other's.
fn key_prefix(env: &Env) -> Result<String, ToolError> {
    let prefix = env.get_or("STATE_KEY_PREFIX", DEFAULT_KEY_PREFIX).trim();
    let usable = prefix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if usable {
        Ok(prefix.to_owned())
    } else {
        Err(ToolError::new(format!(
            "STATE_KEY_PREFIX={prefix:?} is not usable as a Redis key prefix; use letters, digits, \
             `_`, `-` or `.` (e.g. your app's name), or unset it for `{DEFAULT_KEY_PREFIX}`"
        )))
    }
}

impl Tool for State {
    const NAME: &'static str = "state";

    async fn setup(setup: ToolSetup) -> Result<Self, ToolError> {
        Self::from_env(&setup.env, setup.probe).await
    }

    async fn setup_for_tests(setup: ToolSetup) -> Result<Self, ToolError> {
        Ok(Self::in_memory(setup.probe))
    }

    fn report(&self) -> Vec<String> {
        vec![format!("backend: {}", self.shared.backend.describe())]
    }
}
