//! Export over OTLP/HTTP to a collector stand-in the test runs on loopback:
//! the request's span arrives, protobuf-encoded, under the service's name.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Uri};
use microcore::Env;
use microcore::tools::logger::{Telemetry, subscriber};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;

use crate::plugins::{PlaceOrder, ShipOrder};
use crate::support::{self, TempDb, identity, random_hex};

/// One request the collector stand-in received: path, content type, body.
type Received = Arc<Mutex<Vec<(String, String, Bytes)>>>;

/// Answers every POST with 200 and keeps what it got.
async fn collector() -> (String, Received) {
    let received: Received = Arc::default();
    let keep = received.clone();
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let keep = keep.clone();
        async move {
            let content_type = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            keep.lock()
                .unwrap()
                .push((uri.path().to_owned(), content_type, body));
            ""
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

// One thread: the subscriber below is this thread's default, and the
// app's tasks all run here. Nothing may panic before the flush: a tracer
// provider dropped unflushed on this thread shuts down in its drop, blocking
// the thread its export task needs (the test would hang, not fail), so the
// answer is checked after `telemetry.shutdown`.
#[tokio::test(flavor = "current_thread")]
async fn the_request_span_is_exported_over_otlp_http_at_shutdown() {
    let (endpoint, received) = collector().await;
    let env = Env::from_pairs([
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_SERVICE_NAME", "otel-e2e-test"),
        ("OTEL_METRICS_EXPORTER", "none"),
        ("RUST_LOG", "warn"),
    ]);
    let (telemetry, warnings) = Telemetry::from_env(&env);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(telemetry.is_on());
    let (subscriber, _) = subscriber(&env, &telemetry);
    let _default = tracing::subscriber::set_default(subscriber);

    let db = TempDb::new("otel");
    let url = db.url();
    let (running, base) = support::serve(
        vec![identity::<PlaceOrder>(), identity::<ShipOrder>()],
        &[("DATABASE_URL", url.as_str())],
    )
    .await;
    let trace_id = random_hex(16);
    let answered = reqwest::Client::new()
        .post(format!("{base}/otel/orders"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .map(|res| res.status());
    support::stop(running).await;
    let failures = telemetry.shutdown(Duration::from_secs(5)).await;
    let status = answered.expect("the app answered");
    assert!(status.is_success(), "{status}");
    assert!(failures.is_empty(), "{failures:?}");

    let received = received.lock().unwrap().clone();
    assert!(!received.is_empty(), "the flush at shutdown sent the spans");
    let mut services = Vec::new();
    let mut spans = Vec::new();
    for (path, content_type, body) in &received {
        assert_eq!(path, "/v1/traces");
        assert_eq!(content_type, "application/x-protobuf");
        let export = ExportTraceServiceRequest::decode(body.as_ref()).expect("OTLP protobuf");
        for resource_spans in export.resource_spans {
            let resource = resource_spans.resource.unwrap_or_default();
            for kv in resource.attributes {
                if kv.key == "service.name"
                    && let Some(Value::StringValue(name)) = kv.value.and_then(|v| v.value)
                {
                    services.push(name);
                }
            }
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    spans.push((hex(&span.trace_id), span.name));
                }
            }
        }
    }
    assert!(
        services.iter().all(|s| s == "otel-e2e-test"),
        "{services:?}"
    );
    assert!(!services.is_empty());
    for name in [
        "POST /otel/orders",
        "db.query_one",
        "deliver otel_test.order_placed",
    ] {
        assert!(
            spans.contains(&(trace_id.clone(), name.to_owned())),
            "`{name}` in trace {trace_id}: {spans:?}"
        );
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
