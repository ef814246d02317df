//! Behaviour 20 and the groups: pools split, plugins each get a copy,
//! replicas share by default, broadcast reaches everyone.

use std::sync::Arc;

use microcore_event_bus::{BusError, Envelope, SubOptions};
use microcore_kernel::Tool;

use crate::common::{Backend, Nobody, Seen, WAIT, eventually, plugin};

test_event!(Job, "t.groups.job", { n: u32 });
test_event!(Copied, "t.groups.copied", { n: u32 });
test_event!(Shared, "t.groups.shared", { n: u32 });
test_event!(Loud, "t.groups.loud", { n: u32 });

parity!(
    a_named_group_splits_the_work,
    distinct_plugins_each_get_every_event,
    replicas_of_one_plugin_share_by_default,
    broadcast_reaches_every_subscription,
    group_and_broadcast_together_are_refused,
);

struct Worker {
    seen: Seen<u32>,
}

async fn work<E: microcore_event_bus::Event + Clone + Into<u32>>(
    p: Arc<Worker>,
    e: Envelope<E>,
) -> anyhow::Result<()> {
    p.seen.push(e.payload.into());
    Ok(())
}

impl From<Job> for u32 {
    fn from(j: Job) -> u32 {
        j.n
    }
}
impl From<Copied> for u32 {
    fn from(j: Copied) -> u32 {
        j.n
    }
}
impl From<Shared> for u32 {
    fn from(j: Shared) -> u32 {
        j.n
    }
}
impl From<Loud> for u32 {
    fn from(j: Loud) -> u32 {
        j.n
    }
}

fn workers(n: usize) -> Vec<Arc<Worker>> {
    (0..n)
        .map(|_| {
            Arc::new(Worker {
                seen: Seen::default(),
            })
        })
        .collect()
}

fn assert_split(ws: &[Arc<Worker>], total: u32) {
    let mut all: Vec<u32> = ws.iter().flat_map(|w| w.seen.get()).collect();
    all.sort();
    assert_eq!(
        all,
        (0..total).collect::<Vec<_>>(),
        "each event handled exactly once"
    );
}

async fn a_named_group_splits_the_work(backend: Backend) {
    let bus = backend.bus().await;
    let ws = workers(2);
    for (i, w) in ws.iter().enumerate() {
        let options = SubOptions {
            group: Some("workers".into()),
            ..SubOptions::default()
        };
        bus.for_plugin(&plugin(&format!("Worker{i}")))
            .subscribe_with(w, work::<Job>, options)
            .await
            .unwrap();
    }
    for n in 0..4 {
        bus.publish(Job { n }).await.unwrap();
    }
    assert!(eventually(WAIT, || ws.iter().map(|w| w.seen.len()).sum::<usize>() == 4).await);
    assert_split(&ws, 4);
    if backend.is_in_process() {
        // Round-robin in-process; NATS and JetStream pick members as they ask.
        assert_eq!((ws[0].seen.len(), ws[1].seen.len()), (2, 2));
    }
}

async fn distinct_plugins_each_get_every_event(backend: Backend) {
    let bus = backend.bus().await;
    let ws = workers(2);
    for (i, w) in ws.iter().enumerate() {
        bus.for_plugin(&plugin(&format!("Reader{i}")))
            .subscribe(w, work::<Copied>)
            .await
            .unwrap();
    }
    for n in 0..4 {
        bus.publish(Copied { n }).await.unwrap();
    }
    assert!(eventually(WAIT, || ws.iter().all(|w| w.seen.len() == 4)).await);
    for w in &ws {
        assert_eq!(w.seen.get(), [0, 1, 2, 3]);
    }
}

async fn replicas_of_one_plugin_share_by_default(backend: Backend) {
    let bus = backend.bus().await;
    let ws = workers(2);
    let mut names = Vec::new();
    for w in &ws {
        let sub = bus
            .for_plugin(&plugin("Replica"))
            .subscribe(w, work::<Shared>)
            .await
            .unwrap();
        names.push(sub.group().map(str::to_owned));
    }
    assert_eq!(names[0].as_deref(), Some("tests.Replica.work"));
    assert_eq!(names[0], names[1]);
    for n in 0..6 {
        bus.publish(Shared { n }).await.unwrap();
    }
    assert!(eventually(WAIT, || ws.iter().map(|w| w.seen.len()).sum::<usize>() == 6).await);
    assert_split(&ws, 6);
}

