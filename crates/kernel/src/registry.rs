//! What is up and what is down: the status of every tool and plugin.
//!
//! The kernel writes it while booting, the tool probes write it when a tool
//! goes DEAD or recovers, and the `/system/*` endpoints read snapshots of it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use serde::Serialize;

use crate::auth::TokenValidator;
use crate::faults::Faults;
use crate::pause::Pauses;
use crate::probe::ToolCall;

/// How many tool calls the metrics ring keeps.
pub const METRICS_CAPACITY: usize = 1000;

/// A tool's health.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ToolStatus {
    /// Set up and answering.
    Ok,
    /// Setup failed; the tool was never available.
    Fail,
    /// It was available but its backend stopped answering.
    Dead,
}

/// A plugin's lifecycle state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PluginStatus {
    /// Built, `on_boot` running.
    Booting,
    /// `on_boot` finished; serving.
    Ready,
    /// Could not be built or booted; see its error.
    Dead,
}

/// One tool's entry in the registry.
#[derive(Clone, Debug, Serialize)]
pub struct ToolState {
    /// Injection name.
    pub name: String,
    /// Health.
    pub status: ToolStatus,
    /// Why it failed, died or recovered.
    pub message: Option<String>,
}

/// One plugin's entry in the registry.
#[derive(Clone, Debug, Serialize)]
pub struct PluginState {
    /// `"<domain>.<Type>"`.
    pub name: String,
    /// The domain folder it lives in.
    pub domain: String,
    /// Its source file, relative to the project root.
    pub file: String,
    /// The tools it injects.
    pub tools: Vec<String>,
    /// Lifecycle state.
    pub status: PluginStatus,
    /// Why it is DEAD.
    pub error: Option<String>,
}

/// A consistent copy of the registry, sorted by name.
#[derive(Clone, Debug, Serialize)]
pub struct SystemStatus {
    /// Every tool.
    pub tools: Vec<ToolState>,
    /// Every plugin.
    pub plugins: Vec<PluginState>,
}

impl SystemStatus {
    /// Every tool not OK and every plugin not READY, one line each with why;
    /// empty when the application is fully ready.
    pub fn failures(&self) -> Vec<String> {
        let tools = self.tools.iter().filter(|t| t.status != ToolStatus::Ok);
        let tools = tools.map(|t| {
            let status = format!("{:?}", t.status).to_uppercase();
            let why = t.message.as_deref().unwrap_or("no reason recorded");
            format!("tool `{}` {status}: {why}", t.name)
        });
        let plugins = self
            .plugins
            .iter()
            .filter(|p| p.status != PluginStatus::Ready);
        let plugins = plugins.map(|p| {
            let status = format!("{:?}", p.status).to_uppercase();
            let why = match (p.status, p.error.as_deref()) {
                (_, Some(e)) => e,
                (PluginStatus::Booting, None) => "on_boot has not finished",
                _ => "no reason recorded",
            };
            format!("plugin `{}` {status}: {why}", p.name)
        });
        tools.chain(plugins).collect()
    }
}

struct Inner {
    tools: RwLock<BTreeMap<String, ToolState>>,
    plugins: RwLock<BTreeMap<String, PluginState>>,
    metrics: Ring,
    /// The app's default token validator (see [`Registry::set_token_validator`]).
    token_validator: RwLock<Option<Arc<dyn TokenValidator>>>,
    /// Faults the chaos controls armed (read by every probe).
    faults: Faults,
    /// Plugins and domains the chaos controls paused (read by http and the bus).
    pauses: Pauses,
    instance_id: String,
    started: Instant,
}

impl Default for Inner {
    fn default() -> Self {
        Self {
            tools: RwLock::default(),
            plugins: RwLock::default(),
            metrics: Ring::new(),
            token_validator: RwLock::default(),
            faults: Faults::default(),
            pauses: Pauses::default(),
            instance_id: uuid::Uuid::new_v4().to_string(),
            started: Instant::now(),
        }
    }
}

/// The metrics ring: [`METRICS_CAPACITY`] slots, each behind its own lock,
/// and a counter that hands every call its slot. One `Mutex<VecDeque>` for
/// the whole ring was a lock every worker took on every tool call of every
/// request; now two calls contend only on one atomic add, or on a slot when
/// the ring has wrapped around in between.
struct Ring {
    slots: Box<[Mutex<Option<ToolCall>>]>,
    /// How many calls were ever recorded; call `n` lives in slot `n % capacity`.
    next: AtomicU64,
}

impl Ring {
    fn new() -> Self {
        Self {
            slots: (0..METRICS_CAPACITY).map(|_| Mutex::new(None)).collect(),
            next: AtomicU64::new(0),
        }
    }

