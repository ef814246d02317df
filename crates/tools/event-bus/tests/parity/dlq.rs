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
    a_dead_letter_is_listed_and_replays_to_the_failing_subscriber_only,
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

test_event!(Replayed, "t.dlq.replayed", { n: u32 });

/// Item 5: the dead letters of this process are listed, and a replay sends
/// one back to the subscriber that failed it (not to the others), once.
async fn a_dead_letter_is_listed_and_replays_to_the_failing_subscriber_only(backend: Backend) {
    let bus = backend.bus().await;
    let options = SubOptions {
        retries: 0,
        backoff: Duration::from_millis(1),
        ..SubOptions::default()
    };
    let fixed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let handled = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let (f, h) = (fixed.clone(), handled.clone());
    let failing = bus
        .for_plugin(&plugin("Flaky"))
        .subscribe_with(
            &Arc::new(Nobody),
            move |_, e: Envelope<Replayed>| {
                let (f, h) = (f.clone(), h.clone());
                async move {
                    if !f.load(std::sync::atomic::Ordering::Acquire) {
                        anyhow::bail!("database down");
                    }
                    h.lock().push((e.id.clone(), e.n));
                    Ok(())
                }
            },
            options,
        )
        .await
        .unwrap();
    let others = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let o = others.clone();
    bus.for_plugin(&plugin("Steady"))
        .subscribe(&Arc::new(Nobody), move |_, _: Envelope<Replayed>| {
            let o = o.clone();
            async move {
                o.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                Ok(())
            }
        })
        .await
        .unwrap();
    let id = bus.publish(Replayed { n: 7 }).await.unwrap();
    assert!(eventually(WAIT, || !bus.dead_letters().is_empty()).await);
    let letters = bus.dead_letters();
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = &letters[0];
    assert_eq!(letter.event, "t.dlq.replayed");
    assert_eq!(letter.subscriber, failing.subscriber());
    assert_eq!(letter.error, "database down");
    assert_eq!(letter.original.id, id);
    assert_eq!(letter.original.payload, serde_json::json!({"n": 7}));

    assert!(!bus.replay_dead_letter("no-such-letter").await.unwrap());
    fixed.store(true, std::sync::atomic::Ordering::Release);
    assert!(bus.replay_dead_letter(&letter.id).await.unwrap());
    assert!(eventually(WAIT, || !handled.lock().is_empty()).await);
    assert_eq!(*handled.lock(), vec![(id, 7)], "the same event, by id");
    assert!(
        bus.dead_letters().is_empty(),
        "a replayed letter leaves the list"
    );
    assert!(
        !bus.replay_dead_letter(&letter.id).await.unwrap(),
        "replayed once"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        others.load(std::sync::atomic::Ordering::Acquire),
        1,
        "the subscriber that succeeded does not see it again"
    );
}

test_event!(Logged, "t.dlq.logged", { n: u32 });

/// What a log line collector keeps: every formatted line.
#[derive(Clone, Default)]
struct Lines(Arc<parking_lot::Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Item 4: an operator sees each dead letter in the log, with the event,
/// the subscriber, the reason and the attempts, at ERROR.
#[tokio::test]
async fn a_dead_letter_is_logged_with_event_subscriber_reason_and_attempts() {
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // The test runs on one thread, so every delivery task logs here.
    let _guard = tracing::subscriber::set_default(subscriber);
    let bus = Backend::InProcess.bus().await;
    let options = SubOptions::default()
        .retries(1)
        .backoff(Duration::from_millis(1));
    bus.for_plugin(&plugin("Grumpy"))
        .subscribe_with(
            &Arc::new(Nobody),
            |_, _: Envelope<Logged>| async { anyhow::bail!("disk full") as anyhow::Result<()> },
            options,
        )
        .await
        .unwrap();
    bus.publish(Logged { n: 1 }).await.unwrap();
    let letters = || nodes(&bus, TraceKind::Published, "_dlq.t.dlq.logged");
    assert!(eventually(WAIT, || !letters().is_empty()).await);
    let text = String::from_utf8(lines.0.lock().clone()).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("dead-lettered"))
        .unwrap_or_else(|| panic!("no dead-letter line in:\n{text}"));
    for part in [
        "ERROR",
        "event=t.dlq.logged",
        "subscriber=tests.Grumpy.",
        "attempts=2",
        "disk full",
        "_dlq.t.dlq.logged",
    ] {
        assert!(line.contains(part), "`{part}` missing from: {line}");
    }
}
