//! Behaviour 18: request returns the first reply, an error the responder
//! answered with, or times out cleanly.

use std::sync::Arc;
use std::time::Duration;

use microcore_event_bus::{
    BusError, Envelope, EventBus, ReplyError, SubOptions, TraceKind, bail_reply,
};
use microcore_kernel::{Tool, ToolFailure};

use crate::common::{Backend, Nobody, Seen, WAIT, eventually, nodes, plugin};

test_event!(PingAsked, "t.rpc.ping_asked", { text: String });
test_event!(Pong, "t.rpc.pong", { res: String });
test_event!(Unanswered, "t.rpc.unanswered", { n: u32 });
test_event!(Silent, "t.rpc.silent", { n: u32 });

parity!(
    a_request_gets_the_subscribers_reply,
    a_request_nobody_answers_times_out_naming_the_event,
    a_handler_returning_unit_answers_nothing,
);

async fn a_request_gets_the_subscribers_reply(backend: Backend) {
    let bus = backend.bus().await;
    bus.for_plugin(&plugin("Ponger"))
        .subscribe(&Arc::new(Nobody), |_, e: Envelope<PingAsked>| async move {
            Ok(Pong {
                res: format!("pong to {}", e.text),
            })
        })
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

test_event!(Lookup, "t.rpc.lookup", { name: String });
test_event!(Found, "t.rpc.found", { value: String });
test_event!(Crashes, "t.rpc.crashes", { n: u32 });
test_event!(Flaky, "t.rpc.flaky", { n: u32 });
test_event!(Shaped, "t.rpc.shaped", { n: u32 });
test_event!(Misshaped, "t.rpc.shaped", { n: String });
test_event!(Stats, "t.rpc.stats", { n: u32 });

parity!(
    a_responder_refuses_with_a_code_the_requester_matches_at_once,
    an_untyped_failure_answers_internal_without_its_text,
    a_failing_request_is_neither_retried_nor_dead_lettered,
    a_request_of_the_wrong_shape_answers_bad_request,
    replies_stay_out_of_the_event_statistics,
);

/// A lookup service: one key exists, anything else is refused with `not_found`.
async fn serve_lookups(bus: &EventBus) {
    bus.for_plugin(&plugin("Store"))
        .subscribe(&Arc::new(Nobody), |_, e: Envelope<Lookup>| async move {
            if e.name != "a" {
                bail_reply!("not_found", "no value under key `{}`", e.name);
            }
            Ok(Found { value: "A".into() })
        })
        .await
        .unwrap();
}

async fn a_responder_refuses_with_a_code_the_requester_matches_at_once(backend: Backend) {
    let bus = backend.bus().await;
    serve_lookups(&bus).await;
    let asker = bus.for_plugin(&plugin("Asker"));
    let found: Found = asker
        .request(Lookup { name: "a".into() }, Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(found.value, "A");

    let err = asker
        .request::<_, Found>(Lookup { name: "zz".into() }, Duration::from_secs(10))
        .await
        .unwrap_err();
    match &err {
        BusError::Replied {
            event,
            from,
            code,
            message,
        } => {
            assert_eq!(event, "t.rpc.lookup");
            assert_eq!(from, "tests.Store.closure_in_serve_lookups");
            assert_eq!(code, "not_found");
            assert_eq!(message, "no value under key `zz`");
        }
        other => panic!("expected Replied, got {other:?}"),
    }
    assert_eq!(err.reply_code(), Some("not_found"));
    assert!(err.is_caller_error() && !err.is_unavailable());
    assert!(err.to_string().contains("not_found"), "{err}");
}

async fn an_untyped_failure_answers_internal_without_its_text(backend: Backend) {
    let bus = backend.bus().await;
    bus.for_plugin(&plugin("Crasher"))
        .subscribe(&Arc::new(Nobody), |_, _: Envelope<Crashes>| async move {
            anyhow::bail!("password=hunter2 leaked in a driver error") as anyhow::Result<Found>
        })
        .await
        .unwrap();
    let err = bus
        .request::<_, Found>(Crashes { n: 1 }, Duration::from_secs(10))
        .await
        .unwrap_err();
    let BusError::Replied { code, message, .. } = &err else {
        panic!("expected Replied, got {err:?}");
    };
    assert_eq!(code, ReplyError::INTERNAL);
    assert!(!message.contains("hunter2"), "{message}");
    assert!(
        message.contains("tests.Crasher"),
        "names the responder: {message}"
    );
    let failed = nodes(&bus, TraceKind::Delivered, "t.rpc.crashes");
    assert!(
        failed[0].error.as_deref().unwrap_or("").contains("hunter2"),
        "the trace keeps the cause for the responder's side"
    );
}

async fn a_failing_request_is_neither_retried_nor_dead_lettered(backend: Backend) {
    let bus = backend.bus().await;
    let attempts = Seen::default();
    let a = attempts.clone();
    let options = SubOptions::default()
        .retries(3)
        .backoff(Duration::from_millis(1));
    bus.for_plugin(&plugin("Flaky"))
        .subscribe_with(
            &Arc::new(Nobody),
            move |_, e: Envelope<Flaky>| {
                let a = a.clone();
                async move {
                    a.push(e.attempt);
                    Err::<Found, _>(ReplyError::new("busy", "try later").into())
                }
            },
            options,
        )
        .await
        .unwrap();
    let err = bus
        .request::<_, Found>(Flaky { n: 1 }, Duration::from_secs(10))
        .await
        .unwrap_err();
    assert_eq!(err.reply_code(), Some("busy"), "{err:?}");
    // A plain publish of the same event still gets its retries and dead letter.
    bus.publish(Flaky { n: 2 }).await.unwrap();
    let letters = || nodes(&bus, TraceKind::Published, "_dlq.t.rpc.flaky");
    assert!(eventually(WAIT, || letters().len() == 1).await);
    assert_eq!(
        attempts.get(),
        [1, 1, 2, 3, 4],
        "the request had one attempt, the publish four"
    );
    let letter = &letters()[0].envelope.payload;
    assert_eq!(
        letter["original"]["payload"]["n"], 2,
        "only the publish is dead-lettered"
    );
}

async fn a_request_of_the_wrong_shape_answers_bad_request(backend: Backend) {
    let bus = backend.bus().await;
    bus.for_plugin(&plugin("Shaper"))
        .subscribe(&Arc::new(Nobody), |_, e: Envelope<Shaped>| async move {
            Ok(Found {
                value: e.n.to_string(),
            })
        })
        .await
        .unwrap();
    let err = bus
        .request::<_, Found>(Misshaped { n: "x".into() }, Duration::from_secs(10))
        .await
        .unwrap_err();
    let BusError::Replied { code, message, .. } = &err else {
        panic!("expected Replied, got {err:?}");
    };
    assert_eq!(code, ReplyError::BAD_REQUEST);
    assert!(
        message.contains("Shaped"),
        "names the expected type: {message}"
    );
}

/// Review item 18: each reply event name is unique to its request, so
/// counting them grew the statistics forever.
async fn replies_stay_out_of_the_event_statistics(backend: Backend) {
    let bus = backend.bus().await;
    bus.for_plugin(&plugin("Echo"))
        .subscribe(&Arc::new(Nobody), |_, e: Envelope<Stats>| async move {
            Ok(Found {
                value: e.n.to_string(),
            })
        })
        .await
        .unwrap();
    for n in 0..3 {
        let _: Found = bus
            .request(Stats { n }, Duration::from_secs(3))
            .await
            .unwrap();
    }
    let stats = bus.event_stats();
    assert_eq!(stats["t.rpc.stats"].published, 3);
    let replies: Vec<&String> = stats.keys().filter(|k| k.starts_with("_reply.")).collect();
    assert!(replies.is_empty(), "{replies:?}");
}
