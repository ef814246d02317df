//! The OTel metric instruments of the framework, created once when the
//! logger tool installs a meter provider and absent otherwise, so a request
//! with OpenTelemetry off pays one atomic load per instrument site.
//!
//! | instrument | kind | unit | attributes |
//! |---|---|---|---|
//! | `http.server.requests` | counter | `{request}` | `http.request.method`, `http.route`, `http.response.status_code` |
//! | `http.server.request.duration` | histogram | `s` | same |
//! | `microcore.tool.calls` | counter | `{call}` | `tool`, `method`, `outcome` (`ok`, `error`, `caller_error`) |
//! | `microcore.tool.duration` | histogram | `s` | same |
//! | `microcore.bus.published` | counter | `{event}` | `event` |
//! | `microcore.bus.delivered` | counter | `{delivery}` | `event`, `subscriber`, `outcome` (`ok`, `failed`) |
//! | `microcore.bus.retried` | counter | `{retry}` | `event`, `subscriber` |
//! | `microcore.bus.dead_lettered` | counter | `{event}` | `event`, `subscriber` |

use std::sync::OnceLock;

use opentelemetry::metrics::{Counter, Histogram, Meter};

/// The framework's instruments; read them through [`metrics`].
#[derive(Debug)]
pub struct Instruments {
    /// HTTP requests answered.
    pub http_requests: Counter<u64>,
    /// HTTP request duration in seconds.
    pub http_duration: Histogram<f64>,
    /// Tool calls, by outcome.
    pub tool_calls: Counter<u64>,
    /// Tool call duration in seconds.
    pub tool_duration: Histogram<f64>,
    /// Events handed to the transport.
    pub bus_published: Counter<u64>,
    /// Deliveries finished (after all their attempts), by outcome.
    pub bus_delivered: Counter<u64>,
    /// Failed attempts that are retried.
    pub bus_retried: Counter<u64>,
    /// Events dead-lettered after their last attempt.
    pub bus_dead_lettered: Counter<u64>,
}

static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();

/// The instruments, when a meter provider was installed.
pub fn metrics() -> Option<&'static Instruments> {
    INSTRUMENTS.get()
}

/// Creates the instruments on `meter`, once per process: the logger tool
/// calls it when it installs the OTLP meter provider. False when they
/// already existed (the first meter keeps them).
pub fn install_metrics(meter: &Meter) -> bool {
    let mut installed = false;
    INSTRUMENTS.get_or_init(|| {
        installed = true;
        Instruments::new(meter)
    });
    installed
}

impl Instruments {
    fn new(meter: &Meter) -> Self {
        let counter = |name: &'static str, unit: &'static str, what: &'static str| {
            meter
                .u64_counter(name)
                .with_unit(unit)
                .with_description(what)
                .build()
        };
        let seconds = |name: &'static str, what: &'static str| {
            meter
                .f64_histogram(name)
                .with_unit("s")
                .with_description(what)
                .build()
        };
        Self {
            http_requests: counter(
                "http.server.requests",
                "{request}",
                "HTTP requests answered",
            ),
            http_duration: seconds("http.server.request.duration", "HTTP request duration"),
            tool_calls: counter("microcore.tool.calls", "{call}", "Tool calls, by outcome"),
            tool_duration: seconds("microcore.tool.duration", "Tool call duration"),
            bus_published: counter(
                "microcore.bus.published",
                "{event}",
                "Events handed to the transport",
            ),
            bus_delivered: counter(
                "microcore.bus.delivered",
                "{delivery}",
                "Deliveries finished after all their attempts, by outcome",
            ),
            bus_retried: counter(
                "microcore.bus.retried",
                "{retry}",
                "Failed delivery attempts that are retried",
            ),
            bus_dead_lettered: counter(
                "microcore.bus.dead_lettered",
                "{event}",
                "Events dead-lettered after their last attempt",
            ),
        }
    }
}
