//! The scheduler as a kernel tool: settings, lifecycle and the boot report.
//!
//! Settings: `SCHEDULER_DATABASE_URL` (where jobs and one-shots live:
//! `memory`, `sqlite:…` or `postgres://…`; default `DATABASE_URL`, the app's
//! own database (a SQLite file too: its switch to WAL at setup is retried
//! while another tool's pool holds it), else `sqlite:microcore.db`), `SCHEDULER_TICK_MS` (how often due work is looked
//! for, default 500), `SCHEDULER_LEASE_SECS` (how long a run holds its job
//! and a claimed one-shot waits before another replica may take it, default
//! 60, renewed while running) and `SCHEDULER_MISFIRE_GRACE_SECS` (how late a
//! fire may be and still be on time, default 5).

use std::sync::Arc;
use std::time::Duration;

use microcore_kernel::{Env, PluginId, Probe, Tool, ToolError, ToolSetup};

use crate::Scheduler;
use crate::clock::{Clock, SystemClock};
use crate::scheduler::Settings;
use crate::store::{MemoryStore, Store, connect};

impl Scheduler {
    /// A scheduler on the store and settings `env` names, reading time from `clock`.
    pub async fn from_env(
        env: &Env,
        probe: Probe,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ToolError> {
        let settings = settings(env)?;
        let setting = |key: &str| env.get(key).map(str::trim).filter(|u| !u.is_empty());
        let url = setting("SCHEDULER_DATABASE_URL")
            .or_else(|| setting("DATABASE_URL"))
            .unwrap_or("sqlite:microcore.db");
        let store: Box<dyn Store> = if url == "memory" {
            Box::new(MemoryStore::default())
        } else if url == "sqlite::memory:" || url.starts_with("sqlite::memory") {
            // The app's own test database: nothing to share, nothing to keep.
            Box::new(MemoryStore::default())
        } else {
            connect(url).await.map_err(ToolError::new)?
        };
        Ok(Self::new(store, probe, clock, settings))
    }

    /// A scheduler in this process's memory, on the system clock (what `setup_for_tests` gives).
    pub fn in_memory(probe: Probe) -> Self {
        Self::new(
            Box::new(MemoryStore::default()),
            probe,
            Arc::new(SystemClock),
            Settings::default(),
        )
    }
}

fn settings(env: &Env) -> Result<Settings, ToolError> {
    let defaults = Settings::default();
    let positive = |key: &str, default: u64| match env
        .parse_or::<u64>(key, default)
        .map_err(ToolError::new)?
    {
        0 => Err(ToolError::new(format!(
            "setting {key}=0 is not allowed; use a number of at least 1, or unset it for {default}"
        ))),
        n => Ok(n),
    };
    let secs = |ms: i64| u64::try_from(ms / 1000).unwrap_or(1);
    let tick_ms = positive(
        "SCHEDULER_TICK_MS",
        u64::try_from(defaults.tick.as_millis()).unwrap_or(500),
    )?;
    let lease = positive("SCHEDULER_LEASE_SECS", secs(defaults.lease_ms))?;
    let grace = positive("SCHEDULER_MISFIRE_GRACE_SECS", secs(defaults.grace_ms))?;
    let ms = |s: u64| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX);
    Ok(Settings {
        tick: Duration::from_millis(tick_ms),
        lease_ms: ms(lease),
        grace_ms: ms(grace),
        batch: defaults.batch,
    })
}

impl Tool for Scheduler {
    const NAME: &'static str = "scheduler";

    async fn setup(setup: ToolSetup) -> Result<Self, ToolError> {
        Self::from_env(&setup.env, setup.probe, Arc::new(SystemClock)).await
    }

    async fn setup_for_tests(setup: ToolSetup) -> Result<Self, ToolError> {
        let settings = settings(&setup.env)?;
        Ok(Self::new(
            Box::new(MemoryStore::default()),
            setup.probe,
            Arc::new(SystemClock),
            settings,
        ))
    }

    fn for_plugin(&self, plugin: &PluginId) -> Self {
        Self {
            inner: self.inner.clone(),
            plugin: Some(plugin.name.clone()),
        }
    }

    /// Drops the jobs and the due handler of a plugin whose `on_boot` failed.
    async fn plugin_failed(&self, plugin: &PluginId) {
        self.inner
            .jobs
            .lock()
            .retain(|_, job| *job.plugin != *plugin.name);
        let mut due = self.inner.due.lock();
        if due.as_ref().is_some_and(|h| *h.plugin == *plugin.name) {
            *due = None;
        }
    }

    /// Fires only once every plugin has booted and registered its jobs.
    async fn on_boot_complete(&self) -> Result<(), ToolError> {
        self.start();
        Ok(())
    }

    /// Fires nothing more, and waits (up to `grace`) for running jobs.
    async fn drain(&self, grace: Duration) {
        self.inner.close();
        let deadline = tokio::time::Instant::now() + grace;
        while self.running() > 0 {
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(
                    "scheduler: {} job run(s) still going after {grace:?}; they are abandoned",
                    self.running()
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn shutdown(&self) -> Result<(), ToolError> {
        self.inner.stop_ticking();
        Ok(())
    }

    fn report(&self) -> Vec<String> {
        let mut lines = vec![format!("store: {}", self.inner.store.describe())];
        for job in self.inner.jobs.lock().values() {
            lines.push(format!(
                "{} ({}) -> {}",
                job.key,
                job.schedule.describe(),
                job.runner
            ));
        }
        if let Some(due) = self.inner.due.lock().as_ref() {
            lines.push(format!("one-shots -> {}", due.runner));
        }
        lines
    }
}
