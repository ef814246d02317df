//! The tool proxy: every tool call is measured, and a tool's health follows
//! what its calls report.
//!
//! Rust has no `__getattr__`, so instead of wrapping tools at run time each
//! tool handle owns a [`Probe`] and routes every public method through
//! [`Probe::observe`]. Policy (from the Python original, kept on purpose):
//! an "unavailable" error marks the tool DEAD at once; five consecutive other
//! failures mark it DEAD; any success marks a DEAD tool OK ("Recovered").
//! The probe never retries.
//!
//! It is also where faults are injected ([`crate::Faults`]): an armed fault
//! fails or delays a call here, before the tool runs, and the policy above
//! reacts to it exactly as to a real outage.
//!
//! Each call is also a `tool.call` span (`db.query`, child of whatever span
//! is current: the request, the delivery) and, when a meter provider is
//! installed, a point of the `microcore.tool.*` metrics. With
//! OpenTelemetry off the span is disabled at its call site.

use std::future::Future;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry::KeyValue;
use parking_lot::Mutex;
use serde::Serialize;
use tracing::{Instrument, Span};

use crate::faults::{Faults, InjectedFault, Verdict};
use crate::registry::{Registry, ToolStatus};
use crate::telemetry::{SPAN_TARGET, metrics};

/// Consecutive failures after which a tool is DEAD.
pub const DEAD_THRESHOLD: u32 = 5;

/// One measured tool call.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ToolCall {
    /// Tool injection name.
    pub tool: &'static str,
    /// Method name.
    pub method: &'static str,
    /// Wall time of the call in milliseconds.
    pub duration_ms: f64,
    /// Whether it returned `Ok`.
    pub success: bool,
    /// Seconds since the Unix epoch when it finished.
    pub timestamp: f64,
}

/// What a tool error tells the probe.
pub trait ToolFailure {
    /// True when the backend is unreachable (the tool is DEAD at once).
    fn is_unavailable(&self) -> bool {
        false
    }
    /// True when the error is the caller's fault (bad input, a constraint
    /// violation, a timeout nobody answered): it says nothing about the tool's
    /// health and does not count towards DEAD.
    fn is_caller_error(&self) -> bool {
        false
    }
    /// The error this tool's caller sees when the chaos controls inject a
    /// failure into the call: the one a real outage gives (an "unavailable"
    /// error when [`InjectedFault::is_unavailable`], a failure of the tool
    /// otherwise), carrying [`InjectedFault::message`]. `None`, the default,
    /// for calls that cannot fail: they are only ever delayed. A tool whose
    /// error implements it calls [`Probe::accept_faults`] at setup.
    fn injected(_fault: &InjectedFault) -> Option<Self>
    where
        Self: Sized,
    {
        None
    }
}

struct State {
    tool: &'static str,
    registry: Option<Registry>,
    /// Updated together with the registry entry, under this one lock: with
    /// separate atomics a success and a failure racing could leave the
    /// registry DEAD while the flag said alive, DEAD forever while working.
    health: Mutex<Health>,
    /// True while no failure was counted since the last success (and so the
    /// tool is not DEAD): a success then has nothing to change and skips the
    /// lock, which every worker took on every call under load. Written only
    /// with the lock held.
    clean: AtomicBool,
}

#[derive(Default)]
struct Health {
    consecutive: u32,
    dead: bool,
}

/// Measures a tool's calls and keeps its registry status true. Cheap to clone.
#[derive(Clone)]
pub struct Probe {
    state: Arc<State>,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe")
            .field("tool", &self.state.tool)
            .finish()
    }
}

impl Probe {
    /// A probe reporting to `registry`.
    pub fn new(tool: &'static str, registry: Registry) -> Self {
        Self::build(tool, Some(registry))
    }

    /// A probe that measures nothing anywhere (unit tests of a tool).
    pub fn detached(tool: &'static str) -> Self {
        Self::build(tool, None)
    }

