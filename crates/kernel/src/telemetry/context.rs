//! The W3C trace context (`traceparent`, `tracestate`) that links a span in
//! one process to its parent in another: read from an HTTP request,
//! returned on its response, carried in every event envelope.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use serde::{Deserialize, Serialize};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// A span's W3C trace context, as carried between processes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceContext {
    /// `00-<trace id>-<span id>-<flags>`.
    pub traceparent: String,
    /// Vendor-specific state, passed along untouched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracestate: Option<String>,
}

impl TraceContext {
    /// The context to hand to the next hop of `span`: `None` when the span
    /// is not recorded (OpenTelemetry off) or has no valid context.
    pub fn of(span: &Span) -> Option<Self> {
        if span.is_disabled() {
            return None;
        }
        let cx = span.context();
        if !cx.span().span_context().is_valid() {
            return None;
        }
        let mut carrier = Carrier::default();
        propagator().inject_context(&cx, &mut carrier);
        Some(Self {
            traceparent: carrier.traceparent?,
            tracestate: carrier.tracestate,
        })
    }

    /// The trace id (32 hex digits) of a well-formed `traceparent`.
    pub fn trace_id(&self) -> Option<&str> {
        let id = self.traceparent.split('-').nth(1)?;
        (id.len() == 32).then_some(id)
    }

    /// Makes `span` a child of this remote context. A malformed or invalid
    /// `traceparent` is ignored: the span starts a new trace, the request or
    /// delivery goes on. Call it before the span is first entered.
    pub fn adopt(&self, span: &Span) {
        if span.is_disabled() {
            return;
        }
        let cx = propagator().extract(self);
        if cx.span().span_context().is_valid() {
            // Fails only when the span already started or no OTel layer
            // records it: then there is no parent to set.
            let _ = span.set_parent(cx);
        }
    }
}

/// The W3C propagator, always: not the process-global one, which is a
/// no-op until someone sets it and could differ between tests.
fn propagator() -> TraceContextPropagator {
    TraceContextPropagator::new()
}

impl Extractor for TraceContext {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" => Some(&self.traceparent),
            "tracestate" => self.tracestate.as_deref(),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}

#[derive(Default)]
struct Carrier {
    traceparent: Option<String>,
    tracestate: Option<String>,
}

impl Injector for Carrier {
    fn set(&mut self, key: &str, value: String) {
        match key {
            "traceparent" => self.traceparent = Some(value),
            "tracestate" if !value.is_empty() => self.tracestate = Some(value),
            _ => {}
        }
    }
}
