//! Behaviour 12: the bus, not the caller, names the emitter and the parent.

use std::sync::Arc;

use microcore_event_bus::{Envelope, PublishOptions};
use microcore_kernel::{CallContext, Tool, in_context};

use crate::common::{Backend, Nobody, Seen, WAIT, eventually, plugin};

test_event!(Said, "t.emitter.said", { text: String });
test_event!(Parent, "t.emitter.parent", { n: u32 });
test_event!(Child, "t.emitter.child", { n: u32 });

parity!(
    emitter_comes_from_the_running_context_not_the_caller,
    a_child_event_names_its_parent_and_its_handler,
);

async fn emitter_comes_from_the_running_context_not_the_caller(backend: Backend) {
    let bus = backend.bus().await;
    let publisher = bus.for_plugin(&plugin("Publisher"));
    let listener = bus.for_plugin(&plugin("Listener"));
    let seen = Seen::default();
    let s = seen.clone();
    listener
        .subscribe(&Arc::new(Nobody), move |_, e: Envelope<Said>| {
            let s = s.clone();
            async move {
                s.push(e.emitter.clone());
                Ok(())
            }
        })
        .await
        .unwrap();

    let spoof = PublishOptions {
        headers: [("emitter".to_owned(), "SYSTEM_ADMIN".to_owned())].into(),
        ..PublishOptions::default()
    };
    let ctx = CallContext::new("tests.Authorized", None);
    in_context(
        ctx,
        publisher.publish_with(Said { text: "a".into() }, spoof),
    )
    .await
    .unwrap();
    publisher.publish(Said { text: "b".into() }).await.unwrap();

    assert!(
        eventually(WAIT, || seen.len() == 2).await,
        "{:?}",
        seen.get()
    );
    assert_eq!(seen.get(), ["tests.Authorized", "tests.Publisher"]);
}

async fn a_child_event_names_its_parent_and_its_handler(backend: Backend) {
    let bus = backend.bus().await;
    let relay = bus.for_plugin(&plugin("Relay"));
    let inner = relay.clone();
    let sub = relay
        .subscribe(&Arc::new(Nobody), move |_, e: Envelope<Parent>| {
            let bus = inner.clone();
            async move {
                bus.publish(Child { n: e.n }).await?;
                Ok(())
            }
        })
        .await
        .unwrap();
    let children = Seen::default();
    let c = children.clone();
    bus.for_plugin(&plugin("Sink"))
        .subscribe(&Arc::new(Nobody), move |_, e: Envelope<Child>| {
            let c = c.clone();
            async move {
                c.push(e);
                Ok(())
            }
        })
        .await
        .unwrap();

    let parent_id = bus.publish(Parent { n: 7 }).await.unwrap();

    assert!(eventually(WAIT, || children.len() == 1).await);
    let child = &children.get()[0];
    assert_eq!(child.parent_id.as_deref(), Some(parent_id.as_str()));
    assert_eq!(child.emitter, sub.subscriber());
    assert_eq!(
        sub.subscriber(),
        "tests.Relay.closure_in_a_child_event_names_its_parent_and_its_handler"
    );
    assert_eq!(child.n, 7);
}
