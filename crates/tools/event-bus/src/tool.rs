//! The bus as a kernel tool: settings, lifecycle and the boot report.
//!
//! Settings: `EVENT_BUS_DRIVER` (`in_process`, the default; `nats`, core NATS
//! across replicas, at-most-once; or `jetstream`, NATS JetStream, durable and
//! at-least-once), `NATS_URL` (default `nats://127.0.0.1:4222`),
//! `EVENT_BUS_NATS_PREFIX` (subject prefix, default `bus.`; with JetStream it
//! also names the stream, `MICROCORE_BUS`), `EVENT_BUS_JETSTREAM_MAX_AGE_SECS`
//! (how long the stream keeps an event, default 604800 = 7 days),
//! `EVENT_BUS_JETSTREAM_ACK_WAIT_SECS` (how long an unacknowledged delivery
//! waits before another replica gets it, default 30), `EVENT_BUS_DLQ_ENABLED`
//! (default true), `EVENT_BUS_MAX_QUEUED` (deliveries one subscription holds
//! in memory, running or waiting, default 10000) and `EVENT_BUS_MAX_DELAYED`
//! (delayed events one process holds until due, default 10000; `jetstream`
//! stores them on the server instead).

use std::sync::atomic::Ordering;
use std::time::Duration;

use microcore_kernel::{PluginId, Tool, ToolError, ToolSetup};

use crate::EventBus;
use crate::driver::Driver;
use crate::driver::memory::MemoryDriver;
use crate::handle::Limits;

impl Tool for EventBus {
    const NAME: &'static str = "event_bus";

    async fn setup(setup: ToolSetup) -> Result<Self, ToolError> {
        let dlq = setup
            .env
            .flag("EVENT_BUS_DLQ_ENABLED", true)
            .map_err(ToolError::new)?;
        let choice = setup
            .env
            .get_or("EVENT_BUS_DRIVER", "in_process")
            .trim()
            .to_ascii_lowercase();
        let driver: Box<dyn Driver> = match choice.as_str() {
            "in_process" | "inprocess" | "memory" => Box::new(MemoryDriver::default()),
            "nats" => nats_driver(&setup).await?,
            "jetstream" => jetstream_driver(&setup).await?,
            other => {
                return Err(ToolError::new(format!(
                    "EVENT_BUS_DRIVER={other:?} is not a driver; use `in_process` (the default), \
                     `nats` (replicas, at-most-once) or `jetstream` (replicas, durable, at-least-once)"
                )));
            }
        };
        let limits = limits(&setup)?;
        Ok(Self::new(setup.probe, driver, dlq, limits))
    }

    async fn setup_for_tests(setup: ToolSetup) -> Result<Self, ToolError> {
        let dlq = setup
            .env
            .flag("EVENT_BUS_DLQ_ENABLED", true)
            .map_err(ToolError::new)?;
        let limits = limits(&setup)?;
        Ok(Self::new(
            setup.probe,
            Box::new(MemoryDriver::default()),
            dlq,
            limits,
        ))
    }

    /// Ends the subscriptions of a plugin whose `on_boot` failed after
    /// subscribing: a DEAD plugin must not go on handling events.
    async fn plugin_failed(&self, plugin: &PluginId) {
        let prefix = format!("{}.", plugin.name);
        let removed: Vec<_> = {
            let mut subs = self.inner.subs.lock();
            let ids: Vec<u64> = (subs.iter())
                .filter(|(_, e)| e.subscriber.starts_with(&prefix))
                .map(|(id, _)| *id)
                .collect();
            ids.iter().filter_map(|id| subs.remove(id)).collect()
        };
        for entry in removed {
            entry.active.store(false, Ordering::Release);
            self.inner.driver.unsubscribe(entry.id).await;
        }
    }

    fn for_plugin(&self, plugin: &PluginId) -> Self {
        Self {
            inner: self.inner.clone(),
            plugin: Some(plugin.name.clone()),
        }
    }

    /// Refuses new publishes (a running delivery may still publish its
    /// follow-ups), then waits (up to `grace`) for queued and running
    /// deliveries and delayed events held in memory (JetStream keeps its
    /// own stored for another replica). On a durable driver the
    /// readers stop at once and what has not started is handed back to the
    /// server for another replica, never run or dead-lettered here.
    async fn drain(&self, grace: Duration) {
        self.inner.draining.store(true, Ordering::Release);
        if self.inner.durable() {
            self.inner.driver.stop_reading().await;
            crate::delivery::release_waiting(&self.inner);
        }
        self.wait_for_deliveries(grace).await;
        self.inner.closed.store(true, Ordering::Release);
    }

