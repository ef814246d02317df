//! Buses for every driver, test events and small waiting helpers.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use microcore_event_bus::{EventBus, TraceKind, TraceNode};
use microcore_kernel::{Env, PluginId, Probe, Registry, Tool, ToolSetup};

/// Declares a test event: `test_event!(Ping, "t.ping", { n: u32 });`.
macro_rules! test_event {
    ($ty:ident, $name:literal, { $($field:ident : $t:ty),* $(,)? }) => {
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        pub(crate) struct $ty { $(pub(crate) $field: $t),* }
        impl microcore_event_bus::Event for $ty {
            const NAME: &'static str = $name;
        }
    };
}

/// Runs `async fn name(backend: Backend)` once per driver; `replicas:` runs
/// it only on the drivers that span processes (NATS and JetStream).
macro_rules! parity {
    ($($name:ident),* $(,)?) => { $(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn in_process() {
                super::$name(crate::common::Backend::InProcess).await
            }
            parity!(@remote $name, tokio::test(flavor = "multi_thread", worker_threads = 2));
        }
    )* };
    (current_thread: $($name:ident),* $(,)?) => { $(
        mod $name {
            #[tokio::test]
            async fn in_process() {
                super::$name(crate::common::Backend::InProcess).await
            }
            parity!(@remote $name, tokio::test);
        }
    )* };
    (replicas: $($name:ident),* $(,)?) => { $(
        mod $name {
            parity!(@remote $name, tokio::test(flavor = "multi_thread", worker_threads = 2));
        }
    )* };
    (@remote $name:ident, $test:meta) => {
        #[$test]
        async fn nats() {
            if let Some(backend) = crate::common::Backend::nats() {
                super::$name(backend).await
            }
        }
        #[$test]
        async fn jetstream() {
            if let Some(backend) = crate::common::Backend::jetstream() {
                let _cleanup = backend.cleanup();
                super::$name(backend.clone()).await
            }
        }
    };
}

/// Which driver a test runs on. Each NATS or JetStream backend has its own
/// subject prefix (so its own stream), so tests running side by side never
/// see each other's events.
#[derive(Clone, Debug)]
pub(crate) enum Backend {
    InProcess,
    Nats { prefix: String },
    JetStream { prefix: String },
}

/// Where the NATS server is (`NATS_URL`, or the default).
pub(crate) fn nats_url() -> String {
    std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// True if NATS answers; under `CI=true` its absence fails the test.
fn nats_reachable() -> bool {
    let url = nats_url();
    let addr = url.trim_start_matches("nats://").to_owned();
    let reachable = addr
        .parse()
        .ok()
        .and_then(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(1)).ok())
        .is_some();
    if !reachable {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("NATS is not reachable at {url} and CI=true: start `nats-server -js` there");
        }
        eprintln!("skipped: NATS is not reachable at {url} (set CI=true to make this a failure)");
    }
    reachable
}

fn unique_prefix() -> String {
    format!("test{}.", uuid::Uuid::new_v4().simple())
}

impl Backend {
    /// NATS if reachable; under `CI=true` its absence fails the test.
    pub(crate) fn nats() -> Option<Self> {
        nats_reachable().then(|| Self::Nats {
            prefix: unique_prefix(),
        })
    }

    /// JetStream if NATS is reachable; under `CI=true` its absence fails the
    /// test, and a server without JetStream fails setup saying so.
    pub(crate) fn jetstream() -> Option<Self> {
        nats_reachable().then(|| Self::JetStream {
            prefix: unique_prefix(),
        })
    }

    pub(crate) fn is_in_process(&self) -> bool {
        matches!(self, Self::InProcess)
    }

    /// The subject prefix, for a test that talks to NATS directly.
    pub(crate) fn prefix(&self) -> &str {
        match self {
            Self::InProcess => "",
            Self::Nats { prefix } | Self::JetStream { prefix } => prefix,
        }
    }

