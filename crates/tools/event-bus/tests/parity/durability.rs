//! Behaviour 21 on JetStream: what survives a replica going away. These run
//! on JetStream only: the in-process and core NATS drivers deliver at most
//! once and promise none of it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer;
use futures::TryStreamExt;
use microcore_event_bus::{Envelope, Event, EventBus, SubOptions, Subscription, TraceKind};
use microcore_kernel::Tool;

use crate::common::{Backend, Nobody, Seen, WAIT, eventually, nats_url, nodes, plugin};

test_event!(Invoice, "t.durable.invoice", { n: u32 });
test_event!(Fresh, "t.durable.fresh", { n: u32 });
test_event!(Parcel, "t.durable.parcel", { n: u32 });
test_event!(Report, "t.durable.report", { n: u32 });
test_event!(Mixed, "t.durable.mixed", { n: u32 });
test_event!(Crate, "t.durable.crate", { n: u32 });
test_event!(Doomed, "t.durable.doomed", { n: u32 });

/// Long enough to see a missing acknowledgement, short enough for a test.
pub(crate) const ACK_WAIT: [(&str, &str); 1] = [("EVENT_BUS_JETSTREAM_ACK_WAIT_SECS", "1")];

/// Subscribes `handler` as plugin `name` with `options` (a plugin with no
/// state: the handlers here only record what they see).
pub(crate) async fn subscribe_as<E, F, Fut>(
    bus: &EventBus,
    name: &str,
    options: SubOptions,
    handler: F,
) -> Subscription
where
    E: Event,
    F: Fn(Envelope<E>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    bus.for_plugin(&plugin(name))
        .subscribe_with(&Arc::new(Nobody), move |_, e| handler(e), options)
        .await
        .unwrap()
}

/// Subscribes a recorder of each event's `n` in `group`.
pub(crate) async fn record<E: Event + Clone>(
    bus: &EventBus,
    group: &str,
    seen: &Seen<u32>,
    n: fn(&E) -> u32,
) -> Subscription {
    let s = seen.clone();
    let options = SubOptions {
        group: Some(group.into()),
        ..SubOptions::default()
    };
    subscribe_as(bus, "Recorder", options, move |e: Envelope<E>| {
        let s = s.clone();
        async move {
            s.push(n(&e.payload));
            Ok(())
        }
    })
    .await
}

/// What the server knows of the one consumer reading `event` in this test's stream.
pub(crate) async fn consumer_of(backend: &Backend, event: &str) -> consumer::Info {
    let client = async_nats::connect(nats_url()).await.unwrap();
    let stream = async_nats::jetstream::new(client)
        .get_stream(backend.stream())
        .await
        .unwrap();
    let subject = format!("{}{event}", backend.prefix());
    let infos: Vec<consumer::Info> = stream.consumers().try_collect().await.unwrap();
    let mut reading: Vec<_> = infos
        .into_iter()
        .filter(|c| c.config.filter_subject == subject)
        .collect();
    assert_eq!(
        reading.len(),
        1,
        "one consumer reads {subject}: {reading:?}"
    );
    reading.remove(0)
}

