//! Draining: new publishes are refused, in-flight deliveries finish.

use std::sync::Arc;
use std::time::Duration;

use microcore_event_bus::{BusError, Envelope, TraceKind};
use microcore_kernel::Tool;

use crate::common::{Backend, Nobody, Seen, WAIT, eventually, nodes, plugin};

test_event!(Slow, "t.drain.slow", { n: u32 });

parity!(drain_finishes_in_flight_work_and_refuses_new_publishes);

async fn drain_finishes_in_flight_work_and_refuses_new_publishes(backend: Backend) {
    let bus = backend.bus().await;
    let started = Seen::default();
    let done = Seen::default();
    let (s, d) = (started.clone(), done.clone());
    bus.for_plugin(&plugin("Slowpoke"))
        .subscribe(&Arc::new(Nobody), move |_, e: Envelope<Slow>| {
            let (s, d) = (s.clone(), d.clone());
            async move {
                s.push(e.n);
                tokio::time::sleep(Duration::from_millis(150)).await;
                d.push(e.n);
                Ok(())
            }
        })
        .await
        .unwrap();
    bus.publish(Slow { n: 1 }).await.unwrap();
    assert!(eventually(WAIT, || started.len() == 1).await);

    bus.drain(Duration::from_secs(3)).await;
    assert_eq!(
        done.get(),
        [1],
        "drain returned before the delivery finished"
    );
    let err = bus.publish(Slow { n: 2 }).await.unwrap_err();
    assert!(matches!(err, BusError::Closed { .. }), "{err:?}");
    bus.shutdown().await.unwrap();
}

test_event!(Paid, "t.drain.paid", { n: u32 });
test_event!(Receipt, "t.drain.receipt", { n: u32 });

parity!(a_delivery_running_during_a_drain_still_publishes_its_follow_up);

/// Review item 14: the drain refused every publish, so a running delivery
/// that published its follow-up failed and was dead-lettered.
async fn a_delivery_running_during_a_drain_still_publishes_its_follow_up(backend: Backend) {
    let bus = backend.bus().await;
    let started = Seen::default();
    let (s, publisher) = (started.clone(), bus.clone());
    bus.for_plugin(&plugin("Cashier"))
        .subscribe(&Arc::new(Nobody), move |_, e: Envelope<Paid>| {
            let (s, publisher) = (s.clone(), publisher.clone());
            async move {
                s.push(e.n);
                tokio::time::sleep(Duration::from_millis(150)).await;
                publisher.publish(Receipt { n: e.n }).await?;
                Ok(())
            }
        })
        .await
        .unwrap();
    bus.publish(Paid { n: 7 }).await.unwrap();
    assert!(eventually(WAIT, || started.len() == 1).await);

    bus.drain(Duration::from_secs(3)).await;
    let receipts = nodes(&bus, TraceKind::Published, "t.drain.receipt");
    assert_eq!(receipts.len(), 1, "the follow-up was published");
    assert!(
        nodes(&bus, TraceKind::Published, "_dlq.t.drain.paid").is_empty(),
        "the delivery did not fail"
    );
    let err = bus.publish(Receipt { n: 8 }).await.unwrap_err();
    assert!(matches!(err, BusError::Closed { .. }), "{err:?}");
    bus.shutdown().await.unwrap();
}