    fn build(tool: &'static str, registry: Option<Registry>) -> Self {
        Self {
            state: Arc::new(State {
                tool,
                registry,
                health: Mutex::new(Health::default()),
                clean: AtomicBool::new(true),
            }),
        }
    }

    /// The tool's injection name.
    pub fn tool(&self) -> &'static str {
        self.state.tool
    }

    /// The registry this probe reports to (`None` when detached): where a
    /// tool reads the kernel's shared state, such as paused plugins.
    pub fn registry(&self) -> Option<&Registry> {
        self.state.registry.as_ref()
    }

    /// Declares that this tool's errors can carry an injected failure
    /// ([`ToolFailure::injected`]), so the chaos controls may arm `down` and
    /// `flaky` on it.
    pub fn accept_faults(&self) {
        if let Some(registry) = &self.state.registry {
            registry.faults().accept(self.state.tool);
        }
    }

    /// Runs one tool call, measuring it and applying the health policy.
    pub async fn observe<T, E: ToolFailure>(
        &self,
        method: &'static str,
        call: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let span = self.span(method);
        let started = Instant::now();
        if let Some(faults) = self.armed_faults() {
            // Boxed: the wait lives on the heap only while a fault is armed,
            // so an unarmed call's future stays as small as before.
            let verdict = faults.verdict(self.state.tool, method);
            if let Some(e) = Box::pin(self.inject::<E>(method, started, verdict)).await {
                return Err(e);
            }
        }
        // A disabled span (OpenTelemetry off) is not entered and left at
        // every poll: the call runs as it is.
        let result = if span.is_disabled() {
            call.await
        } else {
            call.instrument(span.clone()).await
        };
        self.finish(method, started, &result, &span);
        result
    }

    /// The blocking twin of [`Probe::observe`]. An armed delay blocks the
    /// calling thread, as a slow blocking backend would.
    pub fn observe_sync<T, E: ToolFailure>(
        &self,
        method: &'static str,
        call: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let span = self.span(method);
        let started = Instant::now();
        if let Some(faults) = self.armed_faults() {
            let verdict = faults.verdict(self.state.tool, method);
            std::thread::sleep(verdict.delay);
            if let Some(e) = self.injected_error::<E>(method, started, verdict.fail) {
                return Err(e);
            }
        }
        let result = span.in_scope(call);
        self.finish(method, started, &result, &span);
        result
    }

    /// The fault table when something is armed: one atomic load otherwise.
    #[inline]
    fn armed_faults(&self) -> Option<&Faults> {
        let faults = self.state.registry.as_ref()?.faults();
        faults.armed().then_some(faults)
    }

    /// Applies `verdict`: waits, then returns the injected error, if any.
    async fn inject<E: ToolFailure>(
        &self,
        method: &'static str,
        started: Instant,
        verdict: Verdict,
    ) -> Option<E> {
        if !verdict.delay.is_zero() {
            tokio::time::sleep(verdict.delay).await;
        }
        self.injected_error(method, started, verdict.fail)
    }

    /// The tool's error for an injected failure, counted by the health policy
    /// as the fault says (unavailable or a failure), never as a caller error.
    /// `None` when the call cannot fail: it then runs.
    fn injected_error<E: ToolFailure>(
        &self,
        method: &'static str,
        started: Instant,
        fault: Option<InjectedFault>,
    ) -> Option<E> {
        let fault = fault?;
        let e = E::injected(&fault)?;
        self.failed(fault.is_unavailable(), method);
        let ended = Instant::now();
        self.record(method, ended - started, ended, false);
        Some(e)
    }

    /// The call's span; its name is only formatted when something records it.
    fn span(&self, method: &'static str) -> Span {
        let tool = self.state.tool;
        let span = tracing::debug_span!(
            target: SPAN_TARGET,
            "tool.call",
            otel.name = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            tool,
            method,
            outcome = tracing::field::Empty,
        );
        if !span.is_disabled() {
            span.record("otel.name", format!("{tool}.{method}"));
        }
        span
    }

    fn finish<T, E: ToolFailure>(
        &self,
        method: &'static str,
        started: Instant,
        result: &Result<T, E>,
        span: &Span,
    ) {
        let (success, outcome) = match result {
            Ok(_) => {
                self.succeeded();
                (true, "ok")
            }
            // The call never told anything about the backend (bad input, a
            // zero TTL): it neither revives nor kills the tool.
            Err(e) if e.is_caller_error() => (false, "caller_error"),
            Err(e) => {
                self.failed(e.is_unavailable(), method);
                (false, "error")
            }
        };
        if !span.is_disabled() {
            span.record("outcome", outcome);
            if !success {
                span.record("otel.status_code", "ERROR");
            }
        }
        // One clock read ends the call: its duration, its metrics point and
        // its timestamp in the ring all come from it.
        let ended = Instant::now();
        let elapsed = ended - started;
        if let Some(m) = metrics() {
            let attributes = [
                KeyValue::new("tool", self.state.tool),
                KeyValue::new("method", method),
                KeyValue::new("outcome", outcome),
            ];
            m.tool_calls.add(1, &attributes);
            m.tool_duration.record(elapsed.as_secs_f64(), &attributes);
        }
        self.record(method, elapsed, ended, success);
    }

    /// Appends the call, which took `elapsed` and ended at `ended`, to the metrics ring.
    fn record(&self, method: &'static str, elapsed: Duration, ended: Instant, success: bool) {
        if let Some(registry) = &self.state.registry {
            registry.record_call(ToolCall {
                tool: self.state.tool,
                method,
                duration_ms: elapsed.as_secs_f64() * 1000.0,
                success,
                timestamp: unix_seconds(ended),
            });
        }
    }

    fn succeeded(&self) {
        // A success seen as clean is ordered before any failure still taking
        // the lock: the outcome is the same as if it had run first.
        if self.state.clean.load(Ordering::Acquire) {
            return;
        }
        let mut health = self.state.health.lock();
        health.consecutive = 0;
        self.state.clean.store(true, Ordering::Release);
        if health.dead {
            health.dead = false;
            tracing::info!(tool = self.state.tool, "tool recovered: a call succeeded");
            self.set(ToolStatus::Ok, "Recovered".to_owned());
        }
    }

    fn failed(&self, unavailable: bool, method: &str) {
        let mut health = self.state.health.lock();
        self.state.clean.store(false, Ordering::Release);
        health.consecutive = health.consecutive.saturating_add(1);
        let n = health.consecutive;
        let reason = if unavailable {
            format!("backend unavailable (last call: {method})")
        } else if n >= DEAD_THRESHOLD {
            format!("{n} consecutive failures (last call: {method})")
        } else {
            return;
        };
        if !health.dead && self.state.registry.is_some() {
            tracing::error!(tool = self.state.tool, "tool DEAD: {reason}");
        }
        health.dead = true;
        self.set(ToolStatus::Dead, reason);
    }

    /// Writes the registry entry; called with the health lock held.
    fn set(&self, status: ToolStatus, message: String) {
        if let Some(registry) = &self.state.registry {
            registry.set_tool(self.state.tool, status, Some(message));
        }
    }
}

