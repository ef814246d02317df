//! Draining: new publishes are refused, in-flight deliveries finish.

use std::sync::Arc;
use std::time::Duration;

use microcore_event_bus::{BusError, Envelope};
use microcore_kernel::Tool;

use crate::common::{Backend, Nobody, Seen, WAIT, eventually, plugin};

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
