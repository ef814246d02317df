//! A request's span and metrics: the `http.request` span, child of the
//! client's W3C `traceparent` when it sends one, whose context is returned
//! in the response's `traceparent`; and the `http.server.*` instruments.
//!
//! With OpenTelemetry off the span is disabled at its call site and no
//! instrument exists: no header is read or written, nothing is allocated.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use http::{HeaderName, HeaderValue, Method};
use microcore_kernel::{Instruments, SPAN_TARGET, TraceContext, metrics};
use opentelemetry::KeyValue;
use tracing::Span;
use tracing::field::Empty;

const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// One request's span and metric clock.
pub(crate) struct RequestTelemetry {
    pub(crate) span: Span,
    metered: Option<(&'static Instruments, Instant, Option<MatchedPath>)>,
}

impl RequestTelemetry {
    /// Opens the request's span, parented on the client's `traceparent` (a
    /// malformed one is ignored: a new trace starts). The layers run after
    /// routing, so the route template (`/users/{id}`) is known here: the
    /// span is named before it starts, which is when OTel fixes its name.
    pub(crate) fn start(req: &Request) -> Self {
        let span = tracing::debug_span!(
            target: SPAN_TARGET,
            "http.request",
            otel.name = Empty,
            otel.kind = "server",
            otel.status_code = Empty,
            http.request.method = req.method().as_str(),
            url.path = Empty,
            http.route = Empty,
            http.response.status_code = Empty,
        );
        let route = || req.extensions().get::<MatchedPath>();
        let metered = metrics().map(|m| (m, Instant::now(), route().cloned()));
        if !span.is_disabled() {
            match route() {
                Some(route) => {
                    span.record("otel.name", format!("{} {}", req.method(), route.as_str()));
                    span.record("http.route", route.as_str());
                }
                None => {
                    span.record("otel.name", req.method().as_str());
                }
            }
            span.record("url.path", req.uri().path());
            let header = |name: &HeaderName| {
                req.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            if let Some(traceparent) = header(&TRACEPARENT) {
                TraceContext {
                    traceparent,
                    tracestate: header(&TRACESTATE),
                }
                .adopt(&span);
            }
        }
        Self { span, metered }
    }

    /// Records the outcome, returns the span's `traceparent` and counts the request.
    pub(crate) fn finish(self, method: &Method, res: &mut Response) {
        let status = res.status().as_u16();
        if !self.span.is_disabled() {
            self.span.record("http.response.status_code", status);
            if status >= 500 {
                self.span.record("otel.status_code", "ERROR");
            }
            if let Some(cx) = TraceContext::of(&self.span) {
                let headers = res.headers_mut();
                if let Ok(v) = HeaderValue::from_str(&cx.traceparent) {
                    headers.insert(TRACEPARENT, v);
                }
                if let Some(v) = cx.tracestate.and_then(|s| HeaderValue::from_str(&s).ok()) {
                    headers.insert(TRACESTATE, v);
                }
            }
        }
        if let Some((m, started, route)) = self.metered {
            let mut attributes = vec![
                KeyValue::new("http.request.method", method.as_str().to_owned()),
                KeyValue::new("http.response.status_code", i64::from(status)),
            ];
            if let Some(route) = route {
                attributes.push(KeyValue::new("http.route", route.as_str().to_owned()));
            }
            m.http_requests.add(1, &attributes);
            m.http_duration
                .record(started.elapsed().as_secs_f64(), &attributes);
        }
    }
}
