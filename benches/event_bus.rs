//! One event published and delivered to one subscriber through the
//! in-process `EventBus`, against a tokio mpsc hand-off of the same payload
//! serialised the same way (to a `serde_json::Value` and back).
//!
//! Each iteration waits until the subscriber has run, so both sides measure
//! publish-to-handled latency, not just the enqueue.
//!
//! `cargo bench --bench event_bus -- --warm-up-time 1 --measurement-time 3`

mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::time::SystemTime;

use criterion::Criterion;
use microcore::prelude::*;
use tokio::sync::{Notify, mpsc};

use support::Pair;

/// The payload: small, like most domain events.
#[event("bench.ticked")]
pub struct Ticked {
    /// Sequence number.
    pub seq: u64,
    /// A short text field.
    pub source: String,
}

fn tick() -> Ticked {
    Ticked {
        seq: 42,
        source: "bench".to_owned(),
    }
}

/// The subscriber: signals that it ran.
struct Sink {
    handled: Arc<Notify>,
}

impl Sink {
    async fn on_ticked(self: Arc<Self>, event: Envelope<Ticked>) -> HandlerResult {
        black_box(event.payload.seq);
        self.handled.notify_one();
        Ok(())
    }
}

/// The baseline: a task that decodes each payload and signals, like the sink.
fn bare_channel(handled: Arc<Notify>) -> mpsc::UnboundedSender<serde_json::Value> {
    let (tx, mut rx) = mpsc::unbounded_channel::<serde_json::Value>();
    tokio::spawn(async move {
        while let Some(value) = rx.recv().await {
            let event: Ticked = serde_json::from_value(value).expect("the payload decodes");
            black_box(event.seq);
            handled.notify_one();
        }
    });
    tx
}

fn main() {
    let started = SystemTime::now();
    let mut c: Criterion = support::criterion();
    let rt = support::runtime();

    let running = rt.block_on(support::boot_app(&[]));
    let bus: EventBus = support::tool(&running);
    let bus_handled = Arc::new(Notify::new());
    let sink = Arc::new(Sink {
        handled: bus_handled.clone(),
    });
    rt.block_on(bus.subscribe(&sink, Sink::on_ticked))
        .expect("benchmark setup: subscribe to bench.ticked");

    let bare_handled = Arc::new(Notify::new());
    let tx = rt.block_on(async { bare_channel(bare_handled.clone()) });

    let mut group = c.benchmark_group("event_publish_deliver");
    group.bench_function("microcore", |b| {
        b.to_async(&rt).iter(|| async {
            bus.publish(tick()).await.expect("publish bench.ticked");
            bus_handled.notified().await;
        })
    });
    group.bench_function("mpsc_baseline", |b| {
        b.to_async(&rt).iter(|| async {
            let value = serde_json::to_value(tick()).expect("the payload encodes");
            tx.send(value).expect("the receiver task is alive");
            bare_handled.notified().await;
        })
    });
    group.finish();

    c.final_summary();
    support::report(
        "event_bus",
        started,
        &[Pair {
            label: "publish + delivery to one subscriber (in-process bus) vs tokio mpsc + serde_json",
            group: "event_publish_deliver",
            microcore: "microcore",
            baseline: "mpsc_baseline",
        }],
        &[],
    );
    drop(running);
}
