//! Behaviour 17: five final failures in a row unsubscribe, announced once.

use std::sync::Arc;
use std::time::Duration;

use microcore_event_bus::{Envelope, SubscriberDropped, TraceKind};
use microcore_kernel::Tool;

use crate::common::{Backend, Nobody, Seen, WAIT, eventually, nodes, plugin};

test_event!(Poison, "t.dropping.poison", { n: u32 });
test_event!(Mixed, "t.dropping.mixed", { fail: bool });
test_event!(Cascade, "t.dropping.cascade", { n: u32 });

parity!(
    five_final_failures_unsubscribe_and_announce_once,
    a_success_resets_the_failure_streak,
    a_failing_drop_listener_does_not_announce_itself,
);

const DROPPED: &str = "system.subscriber.dropped";

async fn five_final_failures_unsubscribe_and_announce_once(backend: Backend) {
    let bus = backend.bus().await;
    let calls = Seen::default();
    let c = calls.clone();
    let sub = bus
        .for_plugin(&plugin("Poisoned"))
        .subscribe(&Arc::new(Nobody), move |_, e: Envelope<Poison>| {
            let c = c.clone();
            async move {
                c.push(e.n);
                anyhow::bail!("cannot digest {}", e.n) as anyhow::Result<()>
            }
        })
        .await
        .unwrap();
    for n in 0..7 {
        bus.publish(Poison { n }).await.unwrap();
    }
    let dropped = || nodes(&bus, TraceKind::Published, DROPPED);
    assert!(eventually(WAIT, || !dropped().is_empty()).await);
    tokio::time::sleep(Duration::from_millis(150)).await;

    assert_eq!(calls.get(), [0, 1, 2, 3, 4], "no delivery after the drop");
    assert_eq!(dropped().len(), 1);
    let notice: SubscriberDropped =
        serde_json::from_value(dropped()[0].envelope.payload.clone()).unwrap();
    assert_eq!(
        notice,
        SubscriberDropped {
            event: "t.dropping.poison".into(),
            subscriber: sub.subscriber().into(),
            error: "cannot digest 4".into(),
            consecutive_failures: 5,
        }
    );
    assert!(!bus.subscribers().contains_key("t.dropping.poison"));
}

async fn a_success_resets_the_failure_streak(backend: Backend) {
    let bus = backend.bus().await;
    let calls = Seen::default();
    let c = calls.clone();
    bus.for_plugin(&plugin("Moody"))
        .subscribe(&Arc::new(Nobody), move |_, e: Envelope<Mixed>| {
            let c = c.clone();
            async move {
                c.push(e.fail);
                anyhow::ensure!(!e.fail, "bad mood");
                Ok(())
            }
        })
        .await
        .unwrap();
    let pattern = [true, true, true, true, false, true, true, true, true];
    for fail in pattern {
        bus.publish(Mixed { fail }).await.unwrap();
    }
    assert!(eventually(WAIT, || calls.len() == pattern.len()).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(nodes(&bus, TraceKind::Published, DROPPED).is_empty());
    assert!(bus.subscribers().contains_key("t.dropping.mixed"));
}

async fn a_failing_drop_listener_does_not_announce_itself(backend: Backend) {
    let bus = backend.bus().await;
    for i in 0..5 {
        bus.for_plugin(&plugin(&format!("Doomed{i}")))
            .subscribe(&Arc::new(Nobody), |_, _: Envelope<Cascade>| async {
                anyhow::bail!("doomed") as anyhow::Result<()>
            })
            .await
            .unwrap();
    }
    bus.for_plugin(&plugin("Watcher"))
        .subscribe(
            &Arc::new(Nobody),
            |_, _: Envelope<SubscriberDropped>| async {
                anyhow::bail!("watcher broken") as anyhow::Result<()>
            },
        )
        .await
        .unwrap();
    for n in 0..5 {
        bus.publish(Cascade { n }).await.unwrap();
    }
    let watcher_gone = || !bus.subscribers().contains_key(DROPPED);
    assert!(
        eventually(WAIT, watcher_gone).await,
        "the watcher failed 5 times and was dropped"
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    let notices: Vec<SubscriberDropped> = nodes(&bus, TraceKind::Published, DROPPED)
        .into_iter()
        .map(|n| serde_json::from_value(n.envelope.payload).unwrap())
        .collect();
    assert_eq!(notices.len(), 5, "{notices:?}");
    assert!(
        notices.iter().all(|n| n.event == "t.dropping.cascade"),
        "{notices:?}"
    );
}
