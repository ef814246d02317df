//! The `event_bus` tool: plugins talk only through events.
//!
//! Publish a fact, subscribe a method to it, or ask and wait for an answer:
//!
//! ```ignore
//! self.event_bus.publish(UserCreated { id, email }).await?;
//! self.event_bus.subscribe(&self, Self::on_user_created).await?;
//! let total: Total = self.event_bus.request(PriceQuoted { sku }, Duration::from_secs(2)).await?;
//! ```
//!
//! A responder refuses a request with a code the requester branches on; the
//! refusal arrives at once (a request is never retried or dead-lettered):
//!
//! ```ignore
//! // responder
//! if !known { bail_reply!("not_found", "no price for {}", event.sku); }
//! // requester
//! match self.event_bus.request::<_, Total>(PriceQuoted { sku }, timeout).await {
//!     Ok(total) => { /* ... */ }
//!     Err(BusError::Replied { code, .. }) if code == "not_found" => { /* ... */ }
//!     Err(e) => return Err(e.into()),
//! }
//! ```
//!
//! Delivery semantics live here once, whatever the transport: per-key
//! ordering, retries with exponential backoff, dead letters (`_dlq.<event>`),
//! TTL, delay, the automatic drop of a subscriber failing
//! [`DROP_THRESHOLD`] times in a row, panic isolation, and a trace of the
//! last [`TRACE_CAPACITY`] records. Drivers only move envelopes, and
//! [`Capabilities`] says how: in-process (default), core NATS
//! (`EVENT_BUS_DRIVER=nats`) for many replicas, at most once, or NATS
//! JetStream (`EVENT_BUS_DRIVER=jetstream`) for many replicas, durable and at
//! least once: an event waits in a stream for its group's next member, and a
//! delivery cut short by a crash is redelivered, so handlers should be
//! idempotent.

mod dead_letters;
mod delivery;
mod driver;
mod envelope;
mod error;
mod event;
mod handle;
mod observe;
mod options;
mod outcome;
mod reply;
mod rpc;
mod stored;
mod subscribe;
mod tool;
mod trace;
mod wire_envelope;

pub use dead_letters::{DEAD_LETTER_CAPACITY, RecordedDeadLetter};
pub use driver::{Capabilities, Delivery, Support};
pub use envelope::{Envelope, RawEnvelope};
pub use error::BusError;
pub use event::{DeadLetter, Event, SubscriberDropped};
pub use handle::EventBus;
pub use options::{PublishOptions, SubOptions};
pub use reply::ReplyError;
pub use subscribe::{Subscription, SubscriptionInfo};
pub use trace::{EventStats, ListenerId, TRACE_CAPACITY, TraceKind, TraceNode};

/// Published once when a subscriber is dropped for failing repeatedly.
pub const SUBSCRIBER_DROPPED_EVENT: &str = "system.subscriber.dropped";

/// Consecutive final failures on one event after which a subscriber is dropped.
pub const DROP_THRESHOLD: u32 = 5;

/// Dead letters are published as `_dlq.<event>`.
pub const DLQ_PREFIX: &str = "_dlq.";

/// Replies to a request travel on `_reply.<event>.<id>`.
pub const REPLY_PREFIX: &str = "_reply.";