async fn broadcast_reaches_every_subscription(backend: Backend) {
    let bus = backend.bus().await;
    let ws = workers(2);
    for w in &ws {
        let options = SubOptions {
            broadcast: true,
            ..SubOptions::default()
        };
        let sub = bus
            .for_plugin(&plugin("Loudspeaker"))
            .subscribe_with(w, work::<Loud>, options)
            .await
            .unwrap();
        assert_eq!(sub.group(), None);
    }
    for n in 0..3 {
        bus.publish(Loud { n }).await.unwrap();
    }
    assert!(eventually(WAIT, || ws.iter().all(|w| w.seen.len() == 3)).await);
}

async fn group_and_broadcast_together_are_refused(backend: Backend) {
    let bus = backend.bus().await;
    let options = SubOptions {
        group: Some("pool".into()),
        broadcast: true,
        ..SubOptions::default()
    };
    let err = bus
        .subscribe_with(
            &Arc::new(Nobody),
            |_, _: Envelope<Job>| async { Ok(()) },
            options,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, BusError::InvalidOptions { .. }), "{err:?}");
    assert!(err.to_string().contains("t.groups.job"), "{err}");
}

test_event!(Fleet, "t.groups.fleet", { n: u32 });

impl From<Fleet> for u32 {
    fn from(j: Fleet) -> u32 {
        j.n
    }
}

parity!(replicas: replicas_on_separate_connections_share_one_copy_per_event);

/// Two processes of one app: each event is handled once across the fleet by
/// default (one NATS queue group, or one JetStream durable consumer, per
/// subscriber name).
async fn replicas_on_separate_connections_share_one_copy_per_event(backend: Backend) {
    let (a, b) = (backend.bus().await, backend.bus().await);
    let ws = workers(2);
    for (bus, w) in [&a, &b].into_iter().zip(&ws) {
        bus.for_plugin(&plugin("FleetMember"))
            .subscribe(w, work::<Fleet>)
            .await
            .unwrap();
    }
    for n in 0..8 {
        a.publish(Fleet { n }).await.unwrap();
    }
    assert!(eventually(WAIT, || ws.iter().map(|w| w.seen.len()).sum::<usize>() == 8).await);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_split(&ws, 8);
}

test_event!(Twice, "t.groups.twice", { n: u32 });

parity!(two_closures_of_one_plugin_each_get_every_event);

/// Review item 20: closures in one function used to share the name
/// `closure_in_<fn>`, so one default group, so each event reached only one.
async fn two_closures_of_one_plugin_each_get_every_event(backend: Backend) {
    let bus = backend.bus().await;
    let handle = bus.for_plugin(&plugin("Twins"));
    let (first, second) = (Seen::default(), Seen::default());
    let (f, s) = (first.clone(), second.clone());
    let a = handle
        .subscribe(&Arc::new(Nobody), move |_, e: Envelope<Twice>| {
            let f = f.clone();
            async move {
                f.push(e.n);
                Ok(())
            }
        })
        .await
        .unwrap();
    let b = handle
        .subscribe(&Arc::new(Nobody), move |_, e: Envelope<Twice>| {
            let s = s.clone();
            async move {
                s.push(e.n);
                Ok(())
            }
        })
        .await
        .unwrap();
    assert_ne!(
        a.subscriber(),
        b.subscriber(),
        "each closure is named apart"
    );
    assert_ne!(
        a.group(),
        b.group(),
        "each closure has its own default group"
    );
    for n in 0..4 {
        bus.publish(Twice { n }).await.unwrap();
    }
    assert!(
        eventually(WAIT, || first.len() == 4 && second.len() == 4).await,
        "first {:?}, second {:?}",
        first.get(),
        second.get()
    );
}
