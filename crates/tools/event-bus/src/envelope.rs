//! The envelope around every event: who published it, because of what, and
//! how it should travel. The bus stamps identity and causality itself.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::time::{SystemTime, UNIX_EPOCH};

use microcore_kernel::TraceContext;
use serde::{Deserialize, Serialize};

use crate::EventBus;

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
