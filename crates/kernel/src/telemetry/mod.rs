//! The telemetry vocabulary every tool shares: the spans the framework opens,
//! the W3C trace context that crosses process boundaries, and the OTel
//! metric instruments.
//!
//! Tools never depend on each other, so what one tool's span is to another
//! (an HTTP request's span is the parent of the db call's span and of the
//! event it publishes) travels through `tracing`'s current span and the
//! types here. The logger tool installs the subscriber and the exporters
//! (`OTEL_EXPORTER_OTLP_ENDPOINT`); with none installed, every span here is
//! disabled at its call site and every instrument is absent, so telemetry
//! costs a branch per call.

mod context;
mod metrics;
mod spans;

pub use context::TraceContext;
pub use metrics::{Instruments, install_metrics, metrics};
pub use spans::{SPAN_TARGET, scheduled_run_span};
