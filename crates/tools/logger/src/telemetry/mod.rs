//! OpenTelemetry: off by default; an OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`)
//! turns on export of the framework's spans and metrics over OTLP
//! HTTP/protobuf, through the `opentelemetry` SDK and `tracing-opentelemetry`.
//!
//! The spans and instruments themselves are the kernel's vocabulary
//! (`microcore_kernel::SPAN_TARGET`, `microcore_kernel::metrics`); this
//! module only installs the providers that record and export them, and
//! flushes them at the very end of shutdown.

mod settings;

use std::time::Duration;

use microcore_kernel::{Env, SPAN_TARGET};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{ExporterBuildError, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::metrics::periodic_reader_with_async_runtime::PeriodicReader;
use opentelemetry_sdk::runtime::Tokio;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use tracing::Level;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::registry::LookupSpan;

pub use settings::{DEFAULT_SERVICE_NAME, OtelSettings};

/// The instrumentation scope of the framework's spans and metrics.
pub const SCOPE: &str = "microcore";

/// The installed OpenTelemetry providers, or none (the default). Keep it
/// for the life of the app and call [`Telemetry::shutdown`] last.
#[derive(Debug, Default)]
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
}

impl Telemetry {
    /// No export: spans stay disabled, instruments absent.
    pub fn off() -> Self {
        Self::default()
    }

    /// The OTLP exporters `env` asks for (see [`OtelSettings`]), with the
    /// warnings about values it could not use. Must run inside a tokio
    /// runtime: the exporters send from tasks on it.
    pub fn from_env(env: &Env) -> (Self, Vec<String>) {
        let (settings, mut warnings) = OtelSettings::from_env(env);
        let Some(settings) = settings else {
            return (Self::off(), warnings);
        };
        let resource = Resource::builder_empty()
            .with_service_name(settings.service_name.clone())
            .with_attributes(settings.resource.clone())
            .build();
        let spans = opentelemetry_otlp::SpanExporter::builder().with_http();
        let tracer = exporter(&TRACES, &settings, spans, |b| b.build(), &mut warnings);
        let tracer = tracer.map(|exporter| {
            SdkTracerProvider::builder()
                .with_span_processor(BatchSpanProcessor::builder(exporter, Tokio).build())
                .with_sampler(settings.sampler.clone())
                .with_resource(resource.clone())
                .build()
        });
        let metrics = opentelemetry_otlp::MetricExporter::builder().with_http();
        let meter = exporter(&METRICS, &settings, metrics, |b| b.build(), &mut warnings);
        let meter = meter.map(|exporter| {
            let reader = PeriodicReader::builder(exporter, Tokio)
                .with_interval(settings.metric_interval)
                .build();
            SdkMeterProvider::builder()
                .with_reader(reader)
                .with_resource(resource.clone())
                .build()
        });
        (Self::from_providers(tracer, meter), warnings)
    }

    /// Telemetry recording into providers the caller built (tests: the SDK's
    /// in-memory exporters). The first meter provider of the process
    /// creates the framework's instruments; later ones are not fed.
    pub fn from_providers(
        tracer: Option<SdkTracerProvider>,
        meter: Option<SdkMeterProvider>,
    ) -> Self {
        if let Some(meter) = &meter {
            microcore_kernel::install_metrics(&opentelemetry::metrics::MeterProvider::meter(
                meter, SCOPE,
            ));
        }
        Self { tracer, meter }
    }

    /// True when spans or metrics are exported.
    pub fn is_on(&self) -> bool {
        self.tracer.is_some() || self.meter.is_some()
    }