    async fn shutdown(&self) -> Result<(), ToolError> {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.driver.shutdown().await;
        let subs = std::mem::take(&mut *self.inner.subs.lock());
        for entry in subs.values() {
            entry.active.store(false, Ordering::Release);
        }
        Ok(())
    }

    fn report(&self) -> Vec<String> {
        let driver = &self.inner.driver;
        let mut lines = vec![format!(
            "driver {} ({})",
            driver.name(),
            driver.capabilities()
        )];
        for sub in self.subscriptions() {
            let how = match &sub.group {
                None => " [broadcast]".to_owned(),
                Some(g) if *g == sub.subscriber => String::new(),
                Some(g) => format!(" [group {g}]"),
            };
            lines.push(format!("{} -> {}{how}", sub.event, sub.subscriber));
        }
        lines
    }
}

impl EventBus {
    /// Waits up to `grace` for queued and running deliveries and delayed events.
    async fn wait_for_deliveries(&self, grace: Duration) {
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let left = self.inner.in_flight.load(Ordering::Acquire);
            if left == 0 {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(
                    "event bus: {left} deliveries or delayed events still pending after {grace:?}; they are abandoned"
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// `EVENT_BUS_MAX_QUEUED` and `EVENT_BUS_MAX_DELAYED`, each at least one.
fn limits(setup: &ToolSetup) -> Result<Limits, ToolError> {
    let defaults = Limits::default();
    let read = |key: &str, default: usize| match setup
        .env
        .parse_or::<usize>(key, default)
        .map_err(ToolError::new)?
    {
        0 => Err(ToolError::new(format!(
            "setting {key}=0 is not allowed; use a count of at least 1, or unset it for {default}"
        ))),
        n => Ok(n),
    };
    Ok(Limits {
        max_queued: read("EVENT_BUS_MAX_QUEUED", defaults.max_queued)?,
        max_delayed: read("EVENT_BUS_MAX_DELAYED", defaults.max_delayed)?,
    })
}

#[cfg(feature = "nats")]
async fn nats_driver(setup: &ToolSetup) -> Result<Box<dyn Driver>, ToolError> {
    let url = setup.env.get_or("NATS_URL", "nats://127.0.0.1:4222");
    let prefix = setup.env.get_or("EVENT_BUS_NATS_PREFIX", "bus.");
    let driver = crate::driver::nats::NatsDriver::connect(url, prefix)
        .await
        .map_err(ToolError::new)?;
    Ok(Box::new(driver))
}

#[cfg(not(feature = "nats"))]
async fn nats_driver(_: &ToolSetup) -> Result<Box<dyn Driver>, ToolError> {
    Err(ToolError::new(
        "EVENT_BUS_DRIVER=nats needs the `nats` feature of microcore-event-bus; enable it or use `in_process`",
    ))
}

#[cfg(feature = "nats")]
async fn jetstream_driver(setup: &ToolSetup) -> Result<Box<dyn Driver>, ToolError> {
    use crate::driver::jetstream::{JetStreamDriver, JetStreamSettings};
    let env = &setup.env;
    let settings = JetStreamSettings {
        url: env.get_or("NATS_URL", "nats://127.0.0.1:4222").to_owned(),
        prefix: env.get_or("EVENT_BUS_NATS_PREFIX", "bus.").to_owned(),
        max_age: seconds(setup, "EVENT_BUS_JETSTREAM_MAX_AGE_SECS", 7 * 24 * 3600)?,
        ack_wait: seconds(setup, "EVENT_BUS_JETSTREAM_ACK_WAIT_SECS", 30)?,
    };
    let driver = JetStreamDriver::connect(&settings)
        .await
        .map_err(ToolError::new)?;
    Ok(Box::new(driver))
}

#[cfg(not(feature = "nats"))]
async fn jetstream_driver(_: &ToolSetup) -> Result<Box<dyn Driver>, ToolError> {
    Err(ToolError::new(
        "EVENT_BUS_DRIVER=jetstream needs the `nats` feature of microcore-event-bus; enable it or use `in_process`",
    ))
}

/// A whole number of seconds, at least one.
#[cfg(feature = "nats")]
fn seconds(setup: &ToolSetup, key: &str, default: u64) -> Result<Duration, ToolError> {
    match setup
        .env
        .parse_or::<u64>(key, default)
        .map_err(ToolError::new)?
    {
        0 => Err(ToolError::new(format!(
            "setting {key}=0 is not allowed; use a number of seconds of at least 1, or unset it for {default}"
        ))),
        secs => Ok(Duration::from_secs(secs)),
    }
}