/// Polls an async condition every 20 ms for up to `within`.
pub(crate) async fn eventually_async<F: Future<Output = bool>>(
    within: Duration,
    mut done: impl FnMut() -> F,
) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if done().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_published_while_its_group_is_down_reaches_the_next_member() {
    let Some(backend) = Backend::jetstream() else {
        return;
    };
    let _cleanup = backend.cleanup();
    // The group exists once a member has subscribed; then every member goes.
    let first = backend.bus().await;
    record::<Invoice>(&first, "billing", &Seen::default(), |e| e.n).await;
    first.shutdown().await.unwrap();

    let publisher = backend.bus().await;
    publisher.publish(Invoice { n: 1 }).await.unwrap();

    let seen = Seen::default();
    let next = backend.bus().await;
    record::<Invoice>(&next, "billing", &seen, |e| e.n).await;
    publisher.publish(Invoice { n: 2 }).await.unwrap();
    assert!(
        eventually(WAIT, || seen.len() == 2).await,
        "{:?}",
        seen.get()
    );
    assert_eq!(seen.get(), [1, 2], "the backlog first, each event once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_group_starts_with_the_events_published_after_it_first_subscribed() {
    let Some(backend) = Backend::jetstream() else {
        return;
    };
    let _cleanup = backend.cleanup();
    let bus = backend.bus().await;
    bus.publish(Fresh { n: 0 }).await.unwrap();
    let seen = Seen::default();
    record::<Fresh>(&bus, "newcomers", &seen, |e| e.n).await;
    bus.publish(Fresh { n: 1 }).await.unwrap();
    assert!(eventually(WAIT, || seen.len() == 1).await);
    // Had the group replayed the stream, event 0 would have come first.
    assert_eq!(seen.get(), [1], "a new group does not replay the stream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_cut_short_by_a_dying_replica_goes_to_another_after_ack_wait() {
    let Some(backend) = Backend::jetstream() else {
        return;
    };
    let _cleanup = backend.cleanup();
    let group = || SubOptions {
        group: Some("packers".into()),
        ..SubOptions::default()
    };
    let dying = backend.bus_with(&ACK_WAIT).await;
    let started = Seen::default();
    let s = started.clone();
    subscribe_as(&dying, "Packer", group(), move |e: Envelope<Parcel>| {
        let s = s.clone();
        async move {
            s.push(e.id.clone());
            // Handling never ends: the replica dies in the middle.
            futures::future::pending::<()>().await;
            Ok(())
        }
    })
    .await;
    let id = dying.publish(Parcel { n: 7 }).await.unwrap();
    assert!(eventually(WAIT, || started.len() == 1).await);

    let survivor = backend.bus_with(&ACK_WAIT).await;
    let seen = Seen::default();
    let s = seen.clone();
    subscribe_as(&survivor, "Packer", group(), move |e: Envelope<Parcel>| {
        let s = s.clone();
        async move {
            s.push(e.id.clone());
            Ok(())
        }
    })
    .await;
    dying.shutdown().await.unwrap();

    assert!(
        eventually(WAIT * 2, || seen.len() == 1).await,
        "not redelivered"
    );
    assert_eq!(started.get(), [id], "the dying replica got it first");
    assert_eq!(seen.get(), started.get(), "the survivor got the same event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_longer_than_ack_wait_is_kept_by_progress_acks_not_redelivered() {
    let Some(backend) = Backend::jetstream() else {
        return;
    };
    let _cleanup = backend.cleanup();
    // 2 s rather than 1: progress acks go every third of it, and a loaded
    // machine must not delay one past the deadline.
    let bus = backend
        .bus_with(&[("EVENT_BUS_JETSTREAM_ACK_WAIT_SECS", "2")])
        .await;
    let attempts = Seen::default();
    let a = attempts.clone();
    // The first attempt fails and the retry waits 4.5 s: the whole delivery
    // outlasts ack_wait twice over.
    let options = SubOptions {
        retries: 1,
        backoff: Duration::from_millis(4500),
        ..SubOptions::default()
    };
    subscribe_as(&bus, "Reporter", options, move |e: Envelope<Report>| {
        let a = a.clone();
        async move {
            a.push(e.attempt);
            anyhow::ensure!(e.attempt > 1, "not yet");
            Ok(())
        }
    })
    .await;
    bus.publish(Report { n: 1 }).await.unwrap();

    let succeeded = || {
        nodes(&bus, TraceKind::Delivered, Report::NAME)
            .iter()
            .any(|n| n.success)
    };
    assert!(
        eventually(WAIT * 3, succeeded).await,
        "{:?}",
        attempts.get()
    );
    let settled = || async {
        let info = consumer_of(&backend, Report::NAME).await;
        info.num_ack_pending == 0 && info.num_pending == 0
    };
    assert!(eventually_async(WAIT, settled).await, "acknowledged");
    let info = consumer_of(&backend, Report::NAME).await;
    assert_eq!(
        info.delivered.consumer_sequence, 1,
        "the server delivered the event once: {info:?}"
    );
    assert_eq!(attempts.get(), [1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_is_not_an_envelope_is_terminated_and_later_events_arrive() {
    let Some(backend) = Backend::jetstream() else {
        return;
    };
    let _cleanup = backend.cleanup();
    let bus = backend.bus_with(&ACK_WAIT).await;
    let seen = Seen::default();
    record::<Mixed>(&bus, "mixers", &seen, |e| e.n).await;

    let client = async_nats::connect(nats_url()).await.unwrap();
    async_nats::jetstream::new(client)
        .publish(
            format!("{}{}", backend.prefix(), Mixed::NAME),
            "not an envelope".into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    bus.publish(Mixed { n: 1 }).await.unwrap();

    assert!(eventually(WAIT, || seen.len() == 1).await);
    assert_eq!(seen.get(), [1]);
    // Terminated: nothing is left pending, so nothing will come back.
    let settled = || async {
        let info = consumer_of(&backend, Mixed::NAME).await;
        info.num_ack_pending == 0 && info.num_pending == 0
    };
    assert!(
        eventually_async(WAIT, settled).await,
        "both messages settled"
    );
    let info = consumer_of(&backend, Mixed::NAME).await;
    assert_eq!(
        info.delivered.consumer_sequence, 2,
        "each message delivered once: {info:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_consumer_removed_on_the_server_is_recreated_and_reading_resumes() {
    let Some(backend) = Backend::jetstream() else {
        return;
    };
    let _cleanup = backend.cleanup();
    let bus = backend.bus().await;
    let seen = Seen::default();
    record::<Invoice>(&bus, "resilient", &seen, |e| e.n).await;
    bus.publish(Invoice { n: 1 }).await.unwrap();
    assert!(eventually(WAIT, || seen.len() == 1).await);

    let name = consumer_of(&backend, Invoice::NAME).await.name;
    let client = async_nats::connect(nats_url()).await.unwrap();
    async_nats::jetstream::new(client)
        .delete_consumer_from_stream(&name, backend.stream())
        .await
        .unwrap();
    let recreated = || async {
        let client = async_nats::connect(nats_url()).await.unwrap();
        async_nats::jetstream::new(client)
            .get_stream(backend.stream())
            .await
            .unwrap()
            .consumer_info(&name)
            .await
            .is_ok()
    };
    assert!(
        eventually_async(WAIT * 2, recreated).await,
        "consumer {name} recreated"
    );
    bus.publish(Invoice { n: 2 }).await.unwrap();
    assert!(
        eventually(WAIT, || seen.len() == 2).await,
        "{:?}",
        seen.get()
    );
    assert_eq!(seen.get(), [1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsubscribing_member_acknowledges_what_it_handled_and_loses_nothing() {
    let Some(backend) = Backend::jetstream() else {
        return;
    };
    let _cleanup = backend.cleanup();
    let a = backend.bus_with(&ACK_WAIT).await;
    let release = Arc::new(tokio::sync::Notify::new());
    let started = Seen::default();
    let (r, s) = (release.clone(), started.clone());
    let options = SubOptions {
        group: Some("loaders".into()),
        ..SubOptions::default()
    };
    let loading = subscribe_as(&a, "Loader", options, move |e: Envelope<Crate>| {
        let (r, s) = (r.clone(), s.clone());
        async move {
            s.push(e.payload.n);
            if e.payload.n == 1 {
                r.notified().await;
            }
            Ok(())
        }
    })
    .await;
    for n in 1..=3 {
        a.publish(Crate { n }).await.unwrap();
    }
    // 1 is being handled; 2 and 3 are with A too, queued behind it.
    assert!(eventually(WAIT, || started.len() == 1).await);
    assert!(
        eventually_async(WAIT, || async {
            consumer_of(&backend, Crate::NAME).await.num_ack_pending == 3
        })
        .await,
        "all three events are with A"
    );

    let b = backend.bus_with(&ACK_WAIT).await;
    let seen = Seen::default();
    record::<Crate>(&b, "loaders", &seen, |e| e.n).await;
    a.unsubscribe(&loading).await.unwrap();
    release.notify_one();
    // At least once: B may see one twice, but it sees both, and soon.
    assert!(
        eventually(WAIT, || {
            let got = seen.get();
            got.contains(&2) && got.contains(&3)
        })
        .await,
        "B gets what A had not handled, long before the ack wait: {:?}",
        seen.get()
    );
    assert!(
        !seen.get().contains(&1),
        "A's finished event is not handed over"
    );
    assert_eq!(started.get(), [1], "A ran only the event it had started");
    assert!(
        eventually_async(WAIT, || async {
            consumer_of(&backend, Crate::NAME).await.num_ack_pending == 0
        })
        .await,
        "A acknowledged the event it finished, B the two it got"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failure_that_drops_a_subscriber_is_settled_not_redelivered() {
    let Some(backend) = Backend::jetstream() else {
        return;
    };
    let _cleanup = backend.cleanup();
    let failing = backend.bus_with(&ACK_WAIT).await;
    let options = SubOptions {
        group: Some("doomed".into()),
        retries: 0,
        ..SubOptions::default()
    };
    let attempts = Seen::default();
    let s = attempts.clone();
    subscribe_as(&failing, "Doomed", options, move |e: Envelope<Doomed>| {
        let s = s.clone();
        async move {
            s.push(e.payload.n);
            Err::<(), _>(anyhow::anyhow!("always fails"))
        }
    })
    .await;
    for n in 1..=5 {
        failing.publish(Doomed { n }).await.unwrap();
    }
    // The fifth final failure drops the subscriber (behaviour 17).
    assert!(eventually(WAIT, || attempts.len() == 5).await);

    let next = backend.bus_with(&ACK_WAIT).await;
    let seen = Seen::default();
    record::<Doomed>(&next, "doomed", &seen, |e| e.n).await;
    next.publish(Doomed { n: 6 }).await.unwrap();
    assert!(eventually(WAIT, || seen.get().contains(&6)).await);
    // Past the ack wait, nothing of the first five comes back: each was
    // dead-lettered and acknowledged, the one that dropped the subscriber too.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(seen.get(), [6], "no failed event is handled twice");
}
