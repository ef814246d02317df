//! Review item 19: an envelope read from NATS was trusted as it came. Anyone
//! who may publish on the bus's subjects could point a responder's reply at
//! any event, or send an event with a negative TTL that no subscriber ever
//! sees. The bus now honours `reply_to` only for its own reply subjects and
//! ignores a TTL or delay that is not a positive number.

use std::sync::Arc;

use microcore_event_bus::{Envelope, TraceKind};
use microcore_kernel::Tool;
use serde_json::json;

use crate::common::{Backend, Nobody, WAIT, eventually, nats_url, nodes, plugin};

test_event!(Asked, "t.wire.asked", { n: u32 });
test_event!(Answer, "t.wire.answer", { n: u32 });

parity!(replicas: an_envelope_from_the_wire_cannot_redirect_replies_or_expire_itself);

async fn an_envelope_from_the_wire_cannot_redirect_replies_or_expire_itself(backend: Backend) {
    let bus = backend.bus().await;
    bus.for_plugin(&plugin("Responder"))
        .subscribe(&Arc::new(Nobody), |_, e: Envelope<Asked>| async move {
            Ok(Answer { n: e.n })
        })
        .await
        .unwrap();
    let client = async_nats::connect(nats_url()).await.unwrap();
    let subject = format!("{}t.wire.asked", backend.prefix());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let forged = [
        json!({"reply_to": "t.wire.victim"}),
        json!({"reply_to": "_reply.t.other.0123abcd"}),
        json!({"ttl": -5.0, "delay": -1.0}),
    ];
    for (n, extra) in forged.iter().enumerate() {
        let mut envelope = json!({
            "id": uuid::Uuid::new_v4().to_string(),
            "event": "t.wire.asked",
            "payload": {"n": n},
            "emitter": "outsider",
            "timestamp": now,
        });
        envelope
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let body = serde_json::to_vec(&envelope).unwrap();
        client.publish(subject.clone(), body.into()).await.unwrap();
    }
    client.flush().await.unwrap();

    let delivered = || nodes(&bus, TraceKind::Delivered, "t.wire.asked");
    assert!(
        eventually(WAIT, || delivered().len() == 3).await,
        "{:?}",
        delivered()
    );
    for node in delivered() {
        assert!(node.success, "delivered, not expired: {:?}", node.error);
        let envelope = &node.envelope;
        assert_eq!(
            envelope.reply_to, None,
            "a foreign reply address is dropped"
        );
        assert_eq!((envelope.ttl, envelope.delay), (None, None));
    }
    assert!(nodes(&bus, TraceKind::Published, "t.wire.victim").is_empty());
}
