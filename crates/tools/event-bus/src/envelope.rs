//! The envelope around every event: who published it, because of what, and
//! how it should travel. The bus stamps identity and causality itself.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::time::{SystemTime, UNIX_EPOCH};

use microcore_kernel::TraceContext;
use serde::{Deserialize, Serialize};

use crate::EventBus;
use crate::event::Event;

/// An envelope with its payload still as JSON: what drivers carry, what the
/// trace records and what listeners see.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RawEnvelope {
    /// Unique id (uuid v4).
    pub id: String,
    /// The event name.
    pub event: String,
    /// The payload as JSON.
    pub payload: serde_json::Value,
    /// Identity of the code that published it, set by the bus (never the caller).
    pub emitter: String,
    /// Seconds since the Unix epoch at publish time.
    pub timestamp: f64,
    /// The event (or request) being handled when this was published.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// Ties a request to its replies, or a business flow together.
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// The event a subscriber's return value is published to (RPC).
    #[serde(default)]
    pub reply_to: Option<String>,
    /// The ordering key: same key, publish order.
    #[serde(default)]
    pub key: Option<String>,
    /// Requested delay in seconds.
    #[serde(default)]
    pub delay: Option<f64>,
    /// Time to live in seconds, counted from `timestamp`.
    #[serde(default)]
    pub ttl: Option<f64>,
    /// Free-form metadata.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The W3C trace context of the publish, so the subscriber's work (in
    /// this process or on another replica) joins the publisher's trace.
    /// Absent with OpenTelemetry off; a malformed one is ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<TraceContext>,
}

impl RawEnvelope {
    /// The envelope of an event a transaction stored in the outbox: its id,
    /// name, payload, emitter, time and parent as stored, with no options
    /// (an outbox event has no key, delay, ttl, headers or reply address).
    /// For [`EventBus::publish_stored`](crate::EventBus::publish_stored).
    pub fn stored(
        id: String,
        event: String,
        payload: serde_json::Value,
        emitter: String,
        timestamp: f64,
        parent_id: Option<String>,
    ) -> Self {
        Self {
            id,
            event,
            payload,
            emitter,
            timestamp,
            parent_id,
            correlation_id: None,
            reply_to: None,
            key: None,
            delay: None,
            ttl: None,
            headers: Default::default(),
            trace: None,
        }
    }

    /// The same envelope, carrying the trace context `trace` (an outbox
    /// event carries the trace of the transaction that stored it).
    pub fn with_trace(mut self, trace: Option<TraceContext>) -> Self {
        self.trace = trace;
        self
    }

    /// Reads an envelope that came over NATS. The wire is a trust boundary
    /// only as strong as the NATS credentials: whoever may publish on the
    /// bus's subjects can send any envelope, so what would let one steer
    /// this process is checked here. A `reply_to` other than this request's
    /// own reply event (`_reply.<event>.<8 hex>`) is dropped, so a responder
    /// cannot be made to publish its answer as an arbitrary event; a TTL or
    /// delay that is not a positive number is ignored.
    #[cfg(feature = "nats")]
    pub(crate) fn from_wire(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let mut envelope: Self = serde_json::from_slice(bytes)?;
        if let Some(reply_to) = &envelope.reply_to
            && !envelope.is_reply_address(reply_to)
        {
            tracing::warn!(event = %envelope.event, id = %envelope.id, emitter = %envelope.emitter, %reply_to, "event bus: ignored a reply address that is not a reply subject of this event");
            envelope.reply_to = None;
        }
        let positive = |v: f64| v.is_finite() && v > 0.0;
        envelope.ttl = envelope.ttl.filter(|t| positive(*t));
        envelope.delay = envelope.delay.filter(|d| positive(*d));
        Ok(envelope)
    }