/// Seconds since the Unix epoch at `at`: the wall clock read once per
/// process, plus the monotonic time since. A clock read is the dearest part
/// of a probed call (tens of ns on a VM); the ring's timestamps are for
/// reading recent calls, so a wall-clock step after start (NTP) is not
/// followed, and a restart resets it.
fn unix_seconds(at: Instant) -> f64 {
    static ANCHOR: OnceLock<(Instant, f64)> = OnceLock::new();
    let (anchor, unix) = ANCHOR.get_or_init(|| {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        (Instant::now(), unix)
    });
    unix + at.saturating_duration_since(*anchor).as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::atomic::Ordering;

    use crate::faults::ToolFaultMode;

    #[derive(Debug)]
    struct Fail {
        unavailable: bool,
    }
    impl ToolFailure for Fail {
        fn is_unavailable(&self) -> bool {
            self.unavailable
        }
        fn injected(fault: &InjectedFault) -> Option<Self> {
            Some(Fail {
                unavailable: fault.is_unavailable(),
            })
        }
    }

    #[derive(Debug)]
    struct CallerError;
    impl ToolFailure for CallerError {
        fn is_caller_error(&self) -> bool {
            true
        }
    }

    fn probe() -> (Probe, Registry) {
        let reg = Registry::new();
        reg.set_tool("dummy", ToolStatus::Ok, None);
        (Probe::new("dummy", reg.clone()), reg)
    }

    async fn call(p: &Probe, r: Result<(), Fail>) -> Result<(), Fail> {
        p.observe("poke", async { r }).await
    }

    #[tokio::test]
    async fn one_failure_keeps_the_tool_ok_and_is_not_retried() {
        let (p, reg) = probe();
        let calls = std::sync::atomic::AtomicU32::new(0);
        let _ = p
            .observe("poke", async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(Fail { unavailable: false })
            })
            .await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(reg.tool("dummy").unwrap().status, ToolStatus::Ok);
    }

    #[tokio::test]
    async fn five_consecutive_failures_kill_it_and_a_success_in_between_resets() {
        let (p, reg) = probe();
        for _ in 0..4 {
            let _ = call(&p, Err(Fail { unavailable: false })).await;
        }
        let _ = call(&p, Ok(())).await;
        for _ in 0..4 {
            let _ = call(&p, Err(Fail { unavailable: false })).await;
        }
        assert_eq!(reg.tool("dummy").unwrap().status, ToolStatus::Ok);
        let _ = call(&p, Err(Fail { unavailable: false })).await;
        let state = reg.tool("dummy").unwrap();
        assert_eq!(state.status, ToolStatus::Dead);
        assert!(state.message.unwrap().contains("5 consecutive failures"));
    }

    #[tokio::test]
    async fn unavailable_is_dead_at_once_and_a_success_recovers() {
        let (p, reg) = probe();
        let _ = call(&p, Err(Fail { unavailable: true })).await;
        assert_eq!(reg.tool("dummy").unwrap().status, ToolStatus::Dead);
        let _ = call(&p, Ok(())).await;
        let state = reg.tool("dummy").unwrap();
        assert_eq!(state.status, ToolStatus::Ok);
        assert_eq!(state.message.as_deref(), Some("Recovered"));
    }

    #[tokio::test]
    async fn every_call_is_recorded_with_its_outcome() {
        let (p, reg) = probe();
        let _ = call(&p, Ok(())).await;
        let _ = call(&p, Err(Fail { unavailable: false })).await;
        let calls = reg.recent_calls();
        assert_eq!(calls.len(), 2);
        assert!(!calls[0].success && calls[1].success);
        assert_eq!((calls[0].tool, calls[0].method), ("dummy", "poke"));
    }

    #[tokio::test]
    async fn a_call_is_stamped_with_the_wall_clock_time_it_ended() {
        let (p, reg) = probe();
        let now = || {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs_f64()
        };
        let before = now();
        let _ = call(&p, Ok(())).await;
        let after = now();
        let stamped = reg.recent_calls()[0].timestamp;
        // A millisecond of slack: the anchor and the wall clock are two reads.
        assert!(
            stamped >= before - 0.001 && stamped <= after + 0.001,
            "{before} <= {stamped} <= {after}"
        );
    }

    #[tokio::test]
    async fn a_caller_error_neither_revives_nor_kills_the_tool() {
        let (p, reg) = probe();
        let _ = call(&p, Err(Fail { unavailable: true })).await;
        let _ = p.observe("poke", async { Err::<(), _>(CallerError) }).await;
        assert_eq!(reg.tool("dummy").unwrap().status, ToolStatus::Dead);

        let (p, reg) = probe();
        for _ in 0..4 {
            let _ = call(&p, Err(Fail { unavailable: false })).await;
        }
        let _ = p.observe("poke", async { Err::<(), _>(CallerError) }).await;
        let _ = call(&p, Err(Fail { unavailable: false })).await;
        assert_eq!(
            reg.tool("dummy").unwrap().status,
            ToolStatus::Dead,
            "a caller error between failures does not reset the count"
        );
    }

    #[tokio::test]
    async fn an_injected_down_is_dead_at_once_without_running_the_call() {
        let (p, reg) = probe();
        reg.faults().set_tool("dummy", Some(ToolFaultMode::Down));
        let ran = std::sync::atomic::AtomicBool::new(false);
        let result = p
            .observe("poke", async {
                ran.store(true, Ordering::SeqCst);
                Ok::<(), Fail>(())
            })
            .await;
        assert!(matches!(result, Err(Fail { unavailable: true })));
        assert!(
            !ran.load(Ordering::SeqCst),
            "a down backend is never reached"
        );
        let state = reg.tool("dummy").unwrap();
        assert_eq!(state.status, ToolStatus::Dead);
        assert!(state.message.unwrap().contains("backend unavailable"));
        assert!(!reg.recent_calls()[0].success, "the failure is measured");
    }

    #[tokio::test]
    async fn an_injected_flaky_fault_kills_after_the_threshold_and_off_recovers() {
        let (p, reg) = probe();
        reg.faults()
            .set_tool("dummy", Some(ToolFaultMode::Flaky { rate: 1.0 }));
        for _ in 1..DEAD_THRESHOLD {
            assert!(call(&p, Ok(())).await.is_err());
        }
        assert_eq!(reg.tool("dummy").unwrap().status, ToolStatus::Ok);
        assert!(call(&p, Ok(())).await.is_err());
        assert_eq!(reg.tool("dummy").unwrap().status, ToolStatus::Dead);
        reg.faults().set_tool("dummy", None);
        assert!(call(&p, Ok(())).await.is_ok());
        let state = reg.tool("dummy").unwrap();
        assert_eq!(state.status, ToolStatus::Ok);
        assert_eq!(state.message.as_deref(), Some("Recovered"));
    }

    #[tokio::test]
    async fn a_call_that_cannot_fail_is_only_delayed() {
        let (p, reg) = probe();
        reg.faults().set_tool("dummy", Some(ToolFaultMode::Down));
        let r = p.observe("poke", async { Err::<(), _>(CallerError) }).await;
        assert!(r.is_err(), "the call ran and gave its own answer");
        assert_eq!(reg.tool("dummy").unwrap().status, ToolStatus::Ok);
        reg.faults()
            .set_tool("dummy", Some(ToolFaultMode::Slow { seconds: 0.05 }));
        let started = Instant::now();
        assert!(p.observe_sync("poke", || Ok::<(), Fail>(())).is_ok());
        assert!(started.elapsed() >= std::time::Duration::from_millis(50));
    }

    #[test]
    fn racing_successes_and_failures_never_leave_a_working_tool_dead() {
        for _ in 0..50 {
            let (p, reg) = probe();
            let threads: Vec<_> = (0..4)
                .map(|t| {
                    let p = p.clone();
                    std::thread::spawn(move || {
                        for i in 0..500 {
                            let fail = (i + t) % 2 == 0;
                            let _ = p.observe_sync("poke", || {
                                if fail {
                                    Err(Fail { unavailable: true })
                                } else {
                                    Ok(())
                                }
                            });
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            let _ = p.observe_sync("poke", || Ok::<(), Fail>(()));
            assert_eq!(
                reg.tool("dummy").unwrap().status,
                ToolStatus::Ok,
                "the last call succeeded"
            );
        }
    }
}
