//! Behaviour 14: retries with exponential backoff, in the bus.

use std::sync::Arc;
use std::time::{Duration, Instant};

use microcore_event_bus::{Envelope, SubOptions, TraceKind};
use microcore_kernel::Tool;

use microcore_event_bus::Event;

use crate::common::{Backend, Nobody, Seen, WAIT, eventually, nodes, plugin};

test_event!(Flaky, "t.retries.flaky", { n: u32 });
test_event!(Doomed, "t.retries.doomed", { n: u32 });

parity!(
    retry_then_success_takes_three_attempts,
    backoff_doubles_between_attempts
);

async fn retry_then_success_takes_three_attempts(backend: Backend) {
    let bus = backend.bus().await;
    let attempts = Seen::default();
    let a = attempts.clone();
    let options = SubOptions {
        retries: 3,
        backoff: Duration::from_millis(5),
        ..SubOptions::default()
    };
    bus.for_plugin(&plugin("Flaky"))
        .subscribe_with(
            &Arc::new(Nobody),
            move |_, e: Envelope<Flaky>| {
                let a = a.clone();
                async move {
                    a.push(e.attempt);
                    anyhow::ensure!(e.attempt >= 3, "not yet");
                    Ok(())
                }
            },
            options,
        )
        .await
        .unwrap();
    bus.publish(Flaky { n: 1 }).await.unwrap();

    let delivered = || nodes(&bus, TraceKind::Delivered, Flaky::NAME);
    assert!(eventually(WAIT, || !delivered().is_empty()).await);
    let node = &delivered()[0];
    assert!(node.success, "{node:?}");
    assert_eq!(node.attempts, 3);
    assert_eq!(attempts.get(), [1, 2, 3]);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(nodes(&bus, TraceKind::Published, "_dlq.t.retries.flaky").is_empty());
}

async fn backoff_doubles_between_attempts(backend: Backend) {
    let bus = backend.bus().await;
    let times = Seen::default();
    let t = times.clone();
    let base = Duration::from_millis(40);
    let options = SubOptions {
        retries: 3,
        backoff: base,
        ..SubOptions::default()
    };
    bus.for_plugin(&plugin("Doomed"))
        .subscribe_with(
            &Arc::new(Nobody),
            move |_, _: Envelope<Doomed>| {
                let t = t.clone();
                async move {
                    t.push(Instant::now());
                    anyhow::bail!("always") as anyhow::Result<()>
                }
            },
            options,
        )
        .await
        .unwrap();
    bus.publish(Doomed { n: 1 }).await.unwrap();

    assert!(
        eventually(WAIT, || times.len() == 4).await,
        "{}",
        times.len()
    );
    let times = times.get();
    for (i, pair) in times.windows(2).enumerate() {
        let gap = pair[1] - pair[0];
        let scheduled = base * 2u32.pow(i as u32);
        assert!(
            gap >= scheduled,
            "wait {i} was {gap:?}, scheduled {scheduled:?}"
        );
        assert!(
            gap < scheduled + Duration::from_millis(500),
            "wait {i} was {gap:?}, scheduled {scheduled:?}"
        );
    }
}
