//! JetStream, review items 14 and 17: a replica that stops, or cannot
//! dead-letter, hands events back to the server instead of losing them.
//! A handed-back event goes to another member of the group; nothing is
//! dead-lettered because this replica was going away.

use std::sync::Arc;
use std::time::Duration;

use microcore_event_bus::{Envelope, Event, SubOptions, TraceKind};
use microcore_kernel::Tool;
use tokio::sync::Notify;

use crate::common::{Backend, Seen, WAIT, eventually, nats_url, nodes};
use crate::durability::{ACK_WAIT, consumer_of, eventually_async, record, subscribe_as};

test_event!(Order, "t.handover.order", { n: u32 });
test_event!(Shipped, "t.handover.shipped", { n: u32 });
test_event!(Broken, "t.handover.broken", { n: u32, pad: String });

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_replica_hands_back_what_it_has_not_started_and_finishes_the_rest() {
    let Some(backend) = Backend::jetstream() else {
        return;
    };
    let _cleanup = backend.cleanup();
    let a = backend.bus_with(&ACK_WAIT).await;
    let (started, release) = (Seen::default(), Arc::new(Notify::new()));
    let (s, r, publisher) = (started.clone(), release.clone(), a.clone());
    let options = SubOptions::default().group("shippers");
    subscribe_as(&a, "Shipper", options, move |e: Envelope<Order>| {
        let (s, r, publisher) = (s.clone(), r.clone(), publisher.clone());
        async move {
            s.push(e.payload.n);
            if e.payload.n == 1 {
                r.notified().await;
            }
            // A follow-up published while the bus drains must still go out.
            publisher.publish(Shipped { n: e.payload.n }).await?;
            Ok(())
        }
    })
    .await;
    for n in 1..=3 {
        a.publish(Order { n }).await.unwrap();
    }
    // 1 is running on A; 2 and 3 wait behind it, with A.
    assert!(eventually(WAIT, || started.len() == 1).await);
    assert!(
        eventually_async(WAIT, || async {
            consumer_of(&backend, Order::NAME).await.num_ack_pending == 3
        })
        .await,
        "all three orders are with A"
    );

    let b = backend.bus_with(&ACK_WAIT).await;
    let (on_b, shipped) = (Seen::default(), Seen::default());
    record::<Order>(&b, "shippers", &on_b, |e| e.n).await;
    record::<Shipped>(&b, "audit", &shipped, |e| e.n).await;
    let draining = tokio::spawn({
        let a = a.clone();
        async move { a.drain(Duration::from_secs(10)).await }
    });
    assert!(
        eventually(WAIT, || {
            let got = on_b.get();
            got.contains(&2) && got.contains(&3)
        })
        .await,
        "B gets what A had not started as soon as A drains: {:?}",
        on_b.get()
    );
    release.notify_one();
    draining.await.unwrap();

    assert!(
        eventually(WAIT, || shipped.get().contains(&1)).await,
        "the delivery running during the drain published its follow-up: {:?}",
        shipped.get()
    );
    assert_eq!(started.get(), [1], "A ran only the order it had started");
    assert!(
        nodes(&a, TraceKind::Published, "_dlq.t.handover.order").is_empty(),
        "nothing is dead-lettered because A was stopping"
    );
    assert!(
        eventually_async(WAIT, || async {
            consumer_of(&backend, Order::NAME).await.num_ack_pending == 0
        })
        .await,
        "every order is acknowledged once, by the member that handled it"
    );
    a.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_whose_dead_letter_is_not_stored_is_handed_back_not_acknowledged() {
    let Some(backend) = Backend::jetstream() else {
        return;
    };
    let _cleanup = backend.cleanup();
    let bus = backend.bus_with(&ACK_WAIT).await;
    let attempts = Seen::default();
    let a = attempts.clone();
    let options = SubOptions::default().group("breakers");
    subscribe_as(&bus, "Breaker", options, move |e: Envelope<Broken>| {
        let a = a.clone();
        async move {
            a.push(e.payload.n);
            anyhow::bail!("always fails")
        }
    })
    .await;
    // The stream now refuses anything as large as a dead letter, which
    // carries the whole original envelope and more.
    let js = async_nats::jetstream::new(async_nats::connect(nats_url()).await.unwrap());
    let mut stream = js.get_stream(backend.stream()).await.unwrap();
    let mut config = stream.info().await.unwrap().config.clone();
    config.max_message_size = 900;
    js.update_stream(config).await.unwrap();

    let pad = "x".repeat(400);
    bus.publish(Broken { n: 1, pad }).await.unwrap();
    assert!(
        eventually(WAIT, || attempts.len() >= 2).await,
        "the event comes back rather than being acknowledged without a dead letter: {:?}",
        attempts.get()
    );
}
