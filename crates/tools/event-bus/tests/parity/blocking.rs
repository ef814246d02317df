//! Behaviour 20 (sync half): a blocking subscriber runs on the blocking pool
//! and still sees the delivery's context.

use std::sync::Arc;

use microcore_event_bus::Envelope;
use microcore_kernel::{Tool, current_event_id, current_identity};

use crate::common::{Backend, Nobody, Seen, WAIT, eventually, plugin};

test_event!(Crunch, "t.blocking.crunch", { n: u32 });

// A current-thread runtime: its only async worker is the test's own thread.
parity!(current_thread: a_blocking_subscriber_runs_off_the_async_thread_with_the_event_context);

async fn a_blocking_subscriber_runs_off_the_async_thread_with_the_event_context(backend: Backend) {
    let bus = backend.bus().await;
    let seen = Seen::default();
    let s = seen.clone();
    let sub = bus
        .for_plugin(&plugin("Cruncher"))
        .subscribe_blocking(&Arc::new(Nobody), move |_, e: Envelope<Crunch>| {
            s.push((
                std::thread::current().id(),
                current_event_id().map(|id| id.to_string()),
                current_identity().to_string(),
                e.n,
            ));
            Ok(())
        })
        .await
        .unwrap();
    let id = bus.publish(Crunch { n: 3 }).await.unwrap();

    assert!(eventually(WAIT, || seen.len() == 1).await);
    let (thread, event_id, identity, n) = seen.get().remove(0);
    assert_ne!(
        thread,
        std::thread::current().id(),
        "sync code must leave the async worker"
    );
    assert_eq!(event_id, Some(id));
    assert_eq!(identity, sub.subscriber());
    assert_eq!(n, 3);
}
