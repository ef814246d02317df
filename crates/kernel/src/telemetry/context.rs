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

#[cfg(test)]
mod tests {
    use super::*;

    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt;

    use crate::telemetry::{SPAN_TARGET, scheduled_run_span};

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    /// Runs `f` with an OTel layer recording every span (no exporter).
    fn traced<R>(f: impl FnOnce() -> R) -> R {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, f)
    }

    fn span() -> Span {
        tracing::debug_span!(target: SPAN_TARGET, "test.span")
    }

    #[test]
    fn a_span_nobody_records_has_no_context_to_hand_on() {
        assert_eq!(TraceContext::of(&span()), None);
        // and adopting a parent is a no-op rather than an error
        TraceContext {
            traceparent: PARENT.into(),
            tracestate: None,
        }
        .adopt(&span());
    }

    #[test]
    fn an_adopted_parent_gives_its_trace_and_state_to_the_child() {
        let parent = TraceContext {
            traceparent: PARENT.into(),
            tracestate: Some("vendor=x".into()),
        };
        let child = traced(|| {
            let span = span();
            parent.adopt(&span);
            TraceContext::of(&span)
        })
        .expect("a recorded span has a context");
        assert_eq!(child.trace_id(), parent.trace_id());
        assert_ne!(child.traceparent, parent.traceparent, "a span of its own");
        assert_eq!(child.tracestate.as_deref(), Some("vendor=x"));
    }

    #[test]
    fn a_malformed_traceparent_is_ignored_and_a_new_trace_starts() {
        for bad in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        ] {
            let child = traced(|| {
                let span = span();
                TraceContext {
                    traceparent: bad.into(),
                    tracestate: None,
                }
                .adopt(&span);
                TraceContext::of(&span)
            })
            .expect("the span still records");
            let id = child.trace_id().expect("a well-formed traceparent");
            assert_ne!(id, "0".repeat(32), "{bad:?}");
            assert_ne!(
                Some(id),
                TraceContext {
                    traceparent: PARENT.into(),
                    tracestate: None
                }
                .trace_id()
            );
        }
    }

    #[test]
    fn a_scheduled_run_starts_its_own_trace_even_inside_another_span() {
        let (outer, run) = traced(|| {
            let outer = span();
            let _entered = outer.enter();
            let run = scheduled_run_span("nightly");
            (TraceContext::of(&outer), TraceContext::of(&run))
        });
        let (outer, run) = (outer.unwrap(), run.unwrap());
        assert_ne!(outer.trace_id(), run.trace_id());
    }
}