    fn push(&self, call: ToolCall) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        *self.slots[(n % METRICS_CAPACITY as u64) as usize].lock() = Some(call);
    }

    /// Newest first. Calls recorded while this runs may be missing, or show
    /// in place of the older call their slot held: metrics, not a log.
    fn recent(&self) -> Vec<ToolCall> {
        let end = self.next.load(Ordering::Relaxed);
        let start = end.saturating_sub(METRICS_CAPACITY as u64);
        (start..end)
            .rev()
            .filter_map(|n| {
                self.slots[(n % METRICS_CAPACITY as u64) as usize]
                    .lock()
                    .clone()
            })
            .collect()
    }
}

/// The shared status registry. Cheap to clone.
#[derive(Clone, Default)]
pub struct Registry {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `validator` the app's default token validator, the one routes
    /// declared with `Route::auth()` use. The auth tool installs itself here at
    /// setup, so the http tool validates through it without depending on it.
    pub fn set_token_validator(&self, validator: Arc<dyn TokenValidator>) {
        *self.inner.token_validator.write() = Some(validator);
    }

    /// The app's default token validator, if a tool installed one.
    pub fn token_validator(&self) -> Option<Arc<dyn TokenValidator>> {
        self.inner.token_validator.read().clone()
    }

    /// The faults armed for fault injection; every tool probe reads them.
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// The paused plugins and domains; the http tool and the event bus hold
    /// their work.
    pub fn pauses(&self) -> &Pauses {
        &self.inner.pauses
    }

    /// This process's identity: a random id chosen when the registry was made.
    pub fn instance_id(&self) -> &str {
        &self.inner.instance_id
    }

    /// Time since the registry was made, at boot.
    pub fn uptime(&self) -> Duration {
        self.inner.started.elapsed()
    }

    /// Records (or replaces) a tool's status.
    pub fn set_tool(&self, name: &str, status: ToolStatus, message: Option<String>) {
        self.inner.tools.write().insert(
            name.to_owned(),
            ToolState {
                name: name.to_owned(),
                status,
                message,
            },
        );
    }

    /// A tool's current status, if known.
    pub fn tool(&self, name: &str) -> Option<ToolState> {
        self.inner.tools.read().get(name).cloned()
    }

    /// Records a plugin as BOOTING.
    pub fn add_plugin(&self, name: &str, domain: &str, file: &str, tools: &[&str]) {
        self.inner.plugins.write().insert(
            name.to_owned(),
            PluginState {
                name: name.to_owned(),
                domain: domain.to_owned(),
                file: file.to_owned(),
                tools: tools.iter().map(|t| (*t).to_owned()).collect(),
                status: PluginStatus::Booting,
                error: None,
            },
        );
    }

    /// Moves a plugin to `status` (with `error` when DEAD). Unknown names are ignored.
    pub fn set_plugin(&self, name: &str, status: PluginStatus, error: Option<String>) {
        if let Some(p) = self.inner.plugins.write().get_mut(name) {
            p.status = status;
            p.error = error;
        }
    }

    /// A plugin's current state, if known.
    pub fn plugin(&self, name: &str) -> Option<PluginState> {
        self.inner.plugins.read().get(name).cloned()
    }

    /// A sorted copy of every tool and plugin state.
    pub fn snapshot(&self) -> SystemStatus {
        SystemStatus {
            tools: self.inner.tools.read().values().cloned().collect(),
            plugins: self.inner.plugins.read().values().cloned().collect(),
        }
    }

    /// Appends a tool call to the bounded metrics ring.
    pub fn record_call(&self, call: ToolCall) {
        self.inner.metrics.push(call);
    }

    /// The most recent tool calls, newest first.
    pub fn recent_calls(&self) -> Vec<ToolCall> {
        self.inner.metrics.recent()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metrics_ring_keeps_the_newest_thousand() {
        let reg = Registry::new();
        for i in 0..(METRICS_CAPACITY + 5) {
            reg.record_call(ToolCall {
                tool: "db",
                method: "query",
                duration_ms: i as f64,
                success: true,
                timestamp: 0.0,
            });
        }
        let calls = reg.recent_calls();
        assert_eq!(calls.len(), METRICS_CAPACITY);
        assert_eq!(calls[0].duration_ms, (METRICS_CAPACITY + 4) as f64);
    }

    #[test]
    fn snapshots_are_sorted_by_name() {
        let reg = Registry::new();
        reg.set_tool("state", ToolStatus::Ok, None);
        reg.set_tool("db", ToolStatus::Fail, Some("no file".into()));
        let names: Vec<_> = reg.snapshot().tools.into_iter().map(|t| t.name).collect();
        assert_eq!(names, ["db", "state"]);
    }
}
