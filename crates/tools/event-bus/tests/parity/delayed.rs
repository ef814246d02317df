//! Behaviour 21, pending delay, on JetStream: a delayed event is stored
//! until due, so it outlives its publisher, and any replica releases it,
//! once. The in-process and core NATS drivers hold it in the publisher's
//! memory and promise none of it.

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use microcore_event_bus::{Envelope, PublishOptions, SubOptions};
use microcore_kernel::Tool;

use crate::common::{Backend, Seen, WAIT, eventually, nats_url};
use crate::durability::{eventually_async, subscribe_as};

test_event!(Wakeup, "t.delayed.wakeup", { n: u32 });
test_event!(Alarm, "t.delayed.alarm", { n: u32 });

/// Subscribes a recorder of each event's `n` and arrival time in `group`.
async fn record_arrivals<E>(
    bus: &microcore_event_bus::EventBus,
    group: &str,
    n: fn(&E) -> u32,
) -> Seen<(u32, Instant)>
where
    E: microcore_event_bus::Event + Clone,
{
    let seen = Seen::default();
    let s = seen.clone();
    let options = SubOptions {
        group: Some(group.into()),
        ..SubOptions::default()
    };
    subscribe_as(bus, "Sleeper", options, move |e: Envelope<E>| {
        let s = s.clone();
        async move {
            s.push((n(&e.payload), Instant::now()));
            Ok(())
        }
    })
    .await;
    seen
}

