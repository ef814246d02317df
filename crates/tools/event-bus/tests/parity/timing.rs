//! Behaviours 16 and 19: TTL and delay.

use std::sync::Arc;
use std::time::{Duration, Instant};

use microcore_event_bus::{Envelope, PublishOptions, TraceKind};
use microcore_kernel::Tool;

use crate::common::{Backend, Nobody, Seen, WAIT, eventually, nodes, plugin};

test_event!(Perishable, "t.timing.perishable", { n: u32 });
test_event!(Fresh, "t.timing.fresh", { n: u32 });
test_event!(Reminder, "t.timing.reminder", { n: u32 });

parity!(
    an_expired_event_is_recorded_not_delivered,
    an_event_within_its_ttl_is_delivered,
    a_delayed_event_arrives_on_time_not_before,
);

async fn an_expired_event_is_recorded_not_delivered(backend: Backend) {
    let bus = backend.bus().await;
    let calls = Seen::default();
    let c = calls.clone();
    bus.for_plugin(&plugin("Eater"))
        .subscribe(&Arc::new(Nobody), move |_, e: Envelope<Perishable>| {
            let c = c.clone();
            async move {
                c.push(e.n);
                Ok(())
            }
        })
        .await
        .unwrap();
    // Its age at delivery includes the delay, so it has expired by then.
    let options = PublishOptions {
        ttl: Some(Duration::from_millis(1)),
        delay: Some(Duration::from_millis(50)),
        ..PublishOptions::default()
    };
    bus.publish_with(Perishable { n: 1 }, options)
        .await
        .unwrap();

    let delivered = || nodes(&bus, TraceKind::Delivered, "t.timing.perishable");
    assert!(eventually(WAIT, || !delivered().is_empty()).await);
    let node = &delivered()[0];
    assert!(!node.success);
    assert_eq!(node.error.as_deref(), Some("ttl_expired"));
    assert_eq!(node.attempts, 0);
    assert!(calls.get().is_empty());
    assert!(
        nodes(&bus, TraceKind::Published, "_dlq.t.timing.perishable").is_empty(),
        "an expired event is not a failure"
    );
}

async fn an_event_within_its_ttl_is_delivered(backend: Backend) {
    let bus = backend.bus().await;
    let calls = Seen::default();
    let c = calls.clone();
    bus.for_plugin(&plugin("FreshEater"))
        .subscribe(&Arc::new(Nobody), move |_, e: Envelope<Fresh>| {
            let c = c.clone();
            async move {
                c.push(e.n);
                Ok(())
            }
        })
        .await
        .unwrap();
    let options = PublishOptions {
        ttl: Some(Duration::from_secs(30)),
        ..PublishOptions::default()
    };
    bus.publish_with(Fresh { n: 1 }, options).await.unwrap();
    assert!(eventually(WAIT, || calls.len() == 1).await);
}

async fn a_delayed_event_arrives_on_time_not_before(backend: Backend) {
    let bus = backend.bus().await;
    let arrived = Seen::default();
    let a = arrived.clone();
    bus.for_plugin(&plugin("Reminded"))
        .subscribe(&Arc::new(Nobody), move |_, _: Envelope<Reminder>| {
            let a = a.clone();
            async move {
                a.push(Instant::now());
                Ok(())
            }
        })
        .await
        .unwrap();
    let delay = Duration::from_millis(400);
    let options = PublishOptions {
        delay: Some(delay),
        ..PublishOptions::default()
    };
    let published = Instant::now();
    bus.publish_with(Reminder { n: 1 }, options).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(arrived.get().is_empty(), "delivered before its delay");
    assert!(eventually(WAIT, || arrived.len() == 1).await);
    let after = arrived.get()[0] - published;
    assert!(after >= delay, "delivered after {after:?}, asked {delay:?}");
    assert!(
        after < delay + Duration::from_millis(1500),
        "delivered after {after:?}, asked {delay:?}"
    );
}
