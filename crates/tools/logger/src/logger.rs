use std::fmt::Display;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use microcore_kernel::{
    PluginId, Probe, Tool, ToolError, ToolFailure, ToolSetup, current_event_id, current_identity,
};
use tokio::sync::broadcast;

use crate::TARGET;
use crate::record::{LogLevel, LogRecord};

/// Records kept for a slow receiver before it starts losing the oldest ones.
const SINK_CAPACITY: usize = 1024;

struct Inner {
    probe: Probe,
    sink: broadcast::Sender<LogRecord>,
}

/// Plugin logging, attributed to the caller. Cheap to clone.
#[derive(Clone)]
pub struct Logger {
    inner: Arc<Inner>,
    plugin: Option<Arc<str>>,
}

impl std::fmt::Debug for Logger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logger")
            .field("plugin", &self.plugin)
            .finish_non_exhaustive()
    }
}

#[microcore_kernel::contract(
    backends = "tracing, text or JSON (`LOG_FORMAT=json`)",
    env = "LOG_FORMAT, RUST_LOG",
    errors = "none: logging never fails"
)]
impl Logger {
    /// A logger reporting its calls to `probe`, attributed to `system` until
    /// stamped by [`Tool::for_plugin`].
    pub fn new(probe: Probe) -> Self {
        let (sink, _) = broadcast::channel(SINK_CAPACITY);
        Self {
            inner: Arc::new(Inner { probe, sink }),
            plugin: None,
        }
    }

    /// Logs at DEBUG.
    pub fn debug(&self, message: impl Display) {
        self.log("debug", LogLevel::Debug, message);
    }

    /// Logs at INFO.
    pub fn info(&self, message: impl Display) {
        self.log("info", LogLevel::Info, message);
    }

    /// Logs at WARN.
    pub fn warn(&self, message: impl Display) {
        self.log("warn", LogLevel::Warn, message);
    }

    /// Logs at ERROR.
    pub fn error(&self, message: impl Display) {
        self.log("error", LogLevel::Error, message);
    }
}

/// Framework-facing: used by the kernel, the test kit, `/system/*` and the
/// manifest generator. Not part of the plugin contract, so AI_CONTEXT.md
/// leaves it out.
impl Logger {
    /// A live feed of every plugin log line from now on, whatever `RUST_LOG`
    /// says (the reader filters). Bounded: a receiver that falls more than
    /// 1024 records behind gets `RecvError::Lagged` and loses the oldest;
    /// logging never waits for it.
    pub fn subscribe(&self) -> broadcast::Receiver<LogRecord> {
        self.inner.sink.subscribe()
    }

    /// Who the running code is: the call context when inside a plugin's
    /// work, else the plugin this handle was given to, else `system`.
    pub fn identity(&self) -> Arc<str> {
        let current = current_identity();
        if &*current != "system" {
            return current;
        }
        self.plugin.clone().unwrap_or(current)
    }

    fn log(&self, method: &'static str, level: LogLevel, message: impl Display) {
        let result = self.inner.probe.observe_sync::<(), Never>(method, || {
            let identity = self.identity();
            let plugin = &*identity;
            // The event or request being handled, so an operator can follow
            // one delivery through the log (absent outside any).
            let cause = current_event_id();
            let event_id = cause.as_deref();
            match level {
                LogLevel::Debug => tracing::debug!(target: TARGET, plugin, event_id, "{message}"),
                LogLevel::Info => tracing::info!(target: TARGET, plugin, event_id, "{message}"),
                LogLevel::Warn => tracing::warn!(target: TARGET, plugin, event_id, "{message}"),
                LogLevel::Error => tracing::error!(target: TARGET, plugin, event_id, "{message}"),
            }
            if self.inner.sink.receiver_count() > 0 {
                // No receiver left between the check and the send is fine:
                // nobody was listening.
                let _ = self.inner.sink.send(LogRecord {
                    level,
                    message: message.to_string(),
                    identity,
                    timestamp: now(),
                });
            }
            Ok(())
        });
        if let Err(never) = result {
            match never {}
        }
    }
}

impl Tool for Logger {
    const NAME: &'static str = "logger";

    async fn setup(setup: ToolSetup) -> Result<Self, ToolError> {
        Ok(Self::new(setup.probe))
    }

    fn for_plugin(&self, plugin: &PluginId) -> Self {
        Self {
            inner: self.inner.clone(),
            plugin: Some(plugin.name.clone()),
        }
    }
}

/// Logging cannot fail; this lets it go through the probe all the same.
#[derive(Debug)]
enum Never {}

impl ToolFailure for Never {}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
