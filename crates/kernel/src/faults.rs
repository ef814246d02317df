//! Fault injection: the table of faults the chaos controls armed, which every
//! tool call reads in [`Probe::observe`](crate::Probe::observe).
//!
//! An injected fault is not a mock: the call fails with the tool's own error
//! (see [`ToolFailure::injected`](crate::ToolFailure::injected)) and the probe
//! applies the same DEAD/recovery policy as to a real outage, so a drill shows
//! what an operator would see. With nothing armed the probe reads one atomic
//! flag and goes on: no lock and no allocation per call.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::RwLock;
use serde::Serialize;

use crate::context::{current_identity, identity_within};

/// What a tool-wide fault does to every call of the tool.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum ToolFaultMode {
    /// Every call fails as if the backend were unreachable: DEAD at once.
    Down,
    /// Every call waits `seconds` before it runs.
    Slow {
        /// The added wait, in seconds.
        seconds: f64,
    },
    /// Each call fails with probability `rate` (0..=1), as a tool failure:
    /// DEAD after [`DEAD_THRESHOLD`](crate::DEAD_THRESHOLD) in a row.
    Flaky {
        /// The share of calls that fail.
        rate: f64,
    },
}

/// A fault on one tool, for every caller.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ToolFault {
    /// The tool's injection name.
    pub tool: String,
    /// What it does.
    #[serde(flatten)]
    pub mode: ToolFaultMode,
}

/// Failures for the calls one plugin (or domain) makes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CallerFault {
    /// A plugin (`users.CreateUser`) or a domain (`users`).
    pub plugin: String,
    /// Only this tool's calls; every tool when `None`.
    pub tool: Option<String>,
    /// The share of its calls that fail (0..=1).
    pub rate: f64,
}

/// A wait added before matching calls.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Latency {
    /// Only calls by this plugin or domain; every caller when `None`.
    pub plugin: Option<String>,
    /// Only this tool's calls; every tool when `None`.
    pub tool: Option<String>,
    /// The added wait, in seconds.
    pub seconds: f64,
}

/// Every armed fault, as `GET /system/chaos` shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FaultTable {
    /// Tool-wide faults, one per tool.
    pub tools: Vec<ToolFault>,
    /// Per-caller failures, one per (plugin, tool).
    pub callers: Vec<CallerFault>,
    /// Added latencies, one per (plugin, tool).
    pub latency: Vec<Latency>,
}

impl FaultTable {
    fn is_empty(&self) -> bool {
        self.tools.is_empty() && self.callers.is_empty() && self.latency.is_empty()
    }
}

/// A failure the chaos controls injected into one call, handed to the tool's
/// error type to become the error its caller sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InjectedFault {
    unavailable: bool,
    message: String,
}

impl InjectedFault {
    /// True for `down`: the error should say the backend is unreachable.
    pub fn is_unavailable(&self) -> bool {
        self.unavailable
    }

    /// What happened, naming the fault and how to lift it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// What the probe does to one call.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    /// Wait this long before the call.
    pub(crate) delay: Duration,
    /// Fail instead of calling.
    pub(crate) fail: Option<InjectedFault>,
}

/// The armed faults. Shared through the [`Registry`](crate::Registry).
#[derive(Debug)]
pub struct Faults {
    /// Mirrors "the table is not empty": the only thing a call reads when
    /// nothing is armed.
    armed: AtomicBool,
    table: RwLock<Arc<FaultTable>>,
    /// Tools whose errors can carry an injected failure.
    accepting: RwLock<BTreeSet<String>>,
    /// The state of a small generator for `flaky` and per-caller rates.
    seed: AtomicU64,
}

impl Default for Faults {
    fn default() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15);
        Self {
            armed: AtomicBool::new(false),
            table: RwLock::default(),
            accepting: RwLock::default(),
            seed: AtomicU64::new(seed),
        }
    }
}

impl Faults {
    /// True when any fault is armed (one atomic load).
    #[inline]
    pub fn armed(&self) -> bool {
        self.armed.load(Ordering::Acquire)
    }

