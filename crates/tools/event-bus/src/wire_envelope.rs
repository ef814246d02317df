//! The envelope as the bus carries it: the payload stays the JSON text the
//! publisher serialised, from `publish` to every delivery.
//!
//! Serialising a payload once straight to text, and decoding each delivery
//! straight from that text into the subscriber's type, costs a fraction of
//! going through a `serde_json::Value` tree both ways; a NATS driver sends
//! the text inside the envelope as it is. The public [`RawEnvelope`] (with
//! the payload as a `Value`) is made from it only where someone reads it:
//! the trace history, listeners, dead letters.
//!
//! On the wire both serialise to the same JSON object with the same fields,
//! so replicas of either kind read each other's envelopes.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use microcore_kernel::TraceContext;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::envelope::{Envelope, RawEnvelope, now, short_type_name};
use crate::event::Event;

/// A payload as JSON text, validated when it was made or read.
pub(crate) type Payload = Box<RawValue>;

/// The JSON text of `value`, or why it has none.
pub(crate) fn payload_of<T: Serialize + ?Sized>(value: &T) -> Result<Payload, serde_json::Error> {
    serde_json::value::to_raw_value(value)
}

/// `null` as a payload: what a payload that cannot be serialised becomes on
/// the bus's own failure paths (dead letters, drop notices), as before.
pub(crate) fn null_payload() -> Payload {
    RawValue::NULL.to_owned()
}

/// The JSON text of `value`, or `null` when it has none: for what the bus
/// itself publishes (dead letters, error replies, drop notices) and for
/// `Value`s, which always serialise, so the fallback is never expected.
pub(crate) fn payload_or_null<T: Serialize + ?Sized>(value: &T) -> Payload {
    payload_of(value).unwrap_or_else(|_| null_payload())
}

/// The envelope drivers move, the trace keeps and deliveries decode; the
/// same fields as [`RawEnvelope`] with the payload as JSON text.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct WireEnvelope {
    pub(crate) id: String,
    /// Borrowed from `E::NAME` when published here, so a publish does not
    /// copy the name; owned when read off the wire or made at run time.
    pub(crate) event: Cow<'static, str>,
    pub(crate) payload: Payload,
    /// Shared with the publishing handle's identity instead of copied per
    /// publish; on the wire a plain string, as `RawEnvelope`'s.
    #[serde(with = "shared_str")]
    pub(crate) emitter: Arc<str>,
    pub(crate) timestamp: f64,
    #[serde(default)]
    pub(crate) parent_id: Option<String>,
    #[serde(default)]
    pub(crate) correlation_id: Option<String>,
    #[serde(default)]
    pub(crate) reply_to: Option<String>,
    #[serde(default)]
    pub(crate) key: Option<String>,
    #[serde(default)]
    pub(crate) delay: Option<f64>,
    #[serde(default)]
    pub(crate) ttl: Option<f64>,
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) trace: Option<TraceContext>,
    /// `id` as the call context of every delivery holds it, made by the
    /// first delivery and shared by the others (ten subscribers: one
    /// allocation, not ten). Never on the wire.
    #[serde(skip)]
    pub(crate) shared_id: OnceLock<Arc<str>>,
}

/// An `Arc<str>` read and written as a JSON string (serde's own impls for
/// `Arc` need its `rc` feature and read through an extra `String`).
mod shared_str {
    use std::fmt;
    use std::sync::Arc;

    use serde::de::{Error, Visitor};
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(value)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<str>, D::Error> {
        struct Text;
        impl Visitor<'_> for Text {
            type Value = Arc<str>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<Arc<str>, E> {
                Ok(Arc::from(v))
            }
        }
        d.deserialize_str(Text)
    }
}

impl WireEnvelope {
    /// Carries a public envelope (an outbox event, a dead letter replayed).
    pub(crate) fn from_raw(raw: RawEnvelope) -> Self {
        Self {
            payload: payload_or_null(&raw.payload),
            id: raw.id,
            event: Cow::Owned(raw.event),
            emitter: Arc::from(raw.emitter),
            timestamp: raw.timestamp,
            parent_id: raw.parent_id,
            correlation_id: raw.correlation_id,
            reply_to: raw.reply_to,
            key: raw.key,
            delay: raw.delay,
            ttl: raw.ttl,
            headers: raw.headers,
            trace: raw.trace,
            shared_id: OnceLock::new(),
        }
    }

    /// The public form, for readers of the trace and dead letters. The text
    /// was valid JSON when carried, so it parses; `null` if it somehow does not.
    pub(crate) fn to_raw(&self) -> RawEnvelope {
        RawEnvelope {
            id: self.id.clone(),
            event: self.event.to_string(),
            payload: serde_json::from_str(self.payload.get()).unwrap_or_default(),
            emitter: self.emitter.to_string(),
            timestamp: self.timestamp,
            parent_id: self.parent_id.clone(),
            correlation_id: self.correlation_id.clone(),
            reply_to: self.reply_to.clone(),
            key: self.key.clone(),
            delay: self.delay,
            ttl: self.ttl,
            headers: self.headers.clone(),
            trace: self.trace.clone(),
        }
    }

