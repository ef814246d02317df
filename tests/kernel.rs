//! The kernel's lifecycle guarantees (the Python original's behaviours 2-6),
//! with real macros, a real tool set and tools that fail on purpose.

// Test plugins inject tools they never call: the injection is what is tested.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use microcore::prelude::*;
use microcore::{BootOptions, Env, Kernel, PluginStatus, Tool, ToolError, ToolSetup, ToolStatus};

/// Every lifecycle call, in order, for assertions.
static EVENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn log(s: impl Into<String>) {
    EVENTS.lock().unwrap().push(s.into());
}

/// What was withdrawn after a failed on_boot (its own list: tests run in parallel).
static WITHDRAWN: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn withdrawn(s: impl Into<String>) {
    WITHDRAWN.lock().unwrap().push(s.into());
}

/// Blocks the calling thread until `release` is set (at most 20 s), as a
/// synchronous driver or a `std::thread::sleep` would.
fn block_thread_until(release: &AtomicBool) {
    let started = std::time::Instant::now();
    while !release.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(10));
    }
}

static RELEASE_BOOT: AtomicBool = AtomicBool::new(false);
static RELEASE_STOP: AtomicBool = AtomicBool::new(false);

/// A tool that sets up fine and records its lifecycle.
#[derive(Clone, Default)]
pub struct Good {
    completions: Arc<AtomicUsize>,
}

impl Tool for Good {
    const NAME: &'static str = "good";
    async fn setup(_: ToolSetup) -> Result<Self, ToolError> {
        Ok(Good::default())
    }
    async fn on_boot_complete(&self) -> Result<(), ToolError> {
        self.completions.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    async fn plugin_failed(&self, plugin: &microcore::PluginId) {
        withdrawn(format!("good withdrew {}", plugin.name));
    }
    async fn shutdown(&self) -> Result<(), ToolError> {
        log("tool good shutdown");
        Err(ToolError::new("good refuses to shut down cleanly"))
    }
}

/// A tool whose setup fails, like a database that is not there.
#[derive(Clone)]
pub struct Broken;

impl Tool for Broken {
    const NAME: &'static str = "broken";
    async fn setup(_: ToolSetup) -> Result<Self, ToolError> {
        Err(ToolError::new(
            "Setup failed: nothing listens on 127.0.0.1:1",
        ))
    }
}

/// A tool whose setup panics.
#[derive(Clone)]
pub struct Panicky;

impl Tool for Panicky {
    const NAME: &'static str = "panicky";
    async fn setup(_: ToolSetup) -> Result<Self, ToolError> {
        panic!("setup exploded")
    }
    async fn shutdown(&self) -> Result<(), ToolError> {
        log("tool panicky shutdown");
        Ok(())
    }
}

microcore::toolset! {
    good: Good,
    broken: Broken,
    panicky: Panicky,
}

mod billing {
    use super::*;

    /// Healthy: needs only the good tool.
    #[plugin]
    pub struct Healthy {
        good: Good,
    }
    impl Plugin for Healthy {
        async fn on_boot(self: Arc<Self>) -> BootResult {
            log("healthy on_boot");
            Ok(())
        }
        async fn shutdown(self: Arc<Self>) -> BootResult {
            log("healthy shutdown");
            anyhow::bail!("healthy shutdown failed on purpose")
        }
    }

    /// Needs the broken tool.
    #[plugin]
    pub struct NeedsBroken {
        good: Good,
        broken: Broken,
    }
    impl Plugin for NeedsBroken {}

    /// Can live without the broken tool.
    #[plugin]
    pub struct Tolerant {
        broken: Option<Broken>,
    }
    impl Plugin for Tolerant {
        async fn on_boot(self: Arc<Self>) -> BootResult {
            anyhow::ensure!(self.broken.is_none(), "the broken tool should be absent");
            Ok(())
        }
    }

    /// Fails in on_boot.
    #[plugin]
    pub struct FailsBoot;
    impl Plugin for FailsBoot {
        async fn on_boot(self: Arc<Self>) -> BootResult {
            anyhow::bail!("on_boot failed")
        }
    }

    /// Panics in on_boot.
    #[plugin]
    pub struct PanicsBoot;
    impl Plugin for PanicsBoot {
        async fn on_boot(self: Arc<Self>) -> BootResult {
            panic!("on_boot panicked on purpose")
        }
    }

    /// Never finishes on_boot.
    #[plugin]
    pub struct HangsBoot;
    impl Plugin for HangsBoot {
        async fn on_boot(self: Arc<Self>) -> BootResult {
            std::future::pending::<()>().await;
            Ok(())
        }
    }

    /// Blocks its thread in on_boot, through the blocking pool.
    #[plugin]
    pub struct BlockingBoot;
    impl Plugin for BlockingBoot {
        async fn on_boot(self: Arc<Self>) -> BootResult {
            microcore::CallContext::current();
            let identity = tokio::task::spawn_blocking(|| {
                std::thread::sleep(Duration::from_millis(50));
                "done"
            })
            .await?;
            anyhow::ensure!(identity == "done");
            Ok(())
        }
    }
}

/// Plugins that misbehave on purpose; each test that wants them names them.
mod stuck {
    use super::*;