    /// A copy of every armed fault.
    pub fn table(&self) -> FaultTable {
        (**self.table.read()).clone()
    }

    /// Records that `tool`'s errors can carry an injected failure (its error
    /// type implements [`ToolFailure::injected`](crate::ToolFailure::injected)).
    pub fn accept(&self, tool: &str) {
        self.accepting.write().insert(tool.to_owned());
    }

    /// Whether `tool`'s calls can be made to fail.
    pub fn accepts(&self, tool: &str) -> bool {
        self.accepting.read().contains(tool)
    }

    /// The tools whose calls can be made to fail, sorted.
    pub fn accepting(&self) -> Vec<String> {
        self.accepting.read().iter().cloned().collect()
    }

    /// Arms `mode` on `tool`, replacing its previous fault; `None` (`off`) lifts it.
    pub fn set_tool(&self, tool: &str, mode: Option<ToolFaultMode>) {
        self.edit(|t| {
            t.tools.retain(|f| f.tool != tool);
            if let Some(mode) = mode {
                t.tools.push(ToolFault {
                    tool: tool.to_owned(),
                    mode,
                });
            }
        });
    }

    /// Arms failures for `fault.plugin`'s calls, replacing the one for the
    /// same plugin and tool; a rate of 0 lifts it.
    pub fn set_caller(&self, fault: CallerFault) {
        self.edit(|t| {
            t.callers
                .retain(|f| !(f.plugin == fault.plugin && f.tool == fault.tool));
            if fault.rate > 0.0 {
                t.callers.push(fault);
            }
        });
    }

    /// Adds latency, replacing the one for the same plugin and tool; zero
    /// seconds lifts it.
    pub fn set_latency(&self, latency: Latency) {
        self.edit(|t| {
            t.latency
                .retain(|l| !(l.plugin == latency.plugin && l.tool == latency.tool));
            if latency.seconds > 0.0 {
                t.latency.push(latency);
            }
        });
    }

    /// Lifts every fault.
    pub fn reset(&self) {
        self.edit(|t| *t = FaultTable::default());
    }

    fn edit(&self, change: impl FnOnce(&mut FaultTable)) {
        let mut slot = self.table.write();
        let mut table = (**slot).clone();
        change(&mut table);
        table.tools.sort_by(|a, b| a.tool.cmp(&b.tool));
        self.armed.store(!table.is_empty(), Ordering::Release);
        *slot = Arc::new(table);
    }

    /// What the armed faults do to a call of `tool`'s `method` by the running code.
    pub(crate) fn verdict(&self, tool: &str, method: &str) -> Verdict {
        let table = self.table.read().clone();
        let mut verdict = Verdict::default();
        let for_tool = |t: &Option<String>| t.as_deref().is_none_or(|t| t == tool);
        let identity = current_identity();
        let caller = |p: &str| identity_within(&identity, p);
        for fault in table.tools.iter().filter(|f| f.tool == tool) {
            match fault.mode {
                ToolFaultMode::Down => {
                    verdict.fail = Some(InjectedFault {
                        unavailable: true,
                        message: format!(
                            "`{tool}` is down (fault injected by the chaos controls; \
                             POST /system/chaos/tool {{\"name\":\"{tool}\",\"mode\":\"off\"}} lifts it)"
                        ),
                    });
                }
                ToolFaultMode::Slow { seconds } => verdict.delay += secs(seconds),
                ToolFaultMode::Flaky { rate } if self.roll(rate) => {
                    verdict.fail.get_or_insert_with(|| InjectedFault {
                        unavailable: false,
                        message: format!(
                            "`{tool}` call `{method}` failed (flaky at rate {rate}, injected by \
                             the chaos controls; POST /system/chaos/tool with mode off lifts it)"
                        ),
                    });
                }
                ToolFaultMode::Flaky { .. } => {}
            }
        }
        for fault in &table.callers {
            if for_tool(&fault.tool) && caller(&fault.plugin) && self.roll(fault.rate) {
                verdict.fail.get_or_insert_with(|| InjectedFault {
                    unavailable: false,
                    message: format!(
                        "`{tool}` call `{method}` by `{identity}` failed (fault injected for \
                         `{}` by the chaos controls; POST /system/chaos/reset lifts it)",
                        fault.plugin
                    ),
                });
            }
        }
        for latency in &table.latency {
            if for_tool(&latency.tool) && latency.plugin.as_deref().is_none_or(caller) {
                verdict.delay += secs(latency.seconds);
            }
        }
        verdict
    }

