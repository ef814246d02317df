//! Behaviour 15: dead letters carry the original, never loop, can be switched off.

use std::sync::Arc;
use std::time::Duration;

use microcore_event_bus::{DeadLetter, Envelope, PublishOptions, SubOptions, TraceKind};
use microcore_kernel::Tool;

use crate::common::{Backend, Nobody, WAIT, eventually, nodes, plugin};

test_event!(Fails, "t.dlq.fail", { order: u32 });
test_event!(Loops, "t.dlq.loop", { n: u32 });
test_event!(LoopLetter, "_dlq.t.dlq.loop", { subscriber: String });
test_event!(Quiet, "t.dlq.quiet", { n: u32 });

parity!(
    exhausted_retries_publish_a_dead_letter,
    failures_on_dead_letters_never_loop,
    dlq_can_be_switched_off,
);

async fn exhausted_retries_publish_a_dead_letter(backend: Backend) {
    let bus = backend.bus().await;
    let options = SubOptions {
        retries: 2,
        backoff: Duration::from_millis(1),
        ..SubOptions::default()
    };
    let sub = bus
        .for_plugin(&plugin("Failing"))
        .subscribe_with(
            &Arc::new(Nobody),
            |_, _: Envelope<Fails>| async { anyhow::bail!("Permanent Fail") as anyhow::Result<()> },
            options,
        )
        .await
        .unwrap();
    let correlated = PublishOptions {
        correlation_id: Some("flow-1".into()),
        ..PublishOptions::default()
    };
    let id = bus
        .publish_with(Fails { order: 42 }, correlated)
        .await
        .unwrap();

    let letters = || nodes(&bus, TraceKind::Published, "_dlq.t.dlq.fail");
    assert!(eventually(WAIT, || !letters().is_empty()).await);
    let node = letters().remove(0);
    let letter: DeadLetter = serde_json::from_value(node.envelope.payload).unwrap();
    assert_eq!(letter.attempts, 3);
    assert_eq!(letter.error, "Permanent Fail");
    assert_eq!(letter.subscriber, sub.subscriber());
    assert_eq!(letter.original["id"], id.as_str());
    assert_eq!(letter.original["payload"], serde_json::json!({"order": 42}));
    assert!(letter.failed_at > 0.0);
    assert_eq!(
        node.envelope.parent_id.as_deref(),
        Some(id.as_str()),
        "a dead letter is a child of the failed event"
    );
    assert_eq!(node.envelope.correlation_id.as_deref(), Some("flow-1"));
    assert_eq!(node.envelope.emitter, sub.subscriber());
}

async fn failures_on_dead_letters_never_loop(backend: Backend) {
    let bus = backend.bus().await;
    let handle = bus.for_plugin(&plugin("Looping"));
    handle
        .subscribe(&Arc::new(Nobody), |_, _: Envelope<Loops>| async {
            anyhow::bail!("first") as anyhow::Result<()>
        })
        .await
        .unwrap();
    handle
        .subscribe(&Arc::new(Nobody), |_, _: Envelope<LoopLetter>| async {
            anyhow::bail!("second") as anyhow::Result<()>
        })
        .await
        .unwrap();
    bus.publish(Loops { n: 1 }).await.unwrap();

    let failed_letter = || {
        nodes(&bus, TraceKind::Delivered, "_dlq.t.dlq.loop")
            .iter()
            .any(|n| !n.success)
    };
    assert!(
        eventually(WAIT, failed_letter).await,
        "the dead-letter subscriber ran and failed"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        nodes(&bus, TraceKind::Published, "_dlq.t.dlq.loop").len(),
        1
    );
    let loops: Vec<_> = bus
        .trace_history()
        .into_iter()
        .filter(|n| n.envelope.event.starts_with("_dlq._dlq."))
        .collect();
    assert!(loops.is_empty(), "{loops:?}");
}

async fn dlq_can_be_switched_off(backend: Backend) {
    let bus = backend
        .bus_with(&[("EVENT_BUS_DLQ_ENABLED", "false")])
        .await;
    bus.for_plugin(&plugin("Quiet"))
        .subscribe(&Arc::new(Nobody), |_, _: Envelope<Quiet>| async {
            anyhow::bail!("no") as anyhow::Result<()>
        })
        .await
        .unwrap();
    bus.publish(Quiet { n: 1 }).await.unwrap();
    let failed = || {
        nodes(&bus, TraceKind::Delivered, "t.dlq.quiet")
            .iter()
            .any(|n| !n.success)
    };
    assert!(eventually(WAIT, failed).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let letters: Vec<_> = bus
        .trace_history()
        .into_iter()
        .filter(|n| n.envelope.event.starts_with("_dlq."))
        .collect();
    assert!(letters.is_empty(), "{letters:?}");
}