/// Messages stored on `subject` of `stream`, as the server counts them.
async fn stored(stream: &str, subject: &str) -> usize {
    let client = async_nats::connect(nats_url()).await.unwrap();
    let stream = async_nats::jetstream::new(client)
        .get_stream(stream)
        .await
        .unwrap();
    let mut info = stream.info_with_subjects(subject).await.unwrap();
    let mut total = 0;
    while let Some((_, count)) = info.try_next().await.unwrap() {
        total += count;
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_event_outlives_its_publisher_and_arrives_once_when_due() {
    let Some(backend) = Backend::jetstream() else {
        return;
    };
    let _cleanup = backend.cleanup();
    let delay = Duration::from_millis(1500);
    // The publisher runs in a runtime of its own, dropped as soon as the
    // publish returns: its tasks and its connection die with it, like a
    // process that stopped.
    let publisher = backend.clone();
    let published = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let published = runtime.block_on(async {
            let bus = publisher.bus().await;
            let options = PublishOptions::default().delay(delay);
            let published = Instant::now();
            bus.publish_with(Wakeup { n: 7 }, options).await.unwrap();
            published
        });
        drop(runtime);
        published
    })
    .join()
    .unwrap();

    let replica = backend.bus().await;
    let seen = record_arrivals::<Wakeup>(&replica, "sleepers", |e| e.n).await;
    assert_eq!(
        stored(&backend.delay_stream(), ">").await,
        1,
        "the delayed event is stored"
    );
    assert!(
        eventually(delay + WAIT, || seen.len() == 1).await,
        "the delayed event of a stopped publisher never arrived"
    );
    let (n, arrived) = seen.get()[0];
    assert_eq!(n, 7);
    let after = arrived - published;
    assert!(after >= delay, "delivered after {after:?}, asked {delay:?}");
    // Released once: nothing left to release, nothing arrives again.
    assert!(
        eventually_async(WAIT, || async {
            stored(&backend.delay_stream(), ">").await == 0
        })
        .await,
        "a released delayed event is deleted from the delay stream"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(seen.len(), 1, "{:?}", seen.get());
    replica.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_polling_release_each_delayed_event_once() {
    let Some(backend) = Backend::jetstream() else {
        return;
    };
    let _cleanup = backend.cleanup();
    let first = backend.bus().await;
    let second = backend.bus().await;
    let seen = record_arrivals::<Alarm>(&first, "alarms", |e| e.n).await;
    // The same group on both: the stream, not the group, must collapse a
    // double release, so count what the stream stores too.
    let seen_too = record_arrivals::<Alarm>(&second, "alarms", |e| e.n).await;
    let delay = Duration::from_millis(800);
    for n in 0..20 {
        let bus = if n % 2 == 0 { &first } else { &second };
        bus.publish_with(Alarm { n }, PublishOptions::default().delay(delay))
            .await
            .unwrap();
    }
    let all = || {
        let mut ns: Vec<u32> = seen.get().into_iter().map(|(n, _)| n).collect();
        ns.extend(seen_too.get().into_iter().map(|(n, _)| n));
        ns.sort_unstable();
        ns
    };
    assert!(
        eventually(delay + WAIT, || all().len() >= 20).await,
        "{:?}",
        all()
    );
    // Both pollers have passed over every entry by now.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        all(),
        (0..20).collect::<Vec<_>>(),
        "each event exactly once"
    );
    let subject = format!("{}t.delayed.alarm", backend.prefix());
    assert_eq!(
        stored(&backend.stream(), &subject).await,
        20,
        "the bus stream stores each released event once"
    );
    assert_eq!(stored(&backend.delay_stream(), ">").await, 0);
    first.shutdown().await.unwrap();
    second.shutdown().await.unwrap();
}

test_event!(Echo, "t.delayed.echo", { n: u32 });

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_cut_short_before_its_delete_is_not_delivered_twice() {
    let Some(backend) = Backend::jetstream() else {
        return;
    };
    let _cleanup = backend.cleanup();
    let bus = backend.bus().await;
    let seen = record_arrivals::<Echo>(&bus, "echoes", |e| e.n).await;
    let delay = Duration::from_millis(1500);
    bus.publish_with(Echo { n: 1 }, PublishOptions::default().delay(delay))
        .await
        .unwrap();
    // A replica released the entry (published it under its envelope id)
    // and died before deleting it: the entry is still stored.
    let js = async_nats::jetstream::new(async_nats::connect(nats_url()).await.unwrap());
    let entry = js
        .get_stream(backend.delay_stream())
        .await
        .unwrap()
        .get_raw_message(1)
        .await
        .unwrap();
    let envelope: serde_json::Value = serde_json::from_slice(&entry.payload).unwrap();
    let id = envelope["id"].as_str().unwrap().to_owned();
    let subject = format!("{}t.delayed.echo", backend.prefix());
    let released = async_nats::jetstream::message::PublishMessage::build()
        .payload(entry.payload.clone())
        .message_id(&id);
    js.send_publish(subject.clone(), released)
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(eventually(WAIT, || seen.len() == 1).await);

    // When due, a poller releases it again under the same id and deletes it.
    assert!(
        eventually_async(delay + WAIT, || async {
            stored(&backend.delay_stream(), ">").await == 0
        })
        .await,
        "the entry is released and deleted when due"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(seen.len(), 1, "delivered twice: {:?}", seen.get());
    assert_eq!(stored(&backend.stream(), &subject).await, 1);
    bus.shutdown().await.unwrap();
}

test_event!(Overdue, "t.delayed.overdue", { n: u32 });

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_event_due_while_every_replica_was_down_goes_out_with_the_next() {
    let Some(backend) = Backend::jetstream() else {
        return;
    };
    let _cleanup = backend.cleanup();
    // The group exists (its consumer is durable), then the only replica goes.
    let first = backend.bus().await;
    record_arrivals::<Overdue>(&first, "overdue", |e| e.n).await;
    first
        .publish_with(
            Overdue { n: 3 },
            PublishOptions::default().delay(Duration::from_secs(3600)),
        )
        .await
        .unwrap();
    first.shutdown().await.unwrap();
    // Time passes: the entry moves to a second two minutes ago, due then,
    // far behind where a starting poller's walk begins.
    let js = async_nats::jetstream::new(async_nats::connect(nats_url()).await.unwrap());
    let delays = js.get_stream(backend.delay_stream()).await.unwrap();
    let entry = delays.get_raw_message(1).await.unwrap();
    let due = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        - 120_000;
    let overdue = async_nats::jetstream::message::PublishMessage::build()
        .payload(entry.payload.clone())
        .header("Microcore-Due-Ms", due.to_string());
    let subject = format!("_MICROCORE_DELAYED.{}.{}", backend.stream(), due / 1000);
    js.send_publish(subject, overdue)
        .await
        .unwrap()
        .await
        .unwrap();
    delays.delete_message(1).await.unwrap();

    let next = backend.bus().await;
    let seen = record_arrivals::<Overdue>(&next, "overdue", |e| e.n).await;
    assert!(
        eventually(WAIT, || seen.len() == 1).await,
        "the overdue event was not released by the replica that came back"
    );
    assert_eq!(seen.get()[0].0, 3);
    assert!(
        eventually_async(WAIT, || async {
            stored(&backend.delay_stream(), ">").await == 0
        })
        .await
    );
    next.shutdown().await.unwrap();
}