    /// True with probability `rate`.
    fn roll(&self, rate: f64) -> bool {
        if rate >= 1.0 {
            return true;
        }
        if rate <= 0.0 {
            return false;
        }
        // splitmix64: plenty for "fail about this often", no dependency.
        let mut z = self
            .seed
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 / (1u64 << 53) as f64) < rate
    }
}

/// Seconds as a duration; the controls refuse negative and non-finite values,
/// this only keeps a bad one from panicking.
fn secs(seconds: f64) -> Duration {
    Duration::try_from_secs_f64(seconds).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{CallContext, in_context};

    #[test]
    fn nothing_armed_reads_as_unarmed_and_reset_disarms() {
        let f = Faults::default();
        assert!(!f.armed());
        f.set_tool("db", Some(ToolFaultMode::Down));
        assert!(f.armed());
        f.set_tool("db", None);
        assert!(!f.armed(), "off on the only fault disarms");
        f.set_latency(Latency {
            plugin: None,
            tool: None,
            seconds: 1.0,
        });
        f.reset();
        assert!(!f.armed() && f.table() == FaultTable::default());
    }

    #[test]
    fn down_fails_every_call_as_unavailable_and_only_on_its_tool() {
        let f = Faults::default();
        f.set_tool("db", Some(ToolFaultMode::Down));
        let v = f.verdict("db", "query");
        assert!(v.fail.unwrap().is_unavailable());
        assert!(f.verdict("state", "get").fail.is_none());
    }

    #[test]
    fn flaky_fails_about_its_rate() {
        let f = Faults::default();
        f.set_tool("db", Some(ToolFaultMode::Flaky { rate: 0.5 }));
        let failed = (0..2000)
            .filter(|_| f.verdict("db", "q").fail.is_some())
            .count();
        assert!((800..1200).contains(&failed), "{failed} of 2000");
        f.set_tool("db", Some(ToolFaultMode::Flaky { rate: 0.0 }));
        assert!((0..100).all(|_| f.verdict("db", "q").fail.is_none()));
    }

    #[tokio::test]
    async fn a_caller_fault_hits_only_that_plugins_calls() {
        let f = Arc::new(Faults::default());
        f.set_caller(CallerFault {
            plugin: "users.CreateUser".into(),
            tool: Some("db".into()),
            rate: 1.0,
        });
        let as_plugin = |who: &'static str| {
            let f = f.clone();
            in_context(CallContext::new(who, None), async move {
                f.verdict("db", "execute").fail.is_some()
            })
        };
        assert!(as_plugin("users.CreateUser.create").await);
        assert!(!as_plugin("users.Login.login").await);
        assert!(f.verdict("db", "execute").fail.is_none(), "system calls");
    }

    #[tokio::test]
    async fn latencies_add_up_for_matching_calls() {
        let f = Faults::default();
        f.set_tool("db", Some(ToolFaultMode::Slow { seconds: 0.5 }));
        f.set_latency(Latency {
            plugin: None,
            tool: Some("db".into()),
            seconds: 0.25,
        });
        f.set_latency(Latency {
            plugin: Some("users".into()),
            tool: None,
            seconds: 9.0,
        });
        assert_eq!(f.verdict("db", "q").delay, Duration::from_millis(750));
        assert_eq!(f.verdict("state", "get").delay, Duration::ZERO);
    }
}
