//! Review item 18: what the bus holds in memory is bounded. A full bound is
//! an error to the publisher in-process, and a pause of the reader over
//! NATS; never a silent loss.

use std::sync::Arc;
use std::time::Duration;

use microcore_event_bus::{BusError, Envelope, PublishOptions, SubOptions};
use microcore_kernel::{Tool, ToolFailure};
use tokio::sync::Notify;

use crate::common::{Backend, Nobody, Seen, WAIT, eventually, plugin};

test_event!(Queued, "t.bounds.queued", { n: u32 });
test_event!(Later, "t.bounds.later", { n: u32 });

/// Subscribes a recorder that holds its first delivery until `release`.
async fn held_subscriber(bus: &microcore_event_bus::EventBus, release: &Arc<Notify>) -> Seen<u32> {
    let seen = Seen::default();
    let (s, r) = (seen.clone(), release.clone());
    bus.for_plugin(&plugin("Holder"))
        .subscribe_with(
            &Arc::new(Nobody),
            move |_, e: Envelope<Queued>| {
                let (s, r) = (s.clone(), r.clone());
                async move {
                    if e.n == 1 {
                        r.notified().await;
                    }
                    s.push(e.n);
                    Ok(())
                }
            },
            SubOptions::default().broadcast(),
        )
        .await
        .unwrap();
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_subscriber_refuses_the_publish_naming_itself_and_the_setting() {
    let bus = Backend::InProcess
        .bus_with(&[("EVENT_BUS_MAX_QUEUED", "2")])
        .await;
    let release = Arc::new(Notify::new());
    let seen = held_subscriber(&bus, &release).await;
    bus.publish(Queued { n: 1 }).await.unwrap();
    bus.publish(Queued { n: 2 }).await.unwrap();
    let err = bus.publish(Queued { n: 3 }).await.unwrap_err();
    assert!(matches!(err, BusError::Full { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("tests.Holder") && text.contains("EVENT_BUS_MAX_QUEUED"),
        "{text}"
    );
    assert!(!err.is_caller_error());

    release.notify_one();
    assert!(eventually(WAIT, || seen.len() == 2).await);
    bus.publish(Queued { n: 4 }).await.unwrap();
    assert!(
        eventually(WAIT, || seen.get() == [1, 2, 4]).await,
        "{:?}",
        seen.get()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_events_held_in_memory_are_bounded() {
    let bus = Backend::InProcess
        .bus_with(&[("EVENT_BUS_MAX_DELAYED", "2")])
        .await;
    let later = PublishOptions::default().delay(Duration::from_secs(3600));
    for n in 0..2 {
        bus.publish_with(Later { n }, later.clone()).await.unwrap();
    }
    let err = bus.publish_with(Later { n: 2 }, later).await.unwrap_err();
    assert!(
        matches!(err, BusError::Full { .. }) && err.to_string().contains("EVENT_BUS_MAX_DELAYED"),
        "{err:?}"
    );
    bus.publish(Later { n: 3 })
        .await
        .expect("an undelayed event is not held");
}

#[tokio::test]
async fn a_bound_of_zero_is_refused_at_setup() {
    let setup = microcore_kernel::ToolSetup {
        env: microcore_kernel::Env::from_pairs([("EVENT_BUS_MAX_QUEUED", "0")]),
        probe: microcore_kernel::Probe::detached("event_bus"),
        registry: microcore_kernel::Registry::new(),
    };
    let err = microcore_event_bus::EventBus::setup(setup)
        .await
        .unwrap_err();
    assert!(err.0.contains("EVENT_BUS_MAX_QUEUED=0"), "{err}");
}

parity!(replicas: a_full_subscriber_pauses_its_nats_reader_and_loses_nothing);

async fn a_full_subscriber_pauses_its_nats_reader_and_loses_nothing(backend: Backend) {
    let bus = backend.bus_with(&[("EVENT_BUS_MAX_QUEUED", "1")]).await;
    let release = Arc::new(Notify::new());
    let seen = held_subscriber(&bus, &release).await;
    for n in 1..=4 {
        bus.publish(Queued { n }).await.unwrap();
    }
    release.notify_one();
    assert!(
        eventually(WAIT, || seen.len() == 4).await,
        "{:?}",
        seen.get()
    );
    assert_eq!(seen.get(), [1, 2, 3, 4], "in order, none lost");
}
