//! Behaviour 13: same key (or same event when unkeyed) in publish order;
//! other keys and delayed events never hold a key back.

use std::sync::Arc;
use std::time::Duration;

use microcore_event_bus::{Envelope, PublishOptions};
use microcore_kernel::Tool;

use crate::common::{Backend, Nobody, Seen, WAIT, eventually, plugin};

test_event!(Numbered, "t.ordering.numbered", { n: u32 });
test_event!(Keyed, "t.ordering.keyed", { lane: String, n: u32 });
test_event!(Later, "t.ordering.later", { n: u32 });

parity!(
    twenty_publishes_arrive_in_call_order,
    ordering_is_per_key_and_a_slow_key_blocks_no_other,
    a_delayed_event_holds_back_nothing,
);

fn keyed(key: &str) -> PublishOptions {
    PublishOptions {
        key: Some(key.to_owned()),
        ..PublishOptions::default()
    }
}

async fn twenty_publishes_arrive_in_call_order(backend: Backend) {
    let bus = backend.bus().await;
    let seen = Seen::default();
    let s = seen.clone();
    bus.for_plugin(&plugin("Counter"))
        .subscribe(&Arc::new(Nobody), move |_, e: Envelope<Numbered>| {
            let s = s.clone();
            async move {
                // Yield so that any reordering would show.
                tokio::time::sleep(Duration::from_millis(1)).await;
                s.push(e.n);
                Ok(())
            }
        })
        .await
        .unwrap();
    for n in 0..20 {
        bus.publish(Numbered { n }).await.unwrap();
    }
    assert!(
        eventually(WAIT, || seen.len() == 20).await,
        "{:?}",
        seen.get()
    );
    assert_eq!(seen.get(), (0..20).collect::<Vec<_>>());
}

async fn ordering_is_per_key_and_a_slow_key_blocks_no_other(backend: Backend) {
    let bus = backend.bus().await;
    let seen = Seen::default();
    let s = seen.clone();
    bus.for_plugin(&plugin("KeyWatcher"))
        .subscribe(&Arc::new(Nobody), move |_, e: Envelope<Keyed>| {
            let s = s.clone();
            async move {
                if e.lane == "slow" && e.n == 0 {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                s.push((e.lane.clone(), e.n));
                Ok(())
            }
        })
        .await
        .unwrap();
    for n in 0..5 {
        for key in ["slow", "fast"] {
            let event = Keyed {
                lane: key.into(),
                n,
            };
            bus.publish_with(event, keyed(key)).await.unwrap();
        }
    }
    assert!(
        eventually(WAIT, || seen.len() == 10).await,
        "{:?}",
        seen.get()
    );
    let all = seen.get();
    for key in ["slow", "fast"] {
        let order: Vec<u32> = all
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, n)| *n)
            .collect();
        assert_eq!(order, [0, 1, 2, 3, 4], "key {key}: {all:?}");
    }
    let first_slow = all.iter().position(|(k, _)| k == "slow").unwrap();
    assert_eq!(
        first_slow, 5,
        "the fast key waited for the slow one: {all:?}"
    );
}

async fn a_delayed_event_holds_back_nothing(backend: Backend) {
    let bus = backend.bus().await;
    let seen = Seen::default();
    let s = seen.clone();
    bus.for_plugin(&plugin("LaterWatcher"))
        .subscribe(&Arc::new(Nobody), move |_, e: Envelope<Later>| {
            let s = s.clone();
            async move {
                s.push(e.n);
                Ok(())
            }
        })
        .await
        .unwrap();
    let delayed = PublishOptions {
        delay: Some(Duration::from_millis(300)),
        ..PublishOptions::default()
    };
    bus.publish_with(Later { n: 0 }, delayed).await.unwrap();
    bus.publish(Later { n: 1 }).await.unwrap();
    assert!(
        eventually(WAIT, || seen.len() == 2).await,
        "{:?}",
        seen.get()
    );
    assert_eq!(seen.get(), [1, 0]);
}