    /// Decodes the payload straight from its text into `T`.
    pub(crate) fn decode_payload<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.payload.get())
    }

    /// The envelope as JSON bytes for NATS, written into a buffer sized for
    /// it up front: `serde_json::to_vec` starts at 128 bytes and grows
    /// (reallocating) twice for a small event.
    #[cfg(feature = "nats")]
    pub(crate) fn to_wire(&self) -> Result<Vec<u8>, serde_json::Error> {
        let texts = [
            Some(self.id.as_str()),
            Some(&*self.event),
            Some(&*self.emitter),
            Some(self.payload.get()),
            self.parent_id.as_deref(),
            self.correlation_id.as_deref(),
            self.reply_to.as_deref(),
            self.key.as_deref(),
        ];
        let headers: usize = self
            .headers
            .iter()
            .map(|(k, v)| k.len() + v.len() + 8)
            .sum();
        // The field names, quotes, numbers and nulls take under 256 bytes.
        let size = 256 + headers + texts.into_iter().flatten().map(str::len).sum::<usize>();
        let mut body = Vec::with_capacity(size);
        serde_json::to_writer(&mut body, self)?;
        Ok(body)
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
            .and_then(|rest| rest.strip_prefix(&*self.event))
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|id| id.len() == 8 && id.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    /// The id as a delivery's call context holds it, made once per envelope.
    pub(crate) fn shared_id(&self) -> Arc<str> {
        self.shared_id
            .get_or_init(|| Arc::from(self.id.as_str()))
            .clone()
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

impl<E: Event> Envelope<E> {
    /// Decodes `raw` for a subscriber expecting `E`, or says precisely why not.
    pub(crate) fn decode(
        raw: &WireEnvelope,
        attempt: u32,
        subscriber: &str,
    ) -> Result<Self, String> {
        let payload = raw.decode_payload::<E>().map_err(|e| {
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
            event: raw.event.to_string(),
            payload,
            emitter: raw.emitter.to_string(),
            parent_id: raw.parent_id.clone(),
            correlation_id: raw.correlation_id.clone(),
            key: raw.key.clone(),
            timestamp: raw.timestamp,
            headers: raw.headers.clone(),
            attempt,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn public() -> RawEnvelope {
        let mut raw = RawEnvelope::stored(
            "id-1".to_owned(),
            "t.wire.sent".to_owned(),
            json!({"n": 3, "name": "x", "nested": {"b": [1, 2.5, null]}}),
            "d.P.on_x".to_owned(),
            12.5,
            Some("parent".to_owned()),
        );
        raw.key = Some("k".to_owned());
        raw.ttl = Some(4.0);
        raw.headers.insert("h".to_owned(), "v".to_owned());
        raw
    }

    /// A fleet mixing replicas that carry either form must read each
    /// other's envelopes: the same JSON in both directions.
    #[test]
    fn both_forms_serialise_to_the_same_json_and_read_each_other() {
        let raw = public();
        let wire = WireEnvelope::from_raw(raw.clone());
        let from_wire: serde_json::Value = serde_json::to_value(&wire).unwrap();
        let from_raw: serde_json::Value = serde_json::to_value(&raw).unwrap();
        assert_eq!(from_wire, from_raw);
        let read: RawEnvelope =
            serde_json::from_slice(&serde_json::to_vec(&wire).unwrap()).unwrap();
        assert_eq!(read, raw);
        let back: WireEnvelope =
            serde_json::from_slice(&serde_json::to_vec(&raw).unwrap()).unwrap();
        assert_eq!(back.to_raw(), raw);
    }

    #[test]
    fn a_payload_decodes_straight_into_its_type() {
        #[derive(Deserialize, PartialEq, Debug)]
        struct Sent {
            n: u32,
            name: String,
        }
        let wire = WireEnvelope::from_raw(public());
        assert_eq!(
            wire.decode_payload::<Sent>().unwrap(),
            Sent {
                n: 3,
                name: "x".to_owned()
            }
        );
        assert!(wire.decode_payload::<Vec<u8>>().is_err());
    }
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
            let _ = WireEnvelope::from_wire(&bytes);
        }

        /// What survives reading is only what this process would have made:
        /// its own reply subject, and positive finite TTLs and delays.
        #[test]
        fn only_safe_reply_addresses_ttls_and_delays_survive(bytes in wire()) {
            if let Ok(e) = WireEnvelope::from_wire(&bytes) {
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
            prop_assert_eq!(WireEnvelope::from_wire(&bytes).unwrap().reply_to, Some(reply));
        }
    }
}
