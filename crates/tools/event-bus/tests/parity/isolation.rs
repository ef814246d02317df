//! A failing, panicking or mismatched subscriber harms neither the publisher
//! nor the other subscribers, and says what went wrong.

use std::sync::Arc;
use std::time::Duration;

use microcore_event_bus::{DeadLetter, Envelope, SubOptions, TraceKind};
use microcore_kernel::Tool;

use crate::common::{Backend, Nobody, Seen, WAIT, eventually, nodes, plugin};

test_event!(Boom, "t.isolation.boom", { n: u32 });
test_event!(ShapeOut, "t.isolation.shape", { name: String });
test_event!(ShapeIn, "t.isolation.shape", { count: u32 });

parity!(
    a_panicking_subscriber_harms_nobody,
    a_payload_of_the_wrong_shape_is_dead_lettered_with_a_clear_error,
);

async fn a_panicking_subscriber_harms_nobody(backend: Backend) {
    let bus = backend.bus().await;
    bus.for_plugin(&plugin("Panicky"))
        .subscribe(&Arc::new(Nobody), |_, e: Envelope<Boom>| async move {
            if e.n < 100 {
                panic!("kaboom {}", e.n);
            }
            Ok(())
        })
        .await
        .unwrap();
    let seen = Seen::default();
    let s = seen.clone();
    bus.for_plugin(&plugin("Calm"))
        .subscribe(&Arc::new(Nobody), move |_, e: Envelope<Boom>| {
            let s = s.clone();
            async move {
                s.push(e.n);
                Ok(())
            }
        })
        .await
        .unwrap();
    for n in 0..3 {
        bus.publish(Boom { n })
            .await
            .expect("the publisher is unaffected");
    }
    assert!(eventually(WAIT, || seen.len() == 3).await);
    assert_eq!(seen.get(), [0, 1, 2]);
    let panicked = || {
        nodes(&bus, TraceKind::Delivered, "t.isolation.boom")
            .into_iter()
            .filter(|n| {
                n.error
                    .as_deref()
                    .is_some_and(|e| e.contains("panicked") && e.contains("kaboom"))
            })
            .count()
    };
    assert!(eventually(WAIT, || panicked() == 3).await);
}

async fn a_payload_of_the_wrong_shape_is_dead_lettered_with_a_clear_error(backend: Backend) {
    let bus = backend.bus().await;
    let calls = Seen::default();
    let c = calls.clone();
    let options = SubOptions {
        retries: 3,
        backoff: Duration::from_millis(1),
        ..SubOptions::default()
    };
    bus.for_plugin(&plugin("Strict"))
        .subscribe_with(
            &Arc::new(Nobody),
            move |_, e: Envelope<ShapeIn>| {
                let c = c.clone();
                async move {
                    c.push(e.count);
                    Ok(())
                }
            },
            options,
        )
        .await
        .unwrap();
    bus.for_plugin(&plugin("Loose"))
        .publish(ShapeOut { name: "x".into() })
        .await
        .unwrap();

    let letters = || nodes(&bus, TraceKind::Published, "_dlq.t.isolation.shape");
    assert!(eventually(WAIT, || !letters().is_empty()).await);
    let letter: DeadLetter = serde_json::from_value(letters()[0].envelope.payload.clone()).unwrap();
    assert_eq!(letter.attempts, 1, "retrying cannot fix a payload");
    for part in [
        "t.isolation.shape",
        "ShapeIn",
        "missing field `count`",
        "tests.Loose",
    ] {
        assert!(
            letter.error.contains(part),
            "{part:?} not in {:?}",
            letter.error
        );
    }
    assert!(calls.get().is_empty());
}
