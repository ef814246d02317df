//! One trace from the client's `traceparent` to the subscriber's db call,
//! in process and over NATS; and the framework's metrics moving.

use opentelemetry::trace::SpanId;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::trace::SpanData;

use crate::plugins::{PlaceOrder, RefuseOrder, ShipOrder, ShipStored, StoreOrder, Sweep};
use crate::support::{self, TempDb, identity, random_hex, recorded};

/// The client's span, parent of the request's.
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_from_the_request_to_the_subscribers_db_call_in_process() {
    one_trace(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_from_the_request_to_the_subscribers_db_call_over_nats() {
    if !support::nats_up() {
        return;
    }
    let prefix = format!("otel{}.", random_hex(4));
    one_trace(&[
        ("EVENT_BUS_DRIVER", "nats"),
        ("EVENT_BUS_NATS_PREFIX", prefix.as_str()),
    ])
    .await;
}

async fn one_trace(settings: &[(&str, &str)]) {
    let recorded = recorded();
    let db = TempDb::new("otel");
    let url = db.url();
    let mut all = vec![("DATABASE_URL", url.as_str())];
    all.extend_from_slice(settings);
    let plugins = vec![identity::<PlaceOrder>(), identity::<ShipOrder>()];
    let (running, base) = support::serve(plugins, &all).await;

    let trace_id = random_hex(16);
    let res = reqwest::Client::new()
        .post(format!("{base}/otel/orders"))
        .header("traceparent", format!("00-{trace_id}-{CLIENT_SPAN}-01"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let returned = res
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .expect("the response carries traceparent")
        .to_owned();

    let named = |spans: &[SpanData], name: &str| -> Vec<SpanData> {
        spans.iter().filter(|s| s.name == name).cloned().collect()
    };
    // The subscriber's db call is the last span of the trace to end.
    let spans = support::eventually(|| {
        let spans = recorded.trace(&trace_id);
        let deliver = named(&spans, "deliver otel_test.order_placed");
        let done = deliver.iter().any(|d| {
            spans
                .iter()
                .any(|s| s.name == "db.query_one" && s.parent_span_id == d.span_context.span_id())
        });
        done.then_some(spans)
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "no delivery with its db call in trace {trace_id}: {:#?}",
            recorded
                .trace(&trace_id)
                .iter()
                .map(|s| (&s.name, s.parent_span_id))
                .collect::<Vec<_>>()
        )
    });
    support::stop(running).await;

    let one = |name: &str, parent: SpanId| -> SpanData {
        let found: Vec<SpanData> = named(&spans, name)
            .into_iter()
            .filter(|s| s.parent_span_id == parent)
            .collect();
        let tree: Vec<_> = (spans.iter())
            .map(|s| (&s.name, s.span_context.span_id(), s.parent_span_id))
            .collect();
        assert_eq!(found.len(), 1, "one `{name}` under {parent}: {tree:#?}");
        found.into_iter().next().unwrap()
    };
    let client = SpanId::from_hex(CLIENT_SPAN).unwrap();
    let request = one("POST /otel/orders", client);
    assert!(request.parent_span_is_remote);
    let request_id = request.span_context.span_id();
    assert_eq!(
        returned,
        format!("00-{trace_id}-{request_id}-01"),
        "the response's traceparent is the request's span"
    );
    one("db.query_one", request_id);
    let publish = one("event_bus.publish", request_id);
    let deliver = one(
        "deliver otel_test.order_placed",
        publish.span_context.span_id(),
    );
    let subscriber = deliver
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "subscriber")
        .map(|kv| kv.value.to_string())
        .unwrap_or_default();
    assert!(subscriber.contains("ShipOrder"), "{subscriber}");
    one("db.query_one", deliver.span_context.span_id());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stored_in_the_outbox_is_delivered_in_the_storing_requests_trace() {
    let recorded = recorded();
    let db = TempDb::new("otel");
    let url = db.url();
    let plugins = vec![
        identity::<StoreOrder>(),
        identity::<ShipStored>(),
        "system.OutboxRelay".to_owned(),
    ];
    let (running, base) = support::serve(plugins, &[("DATABASE_URL", url.as_str())]).await;
    let trace_id = random_hex(16);
    let res = reqwest::Client::new()
        .post(format!("{base}/otel/stored"))
        .header("traceparent", format!("00-{trace_id}-{CLIENT_SPAN}-01"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let spans = support::eventually(|| {
        let spans = recorded.trace(&trace_id);
        let delivered = spans
            .iter()
            .any(|s| s.name == "deliver otel_test.order_stored");
        let handled = spans.iter().any(|s| s.name == "db.query_one");
        (delivered && handled).then_some(spans)
    })
    .await;
    support::stop(running).await;
    let spans = spans.unwrap_or_else(|| {
        panic!(
            "the stored event's delivery is not in trace {trace_id}: {:?}",
            recorded
                .trace(&trace_id)
                .iter()
                .map(|s| &s.name)
                .collect::<Vec<_>>()
        )
    });
    let find = |name: &str| spans.iter().find(|s| s.name == name).unwrap();
    let stored = find("db.publish");
    let deliver = find("deliver otel_test.order_stored");
    assert_eq!(
        deliver.parent_span_id,
        stored.span_context.span_id(),
        "the delivery is a child of the outbox write, through the stored row"
    );
    assert_eq!(
        find("db.query_one").parent_span_id,
        deliver.span_context.span_id()
    );
}

#[tokio::test]
async fn an_invalid_traceparent_starts_a_new_trace_and_the_request_succeeds() {
    let _ = recorded();
    let db = TempDb::new("otel");
    let url = db.url();
    let (running, base) = support::serve(
        vec![identity::<PlaceOrder>()],
        &[("DATABASE_URL", url.as_str())],
    )
    .await;
    let res = reqwest::Client::new()
        .post(format!("{base}/otel/orders"))
        .header("traceparent", "00-not-a-trace-01")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let returned = res.headers().get("traceparent").unwrap().to_str().unwrap();
    let trace_id = returned.split('-').nth(1).unwrap();
    assert_eq!(trace_id.len(), 32, "{returned}");
    assert_ne!(trace_id, "0".repeat(32));
    support::stop(running).await;
}

/// The sum of counter `name`'s points whose attributes include every one of `with`.
fn counted(name: &str, with: &[(&str, &str)]) -> u64 {
    let recorded = recorded();
    recorded.meter.force_flush().unwrap();
    let exported = recorded.metrics.get_finished_metrics().unwrap();
    // Cumulative: the last export holds the totals.
    let Some(last) = exported.last() else {
        return 0;
    };
    let mut total = 0;
    for scope in last.scope_metrics() {
        for metric in scope.metrics().filter(|m| m.name() == name) {
            let matches = |attributes: Vec<(String, String)>| {
                with.iter()
                    .all(|(k, v)| attributes.iter().any(|(ak, av)| ak == k && av.contains(v)))
            };
            match metric.data() {
                AggregatedMetrics::U64(MetricData::Sum(sum)) => {
                    for point in sum.data_points() {
                        let attributes = point
                            .attributes()
                            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
                            .collect();
                        if matches(attributes) {
                            total += point.value();
                        }
                    }
                }
                AggregatedMetrics::F64(MetricData::Histogram(histogram)) => {
                    for point in histogram.data_points() {
                        let attributes = point
                            .attributes()
                            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
                            .collect();
                        if matches(attributes) {
                            total += point.count();
                        }
                    }
                }
                _ => {}
            }
        }
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_tool_calls_and_the_bus_are_counted() {
    let _ = recorded();
    let db = TempDb::new("otel");
    let url = db.url();
    let (running, base) = support::serve(
        vec![identity::<PlaceOrder>(), identity::<RefuseOrder>()],
        &[("DATABASE_URL", url.as_str())],
    )
    .await;
    let route = [("http.route", "/otel/orders")];
    let db_ok = [("tool", "db"), ("method", "query_one"), ("outcome", "ok")];
    let published = [("event", "otel_test.order_placed")];
    let before = (
        counted("http.server.requests", &route),
        counted("http.server.request.duration", &route),
        counted("microcore.tool.calls", &db_ok),
        counted("microcore.tool.duration", &db_ok),
        counted("microcore.bus.published", &published),
    );

    let res = reqwest::Client::new()
        .post(format!("{base}/otel/orders"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());

    let refused = [("subscriber", "RefuseOrder")];
    let dead = support::eventually(|| {
        (counted("microcore.bus.dead_lettered", &refused) >= 1).then_some(())
    })
    .await;
    assert!(
        dead.is_some(),
        "the refused event is dead-lettered and counted"
    );
    support::stop(running).await;

    assert!(counted("http.server.requests", &route) > before.0);
    assert!(counted("http.server.request.duration", &route) > before.1);
    assert!(counted("microcore.tool.calls", &db_ok) > before.2);
    assert!(counted("microcore.tool.duration", &db_ok) > before.3);
    assert!(counted("microcore.bus.published", &published) > before.4);
    assert_eq!(counted("microcore.bus.retried", &refused), 1, "one retry");
    assert_eq!(
        counted(
            "microcore.bus.delivered",
            &[("subscriber", "RefuseOrder"), ("outcome", "failed")]
        ),
        1
    );
}

#[tokio::test]
async fn a_scheduled_run_is_a_trace_of_its_own_holding_the_jobs_tool_calls() {
    let recorded = recorded();
    let db = TempDb::new("otel");
    let url = db.url();
    let settings = [
        ("DATABASE_URL", url.as_str()),
        ("SCHEDULER_DATABASE_URL", "memory"),
    ];
    let (running, _) = support::serve(vec![identity::<Sweep>()], &settings).await;
    let found = support::eventually(|| {
        let all = recorded.spans.get_finished_spans().unwrap_or_default();
        let run = all.iter().find(|s| s.name == "run otel_test.sweep")?;
        let trace = run.span_context.trace_id();
        all.iter()
            .any(|s| s.name == "db.query_one" && s.span_context.trace_id() == trace)
            .then(|| run.clone())
    })
    .await;
    support::stop(running).await;
    let run = found.expect("a `run otel_test.sweep` span whose trace holds the job's db call");
    assert_eq!(
        run.parent_span_id,
        SpanId::INVALID,
        "each run starts its own trace"
    );
}