    /// The `tracing` layer that turns spans into OTel spans, when traces are
    /// exported: the framework's spans (target `microcore`, DEBUG and up) and
    /// everything else at INFO and up (events become span events).
    pub fn layer<S>(&self) -> Option<Box<dyn Layer<S> + Send + Sync>>
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let tracer = self.tracer.as_ref()?.tracer(SCOPE);
        let filter = Targets::new()
            .with_target(SPAN_TARGET, Level::DEBUG)
            .with_default(Level::INFO);
        Some(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(filter)
                .boxed(),
        )
    }

    /// Exports what is still buffered and stops the exporters, within
    /// `within`: the app calls it after the kernel's shutdown, so the spans
    /// of the shutdown itself are sent too. Returns what failed.
    pub async fn shutdown(self, within: Duration) -> Vec<String> {
        if !self.is_on() {
            return Vec::new();
        }
        // The SDK's shutdown blocks until its export task, which runs on
        // this runtime, answers: block a pool thread, never a worker.
        let stop = tokio::task::spawn_blocking(move || {
            let mut failures = Vec::new();
            if let Some(tracer) = self.tracer
                && let Err(e) = tracer.shutdown_with_timeout(within)
            {
                failures.push(format!("exporting the last spans failed: {e}"));
            }
            if let Some(meter) = self.meter
                && let Err(e) = meter.shutdown_with_timeout(within)
            {
                failures.push(format!("exporting the last metrics failed: {e}"));
            }
            failures
        });
        match tokio::time::timeout(within + Duration::from_millis(500), stop).await {
            Ok(Ok(failures)) => failures,
            Ok(Err(e)) => vec![format!("flushing telemetry panicked: {e}")],
            Err(_) => vec![format!(
                "flushing telemetry took longer than {within:?}; abandoned"
            )],
        }
    }
}

/// One exported signal, as its settings and warnings name it.
struct Signal {
    /// The infix of its own endpoint variable: `OTEL_EXPORTER_OTLP_<infix>_ENDPOINT`.
    infix: &'static str,
    /// What it exports, in a sentence.
    items: &'static str,
    /// Where the settings say to export it.
    endpoint: fn(&OtelSettings) -> Option<&str>,
}

const TRACES: Signal = Signal {
    infix: "TRACES",
    items: "spans",
    endpoint: |settings| settings.traces_endpoint.as_deref(),
};

const METRICS: Signal = Signal {
    infix: "METRICS",
    items: "metrics",
    endpoint: |settings| settings.metrics_endpoint.as_deref(),
};

/// The OTLP exporter of one signal when the settings give it an endpoint,
/// configured as every signal's is (the endpoint, the export timeout and
/// headers of `settings`) and built by `build`. One that cannot be built
/// there leaves the signal off, with a warning that names the variables
/// and the expected form.
fn exporter<B, X>(
    signal: &Signal,
    settings: &OtelSettings,
    builder: B,
    build: impl FnOnce(B) -> Result<X, ExporterBuildError>,
    warnings: &mut Vec<String>,
) -> Option<X>
where
    B: WithExportConfig + WithHttpConfig,
{
    let endpoint = (signal.endpoint)(settings)?;
    let builder = builder
        .with_endpoint(endpoint)
        .with_timeout(settings.timeout)
        .with_headers(settings.headers.clone());
    match build(builder) {
        Ok(exporter) => Some(exporter),
        Err(e) => {
            let Signal { infix, items, .. } = signal;
            warnings.push(format!(
                "OTEL_EXPORTER_OTLP_({infix}_)ENDPOINT={endpoint:?}: cannot export {items} there \
                 ({e}); give a URL such as http://collector:4318"
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_no_exporter_accepts_leaves_its_signal_off_naming_its_variable() {
        let env = Env::from_pairs([
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "not a url"),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://[::1"),
        ]);
        let (telemetry, warnings) = Telemetry::from_env(&env);
        assert!(!telemetry.is_on());
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        let expected = [
            ("TRACES", "not a url", "spans"),
            ("METRICS", "http://[::1", "metrics"),
        ];
        for (warning, (infix, endpoint, items)) in warnings.iter().zip(expected) {
            let variable = format!("OTEL_EXPORTER_OTLP_({infix}_)ENDPOINT={endpoint:?}");
            let said = format!("cannot export {items} there");
            assert!(
                warning.starts_with(&variable) && warning.contains(&said),
                "{warning}"
            );
        }
    }
}
