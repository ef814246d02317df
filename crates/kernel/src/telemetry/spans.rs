//! The framework's span convention.
//!
//! Every span the framework opens has target [`SPAN_TARGET`] and level
//! DEBUG: the log output (`RUST_LOG=info`) leaves them out, so with
//! OpenTelemetry off they are disabled at their call site; the OTel layer
//! listens to them. Names, `otel.name` and attributes:
//!
//! | span | `otel.name` | attributes |
//! |---|---|---|
//! | `http.request` | `GET /users/{id}` | `http.request.method`, `url.path`, `http.route`, `http.response.status_code` |
//! | `tool.call` | `db.query` | `tool`, `method`, `outcome` |
//! | `event.publish` | `publish user.created` | `messaging.destination.name`, `messaging.message.id` |
//! | `event.deliver` | `deliver user.created` | `messaging.destination.name`, `messaging.message.id`, `subscriber` |
//! | `scheduled.run` | `run <job>` | `job` |

use tracing::Span;

/// The `tracing` target of every span the framework opens.
pub const SPAN_TARGET: &str = "microcore";

/// The span of one run of a scheduled job: a root span (a new trace per
/// run, not a child of whatever scheduled it), named `run <job>` with a
/// `job` attribute. A scheduler runs the job's future inside it
/// (`job.instrument(scheduled_run_span("nightly_cleanup"))`), so the tool
/// calls and events of that run are one trace.
pub fn scheduled_run_span(job: &str) -> Span {
    let span = tracing::debug_span!(
        target: SPAN_TARGET,
        parent: None,
        "scheduled.run",
        otel.name = tracing::field::Empty,
        otel.kind = "internal",
        job,
    );
    if !span.is_disabled() {
        span.record("otel.name", format!("run {job}"));
    }
    span
}
