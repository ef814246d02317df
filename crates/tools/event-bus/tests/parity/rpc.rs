//! Behaviour 18: request returns the first reply, or times out cleanly.

use std::sync::Arc;
use std::time::Duration;

use microcore_event_bus::{BusError, Envelope, SubOptions};
use microcore_kernel::{Tool, ToolFailure};

use crate::common::{Backend, Nobody, plugin};

test_event!(PingAsked, "t.rpc.ping_asked", { text: String });
test_event!(Pong, "t.rpc.pong", { res: String });
test_event!(Unanswered, "t.rpc.unanswered", { n: u32 });
test_event!(Silent, "t.rpc.silent", { n: u32 });

parity!(
    a_request_gets_the_subscribers_reply_even_after_a_retry,
    a_request_nobody_answers_times_out_naming_the_event,
    a_handler_returning_unit_answers_nothing,
);

async fn a_request_gets_the_subscribers_reply_even_after_a_retry(backend: Backend) {
    let bus = backend.bus().await;
    let options = SubOptions {
        retries: 1,
        backoff: Duration::from_millis(1),
        ..SubOptions::default()
    };
    bus.for_plugin(&plugin("Ponger"))
        .subscribe_with(
            &Arc::new(Nobody),
            |_, e: Envelope<PingAsked>| async move {
                anyhow::ensure!(e.attempt > 1, "first attempt fails");
                Ok(Pong {
                    res: format!("pong to {}", e.text),
                })
            },
            options,
        )
        .await
        .unwrap();
    let asker = bus.for_plugin(&plugin("Asker"));
    let reply: Pong = asker
        .request(PingAsked { text: "ana".into() }, Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(
        reply,
        Pong {
            res: "pong to ana".into()
        }
    );
}

async fn a_request_nobody_answers_times_out_naming_the_event(backend: Backend) {
    let bus = backend.bus().await;
    let err = bus
        .request::<_, Pong>(Unanswered { n: 1 }, Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(matches!(err, BusError::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("t.rpc.unanswered"), "{err}");
    assert!(err.is_caller_error() && !err.is_unavailable());
}

async fn a_handler_returning_unit_answers_nothing(backend: Backend) {
    let bus = backend.bus().await;
    bus.for_plugin(&plugin("Mute"))
        .subscribe(&Arc::new(Nobody), |_, _: Envelope<Silent>| async { Ok(()) })
        .await
        .unwrap();
    let err = bus
        .request::<_, Pong>(Silent { n: 1 }, Duration::from_millis(150))
        .await
        .unwrap_err();
    assert!(matches!(err, BusError::Timeout { .. }), "{err:?}");
}
