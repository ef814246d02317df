//! The recording telemetry every test of this binary shares, and booting
//! the test features on real tools (SQLite file, HTTP on loopback).

use std::sync::OnceLock;
use std::time::Duration;

use microcore::tools::logger::{Telemetry, subscriber};
use microcore::{Env, Running};
use microcore_app::Tools;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};

#[path = "../common/app.rs"]
mod app;

pub(crate) use app::{TempDb, stop};

/// What the process-wide subscriber records into.
pub struct Recorded {
    pub spans: InMemorySpanExporter,
    pub metrics: InMemoryMetricExporter,
    pub meter: SdkMeterProvider,
    _telemetry: Telemetry,
}

/// Installs (once) the process-wide subscriber recording every span and
/// metric in memory, and returns what it records into.
pub fn recorded() -> &'static Recorded {
    static RECORDED: OnceLock<Recorded> = OnceLock::new();
    RECORDED.get_or_init(|| {
        let spans = InMemorySpanExporter::default();
        let metrics = InMemoryMetricExporter::default();
        let tracer = SdkTracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .build();
        let meter = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(metrics.clone()).build())
            .build();
        let telemetry = Telemetry::from_providers(Some(tracer), Some(meter.clone()));
        let env = Env::from_pairs([("RUST_LOG", "warn")]);
        let (subscriber, _) = subscriber(&env, &telemetry);
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other test of this binary installs a global subscriber");
        Recorded {
            spans,
            metrics,
            meter,
            _telemetry: telemetry,
        }
    })
}

impl Recorded {
    /// The finished spans of trace `trace_id` (32 hex digits).
    pub fn trace(&self, trace_id: &str) -> Vec<SpanData> {
        self.spans
            .get_finished_spans()
            .unwrap_or_default()
            .into_iter()
            .filter(|s| s.span_context.trace_id().to_string() == trace_id)
            .collect()
    }
}

/// `n` random bytes as hex.
pub fn random_hex(n: usize) -> String {
    let bytes = uuid::Uuid::new_v4().as_u128().to_be_bytes();
    bytes[..n].iter().map(|b| format!("{b:02x}")).collect()
}

/// The registered identity of plugin type `P`.
pub fn identity<P>() -> String {
    let full = std::any::type_name::<P>();
    microcore_kernel::registered_plugins::<Tools>()
        .into_iter()
        .find(|d| format!("{}::{}", d.module_path, d.type_name) == full)
        .map(|d| d.id().name.to_string())
        .expect("the test plugin is registered")
}

/// Boots `plugins` for real with `settings`; returns the app and its base URL.
pub async fn serve(plugins: Vec<String>, settings: &[(&str, &str)]) -> (Running<Tools>, String) {
    // No users.Sessions here to install the shared one.
    let mut all = vec![("AUTH_REVOCATION_LIST", "memory")];
    all.extend_from_slice(settings);
    app::serve_app(Some(plugins), &all).await
}

/// Polls `check` every 20 ms for up to 10 s.
pub async fn eventually<T>(mut check: impl FnMut() -> Option<T>) -> Option<T> {
    for _ in 0..500 {
        if let Some(found) = check() {
            return Some(found);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// True when NATS answers on 127.0.0.1:4222; under `CI=true` its absence fails.
pub fn nats_up() -> bool {
    if std::net::TcpStream::connect(("127.0.0.1", 4222)).is_ok() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("NATS is required under CI=true (127.0.0.1:4222); run bash .ci/services.sh");
    }
    eprintln!("skipping: NATS is not running on 127.0.0.1:4222 (bash .ci/services.sh starts it)");
    false
}