    /// The JetStream stream the driver derives from the prefix (`MICROCORE_TEST…`).
    pub(crate) fn stream(&self) -> String {
        let stem = self.prefix().trim_end_matches('.');
        format!("MICROCORE_{}", stem.to_ascii_uppercase())
    }

    /// The stream where the driver keeps this backend's delayed events.
    pub(crate) fn delay_stream(&self) -> String {
        format!("{}_DELAYED", self.stream())
    }

    /// Deletes this backend's streams when dropped, even after a failure.
    pub(crate) fn cleanup(&self) -> StreamCleanup {
        StreamCleanup(matches!(self, Self::JetStream { .. }).then(|| self.stream()))
    }

    pub(crate) async fn bus(&self) -> EventBus {
        self.bus_with(&[]).await
    }

    /// A bus set up the way the kernel does it, with extra settings.
    pub(crate) async fn bus_with(&self, settings: &[(&str, &str)]) -> EventBus {
        let mut env = Env::from_pairs(settings.iter().copied());
        match self {
            Self::InProcess => env = env.with("EVENT_BUS_DRIVER", "in_process"),
            Self::Nats { prefix } | Self::JetStream { prefix } => {
                let driver = match self {
                    Self::JetStream { .. } => "jetstream",
                    _ => "nats",
                };
                env = env
                    .with("EVENT_BUS_DRIVER", driver)
                    .with("EVENT_BUS_NATS_PREFIX", prefix.as_str())
                    .with("NATS_URL", nats_url());
                if env.get("EVENT_BUS_JETSTREAM_MAX_AGE_SECS").is_none() {
                    // A stream left by an interrupted run empties itself.
                    env = env.with("EVENT_BUS_JETSTREAM_MAX_AGE_SECS", "3600");
                }
            }
        }
        let setup = ToolSetup {
            env,
            probe: Probe::detached("event_bus"),
            registry: Registry::new(),
        };
        EventBus::setup(setup).await.expect("event bus setup")
    }
}

/// Deletes a test's JetStream stream on drop, on a thread of its own so it
/// works from any runtime and during a panic.
pub(crate) struct StreamCleanup(Option<String>);

impl Drop for StreamCleanup {
    fn drop(&mut self) {
        if let Some(stream) = self.0.take() {
            let delayed = format!("{stream}_DELAYED");
            delete_stream(stream);
            delete_stream(delayed);
        }
    }
}

#[cfg(feature = "nats")]
fn delete_stream(stream: String) {
    let _ = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the cleanup");
        runtime.block_on(async move {
            if let Ok(client) = async_nats::connect(nats_url()).await {
                let _ = async_nats::jetstream::new(client)
                    .delete_stream(&stream)
                    .await;
            }
        });
    })
    .join();
}

#[cfg(not(feature = "nats"))]
fn delete_stream(_: String) {}

/// A plugin identity for tests.
pub(crate) fn plugin(name: &str) -> PluginId {
    PluginId::new("tests", name)
}

/// A list shared between a handler and the test.
#[derive(Clone)]
pub(crate) struct Seen<T>(Arc<Mutex<Vec<T>>>);

impl<T> Default for Seen<T> {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(Vec::new())))
    }
}

impl<T: Clone> Seen<T> {
    pub(crate) fn push(&self, value: T) {
        self.0.lock().push(value);
    }
    pub(crate) fn get(&self) -> Vec<T> {
        self.0.lock().clone()
    }
    pub(crate) fn len(&self) -> usize {
        self.0.lock().len()
    }
}

/// Polls `done` every few milliseconds for up to `within`; true if it held.
pub(crate) async fn eventually(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if done() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The trace records of `kind` for `event`.
pub(crate) fn nodes(bus: &EventBus, kind: TraceKind, event: &str) -> Vec<TraceNode> {
    bus.trace_history()
        .into_iter()
        .filter(|n| n.kind == kind && n.envelope.event == event)
        .collect()
}

/// A plugin with no state, for handlers that capture what they need.
pub(crate) struct Nobody;

pub(crate) const WAIT: Duration = Duration::from_secs(3);