    /// Blocks its thread in on_boot until released.
    #[plugin]
    pub struct BlocksThreadBoot;
    impl Plugin for BlocksThreadBoot {
        async fn on_boot(self: Arc<Self>) -> BootResult {
            block_thread_until(&RELEASE_BOOT);
            Ok(())
        }
    }

    /// Blocks its thread in shutdown until released.
    #[plugin]
    pub struct BlocksThreadStop;
    impl Plugin for BlocksThreadStop {
        async fn shutdown(self: Arc<Self>) -> BootResult {
            block_thread_until(&RELEASE_STOP);
            Ok(())
        }
    }

    /// Its shutdown never finishes.
    #[plugin]
    pub struct HangsStopA;
    impl Plugin for HangsStopA {
        async fn shutdown(self: Arc<Self>) -> BootResult {
            std::future::pending().await
        }
    }

    /// Its shutdown never finishes either.
    #[plugin]
    pub struct HangsStopB;
    impl Plugin for HangsStopB {
        async fn shutdown(self: Arc<Self>) -> BootResult {
            std::future::pending().await
        }
    }

    /// What FailsAfterRegistering subscribes to.
    #[event("stuck.half_booted")]
    pub struct HalfBooted {
        /// Anything.
        pub n: i64,
    }

    /// Registers a route, a subscription and the good tool, then fails on_boot.
    #[plugin]
    pub struct FailsAfterRegistering {
        good: Good,
        http: Http,
        event_bus: EventBus,
    }
    impl Plugin for FailsAfterRegistering {
        async fn on_boot(self: Arc<Self>) -> BootResult {
            self.http
                .route(Route::get("/half-booted"), &self, Self::half_booted)?;
            self.event_bus
                .subscribe(&self, Self::on_half_booted)
                .await?;
            anyhow::bail!("failed after registering")
        }
        async fn shutdown(self: Arc<Self>) -> BootResult {
            withdrawn("FailsAfterRegistering shutdown");
            Ok(())
        }
    }
    impl FailsAfterRegistering {
        async fn half_booted(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<String> {
            Ok("served by a DEAD plugin".into())
        }
        async fn on_half_booted(self: Arc<Self>, _: Envelope<HalfBooted>) -> HandlerResult {
            Ok(())
        }
    }
}

/// Boots exactly `names` (stuck.* plugins must be named to be booted).
async fn boot_only(names: &[&str], boot_timeout: Duration) -> microcore::Running<Tools> {
    let options = BootOptions {
        env: Env::default(),
        test_tools: true,
        only: Some(names.iter().map(|n| (*n).to_owned()).collect()),
        boot_timeout,
        boot_complete: true,
    };
    Kernel::<Tools>::boot(options).await
}

async fn boot() -> microcore::Running<Tools> {
    let not_stuck = microcore_kernel::registered_plugins::<Tools>()
        .into_iter()
        .map(|d| d.id().name.to_string())
        .filter(|n| !n.starts_with("stuck."))
        .collect();
    let options = BootOptions {
        env: Env::default(),
        test_tools: true,
        only: Some(not_stuck),
        boot_timeout: Duration::from_millis(300),
        boot_complete: true,
    };
    Kernel::<Tools>::boot(options).await
}

fn plugin(status: &microcore::SystemStatus, name: &str) -> microcore::PluginState {
    status
        .plugins
        .iter()
        .find(|p| p.name == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} not registered"))
}

#[tokio::test]
async fn failures_stay_where_they_happen_and_boot_continues() {
    let running = boot().await;
    let status = running.registry().snapshot();

    let tool = |n: &str| status.tools.iter().find(|t| t.name == n).unwrap().clone();
    assert_eq!(tool("good").status, ToolStatus::Ok);
    assert_eq!(tool("broken").status, ToolStatus::Fail);
    assert_eq!(
        tool("broken").message.as_deref(),
        Some("Setup failed: nothing listens on 127.0.0.1:1")
    );
    assert!(tool("panicky").message.unwrap().contains("setup exploded"));

    let state = |n: &str| plugin(&status, n).status;
    assert_eq!(state("billing.Healthy"), PluginStatus::Ready);
    assert_eq!(
        state("billing.Tolerant"),
        PluginStatus::Ready,
        "an optional tool that failed is None, not DEAD"
    );
    assert_eq!(state("billing.BlockingBoot"), PluginStatus::Ready);

    let dead = plugin(&status, "billing.NeedsBroken");
    assert_eq!(dead.status, PluginStatus::Dead);
    assert_eq!(
        dead.error.as_deref(),
        Some("missing tool broken: Setup failed: nothing listens on 127.0.0.1:1")
    );
    assert_eq!(dead.tools, ["good", "broken"]);

    assert!(
        plugin(&status, "billing.FailsBoot")
            .error
            .unwrap()
            .contains("on_boot failed")
    );
    assert!(
        plugin(&status, "billing.PanicsBoot")
            .error
            .unwrap()
            .contains("on_boot panicked on purpose")
    );
    assert!(
        plugin(&status, "billing.HangsBoot")
            .error
            .unwrap()
            .contains("did not finish within")
    );

    let good = running.tools().good.get().unwrap();
    assert_eq!(
        good.completions.load(Ordering::SeqCst),
        1,
        "a tool gets on_boot_complete exactly once"
    );
    let report = running.report().to_string();
    assert!(
        report.contains("billing.NeedsBroken") && report.contains("missing tool broken"),
        "{report}"
    );
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn shutdown_stops_plugins_then_tools_and_a_failing_step_stops_nothing_else() {
    EVENTS.lock().unwrap().clear();
    let running = boot().await;
    running.shutdown(Duration::from_secs(1)).await;
    let events = EVENTS.lock().unwrap().clone();
    let at = |s: &str| {
        events
            .iter()
            .position(|e| e == s)
            .unwrap_or_else(|| panic!("{s} missing from {events:?}"))
    };
    assert!(
        at("healthy shutdown") < at("tool good shutdown"),
        "plugins stop before tools: {events:?}"
    );
    assert!(
        !events.contains(&"tool panicky shutdown".to_owned()),
        "a tool that never set up is not shut down"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boot_timeout_bounds_an_on_boot_that_blocks_its_thread() {
    let running = boot_only(
        &["stuck.BlocksThreadBoot", "billing.Healthy"],
        Duration::from_millis(300),
    )
    .await;
    let status = running.registry().snapshot();
    RELEASE_BOOT.store(true, Ordering::SeqCst);
    let stuck = plugin(&status, "stuck.BlocksThreadBoot");
    assert_eq!(stuck.status, PluginStatus::Dead);
    assert!(
        stuck
            .error
            .as_deref()
            .unwrap_or("")
            .contains("did not finish within"),
        "{stuck:?}"
    );
    assert_eq!(
        plugin(&status, "billing.Healthy").status,
        PluginStatus::Ready
    );
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_step_that_blocks_its_thread_is_abandoned_and_the_rest_still_run() {
    EVENTS.lock().unwrap().clear();
    let running = boot_only(
        &["stuck.BlocksThreadStop", "billing.Healthy"],
        Duration::from_secs(5),
    )
    .await;
    let report = running.shutdown(Duration::from_millis(300)).await;
    RELEASE_STOP.store(true, Ordering::SeqCst);
    assert!(
        report
            .failed
            .iter()
            .any(|f| f.contains("stuck.BlocksThreadStop") && f.contains("did not finish")),
        "{report}"
    );
    assert!(!report.clean());
    let events = EVENTS.lock().unwrap().clone();
    assert!(
        events.contains(&"healthy shutdown".to_owned()),
        "the next plugin still stopped: {events:?}"
    );
}

// Real time, not a paused clock: the tools close real pools whose work runs
// on other threads (sqlx's SQLite threads), and a paused clock jumps over the
// release window while it waits for them, so a loaded machine saw `db`'s
// close "not finish within 500ms" in no time at all. With a 1 s grace the
// bound still tells one grace (about 1 s) from one per hung step (2 s or more).
#[tokio::test]
async fn the_grace_bounds_the_whole_shutdown_not_each_step() {
    let running = boot_only(
        &["stuck.HangsStopA", "stuck.HangsStopB"],
        Duration::from_secs(5),
    )
    .await;
    let grace = Duration::from_secs(1);
    let report = running.shutdown(grace).await;
    assert_eq!(
        report.failed.len(),
        3,
        "the two plugins and the good tool: {report}"
    );
    assert!(
        report.elapsed < 2 * grace,
        "two hung steps took {:?}, one grace each instead of one in all",
        report.elapsed
    );
}

#[tokio::test]
async fn a_plugin_that_fails_on_boot_is_withdrawn_from_its_tools_and_shut_down() {
    let running = boot_only(&["stuck.FailsAfterRegistering"], Duration::from_secs(5)).await;
    let status = running.registry().snapshot();
    assert_eq!(
        plugin(&status, "stuck.FailsAfterRegistering").status,
        PluginStatus::Dead
    );
    let withdrawn = WITHDRAWN.lock().unwrap().clone();
    assert_eq!(
        withdrawn,
        [
            "good withdrew stuck.FailsAfterRegistering",
            "FailsAfterRegistering shutdown"
        ]
    );
    let http = running.tools().http.get().unwrap();
    assert!(
        !http.routes().iter().any(|r| r.path == "/half-booted"),
        "the DEAD plugin's route is gone"
    );
    let bus = running.tools().event_bus.get().unwrap();
    assert!(
        !bus.subscriptions()
            .iter()
            .any(|s| s.subscriber.starts_with("stuck.FailsAfterRegistering")),
        "the DEAD plugin's subscription is gone: {:?}",
        bus.subscriptions()
    );
    running.shutdown(Duration::from_secs(1)).await;
}