    /// True for `_reply.<this event>.<8 hex digits>`, what `request` makes.
    #[cfg(feature = "nats")]
    fn is_reply_address(&self, reply_to: &str) -> bool {
        reply_to
            .strip_prefix(crate::REPLY_PREFIX)
            .and_then(|rest| rest.strip_prefix(self.event.as_str()))
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|id| id.len() == 8 && id.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    /// The unit ordering is kept within: the key, or the event name when unkeyed.
    pub(crate) fn unit(&self) -> &str {
        self.key.as_deref().unwrap_or(&self.event)
    }

    /// True when the envelope outlived its TTL. The clock is read only for
    /// an envelope that has one.
    pub(crate) fn expired(&self) -> bool {
        self.ttl.is_some_and(|ttl| now() - self.timestamp > ttl)
    }
}

/// One delivery of event `E` to a subscriber. Derefs to the payload, so
/// `event.email` reads the payload's field; a payload field named like an
/// envelope field (`id`, `key`, `event`, ...) is reached as `event.payload.id`.
#[microcore_kernel::contract(of = EventBus)]
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope<E> {
    /// Unique id of this event (uuid v4), the same on every delivery of it:
    /// the key for an idempotent handler.
    pub id: String,
    /// The event name, `E::NAME` (`user.created`).
    pub event: String,
    /// The payload, typed; also reached through deref (`event.email`).
    pub payload: E,
    /// `"<plugin>.<method>"` that published it, set by the bus.
    pub emitter: String,
    /// The event or request being handled when this was published; `None` at the top.
    pub parent_id: Option<String>,
    /// The publisher's `PublishOptions::correlation_id`.
    pub correlation_id: Option<String>,
    /// The publisher's `PublishOptions::key`.
    pub key: Option<String>,
    /// Publish time in seconds since the Unix epoch.
    pub timestamp: f64,
    /// The publisher's `PublishOptions::header`s.
    pub headers: BTreeMap<String, String>,
    /// Which attempt this is, from 1; above 1 after a failed attempt and a retry.
    pub attempt: u32,
}

#[microcore_kernel::contract(of = EventBus)]
impl<E> Envelope<E> {
    /// Returns the value of metadata header `name` set by the publisher, if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

impl<E: Event> Envelope<E> {
    /// Decodes `raw` for a subscriber expecting `E`, or says precisely why not.
    pub(crate) fn decode(
        raw: &RawEnvelope,
        attempt: u32,
        subscriber: &str,
    ) -> Result<Self, String> {
        let payload = E::deserialize(&raw.payload).map_err(|e| {
            format!(
                "payload of `{}` (id {}) does not match `{}` expected by subscriber `{subscriber}`: {e}; \
                 make the subscriber's struct agree with what `{}` publishes",
                raw.event,
                raw.id,
                short_type_name::<E>(),
                raw.emitter
            )
        })?;
        Ok(Self {
            id: raw.id.clone(),
            event: raw.event.clone(),
            payload,
            emitter: raw.emitter.clone(),
            parent_id: raw.parent_id.clone(),
            correlation_id: raw.correlation_id.clone(),
            key: raw.key.clone(),
            timestamp: raw.timestamp,
            headers: raw.headers.clone(),
            attempt,
        })
    }
}

impl<E> Deref for Envelope<E> {
    type Target = E;
    fn deref(&self) -> &E {
        &self.payload
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `a::b::UserCreated` → `UserCreated`.
pub(crate) fn short_type_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

/// Properties of reading envelopes off the wire, where any publisher with
/// NATS credentials chooses the bytes.
#[cfg(all(test, feature = "nats"))]
mod properties {
    use super::*;

    use proptest::prelude::*;
    use serde_json::json;

    fn number() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            Just(serde_json::Value::Null),
            any::<f64>().prop_map(|f| json!(f)),
            any::<i64>().prop_map(|n| json!(n)),
            Just(json!("1")),
        ]
    }

    /// Envelopes with hostile reply addresses, TTLs and delays.
    fn wire() -> impl Strategy<Value = Vec<u8>> {
        (
            "[a-z]{1,6}\\.[a-z_]{1,8}",
            prop_oneof![
                Just(None),
                any::<String>().prop_map(Some),
                // `EVENT` becomes the envelope's own event below
                "_reply\\.(EVENT|[a-z.]{0,12})\\.[0-9a-fA-Fg]{6,10}".prop_map(Some),
            ],
            number(),
            number(),
            any::<f64>(),
        )
            .prop_map(|(event, reply_to, ttl, delay, timestamp)| {
                let reply_to = reply_to.map(|r| r.replace("EVENT", &event));
                serde_json::to_vec(&json!({
                    "id": "1", "event": event, "payload": {}, "emitter": "x",
                    "timestamp": if timestamp.is_finite() { json!(timestamp) } else { json!(0) },
                    "reply_to": reply_to, "ttl": ttl, "delay": delay,
                }))
                .unwrap()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_bytes_are_an_envelope_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = RawEnvelope::from_wire(&bytes);
        }

        /// What survives reading is only what this process would have made:
        /// its own reply subject, and positive finite TTLs and delays.
        #[test]
        fn only_safe_reply_addresses_ttls_and_delays_survive(bytes in wire()) {
            if let Ok(e) = RawEnvelope::from_wire(&bytes) {
                if let Some(r) = &e.reply_to {
                    let id = r.strip_prefix(&format!("_reply.{}.", e.event));
                    prop_assert!(
                        id.is_some_and(|id| id.len() == 8 && id.bytes().all(|b| b.is_ascii_hexdigit())),
                        "{}", r
                    );
                }
                for v in [e.ttl, e.delay].into_iter().flatten() {
                    prop_assert!(v.is_finite() && v > 0.0, "{}", v);
                }
            }
        }

        #[test]
        fn this_events_own_reply_subject_is_kept(event in "[a-z]{1,6}\\.[a-z_]{1,8}", id in "[0-9a-f]{8}") {
            let reply = format!("_reply.{event}.{id}");
            let bytes = serde_json::to_vec(&json!({
                "id": "1", "event": event, "payload": {}, "emitter": "x", "timestamp": 0,
                "reply_to": reply,
            }))
            .unwrap();
            prop_assert_eq!(RawEnvelope::from_wire(&bytes).unwrap().reply_to, Some(reply));
        }
    }
}
