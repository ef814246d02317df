use std::io::IsTerminal;

use microcore_kernel::Env;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::telemetry::Telemetry;

/// Installs the process-wide `tracing` subscriber and, when an OTLP
/// endpoint is set, the OpenTelemetry exporters: the app calls it once at
/// startup, inside its tokio runtime; a second call (tests, a CLI
/// subcommand) changes nothing and returns [`Telemetry::off`].
///
/// `RUST_LOG` (from `env`, default `info`) filters the log lines;
/// `LOG_FORMAT=json` writes one JSON object per line for log shippers,
/// anything else human-readable lines, coloured only when stdout is a
/// terminal. A bad `RUST_LOG`, `LOG_FORMAT` or `OTEL_*` value falls back to
/// the default and says so. Keep the returned [`Telemetry`] and call
/// [`Telemetry::shutdown`] after the kernel's shutdown.
pub fn init(env: &Env) -> Telemetry {
    // Checked first: exporters built for nothing would be dropped here, and
    // dropping one waits for its export task on this very runtime.
    if tracing::dispatcher::has_been_set() {
        return Telemetry::off();
    }
    let (telemetry, otel_warnings) = Telemetry::from_env(env);
    let (subscriber, warnings) = subscriber(env, &telemetry);
    if subscriber.try_init().is_err() {
        return Telemetry::off();
    }
    for warning in warnings.into_iter().chain(otel_warnings) {
        tracing::warn!("{warning}");
    }
    if telemetry.is_on() {
        tracing::info!("OpenTelemetry: exporting over OTLP (see docs/operating.md)");
    }
    telemetry
}

/// The subscriber [`init`] installs: log lines filtered by `RUST_LOG`, plus
/// `telemetry`'s layer when it exports spans. Tests install it themselves
/// (`tracing::subscriber::set_default`). Also returns what was wrong with
/// `RUST_LOG` or `LOG_FORMAT`.
pub fn subscriber(
    env: &Env,
    telemetry: &Telemetry,
) -> (
    impl tracing::Subscriber + Send + Sync + 'static,
    Vec<String>,
) {
    let mut warnings = Vec::new();
    let directives = env.get_or("RUST_LOG", "info");
    let filter = EnvFilter::try_new(directives).unwrap_or_else(|e| {
        warnings.push(format!(
            "RUST_LOG={directives:?} is not a valid filter ({e}); logging at info. \
             Example: RUST_LOG=info,plugin=debug"
        ));
        EnvFilter::new("info")
    });
    let format = env
        .get_or("LOG_FORMAT", "human")
        .trim()
        .to_ascii_lowercase();
    if !matches!(format.as_str(), "json" | "human") {
        warnings.push(format!(
            "LOG_FORMAT={format:?} is not known; writing human-readable lines. Use LOG_FORMAT=json for JSON lines"
        ));
    }
    let lines = if format == "json" {
        tracing_subscriber::fmt::layer().json().boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stdout().is_terminal())
            .boxed()
    };
    // Per-layer filters: RUST_LOG decides what is printed, not what is
    // traced, and with no OTel layer the framework's DEBUG spans are
    // disabled at their call sites.
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> =
        vec![lines.with_filter(filter).boxed()];
    layers.extend(telemetry.layer());
    (tracing_subscriber::registry().with(layers), warnings)
}
