//! The `EventBus` handle: shared state, identity stamping and publishing.

use std::any::TypeId;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;

use microcore_kernel::{
    Probe, ToolFailure, TraceContext, current_event_id, current_identity, metrics,
};
use opentelemetry::KeyValue;

use crate::driver::{Capabilities, Delivery, Driver, DriverError, Support};
use crate::envelope::now;
use crate::error::BusError;
use crate::event::Event;
use crate::options::PublishOptions;
use crate::subscribe::SubEntry;
use crate::trace::Trace;
use crate::wire_envelope::{Payload, WireEnvelope, payload_of};

/// The event bus: publish facts, subscribe to them, ask and answer (RPC).
///
/// Every plugin receives its own handle, stamped with its identity; the
/// envelope's emitter and parent id come from the running code's context,
/// never from the caller, so neither can be spoofed or lost.
#[derive(Clone)]
pub struct EventBus {
    pub(crate) inner: Arc<Inner>,
    pub(crate) plugin: Option<Arc<str>>,
}

/// How much the bus holds in memory before it refuses more.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// `EVENT_BUS_MAX_QUEUED`: deliveries one subscription holds, running or waiting.
    pub(crate) max_queued: usize,
    /// `EVENT_BUS_MAX_DELAYED`: delayed events this process holds until due.
    pub(crate) max_delayed: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_queued: 10_000,
            max_delayed: 10_000,
        }
    }
}

pub(crate) struct Inner {
    pub(crate) probe: Probe,
    pub(crate) driver: Box<dyn Driver>,
    pub(crate) trace: Trace,
    pub(crate) subs: Mutex<BTreeMap<u64, Arc<SubEntry>>>,
    pub(crate) next_id: AtomicU64,
    /// Per `"<plugin>.closure_in_<fn>"`, the closure types seen, in order.
    pub(crate) closure_names: Mutex<HashMap<String, Vec<TypeId>>>,
    pub(crate) dlq_enabled: bool,
    pub(crate) limits: Limits,
    /// Delayed events waiting in this process, bounded by `limits.max_delayed`.
    pub(crate) delayed: AtomicUsize,
    /// Set when drain begins: only running deliveries may still publish.
    pub(crate) draining: AtomicBool,
    /// Set when drain ends or at shutdown: nothing may publish.
    pub(crate) closed: AtomicBool,
    /// Deliveries queued or running, plus delayed publishes not yet handed over.
    pub(crate) in_flight: AtomicUsize,
    /// The dead letters this process made, for `/system/dead-letters`.
    pub(crate) dead_letters: crate::dead_letters::DeadLetterLog,
}

impl fmt::Debug for EventBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventBus")
            .field("driver", &self.inner.driver.name())
            .field("plugin", &self.plugin)
            .finish()
    }
}

/// An error that cannot happen, for reads measured by the probe.
pub(crate) enum Never {}

impl ToolFailure for Never {}

#[microcore_kernel::contract(
    backends = "in-process (default) | NATS (at-most-once) | JetStream (at-least-once)",
    env = "EVENT_BUS_DRIVER, NATS_URL, EVENT_BUS_* tuning",
    errors = "BusError: Unavailable, Timeout, Closed, InvalidOptions, Serialize, BadReply, Replied, Full"
)]
impl EventBus {
    pub(crate) fn new(
        probe: Probe,
        driver: Box<dyn Driver>,
        dlq_enabled: bool,
        limits: Limits,
    ) -> Self {
        probe.accept_faults();
        Self {
            inner: Arc::new(Inner {
                probe,
                driver,
                trace: Trace::new(),
                subs: Mutex::new(BTreeMap::new()),
                next_id: AtomicU64::new(1),
                closure_names: Mutex::new(HashMap::new()),
                dlq_enabled,
                limits,
                delayed: AtomicUsize::new(0),
                draining: AtomicBool::new(false),
                closed: AtomicBool::new(false),
                in_flight: AtomicUsize::new(0),
                dead_letters: Default::default(),
            }),
            plugin: None,
        }
    }

    /// Publishes `event` to its subscribers and returns its id once the transport has it.
    ///
    /// Never waits for subscribers; a failing subscriber does not fail the publish.
    pub async fn publish<E: Event>(&self, event: E) -> Result<String, BusError> {
        self.publish_with(event, PublishOptions::default()).await
    }

    /// Publishes `event` with a key, delay, TTL, headers or correlation id and returns its id.
    ///
    /// Build the options with `PublishOptions::default().key(k).delay(d)`.
    pub async fn publish_with<E: Event>(
        &self,
        event: E,
        options: PublishOptions,
    ) -> Result<String, BusError> {
        let emitter = self.emitter();
        self.inner
            .probe
            .observe("publish", async {
                let payload = to_payload(E::NAME, &event)?;
                self.inner.ensure_open(E::NAME)?;
                let envelope = Inner::envelope(E::NAME.into(), payload, emitter, options, None);
                self.inner.send(envelope).await
            })
            .await
    }

    /// The identity that publishes: the running code's, else this handle's plugin.
    /// Shared, not copied: every envelope of one identity points at its name.
    pub(crate) fn emitter(&self) -> Arc<str> {
        let current = current_identity();
        match &self.plugin {
            Some(plugin) if &*current == "system" => plugin.clone(),
            _ => current,
        }
    }
}

/// Framework-facing: used by the kernel, the test kit, `/system/*` and the
/// manifest generator. Not part of the plugin contract, so AI_CONTEXT.md
/// leaves it out.
impl EventBus {
    /// The name of the active driver (`in_process`, `nats`, `jetstream`).
    pub fn driver_name(&self) -> &'static str {
        self.read("driver_name", || self.inner.driver.name())
    }

    /// What the active driver does itself and what the bus does on top.
    pub fn capabilities(&self) -> Capabilities {
        self.read("capabilities", || self.inner.driver.capabilities())
    }

    /// Runs a read through the probe, so every method is measured.
    pub(crate) fn read<T>(&self, method: &'static str, f: impl FnOnce() -> T) -> T {
        let Ok(value) = self
            .inner
            .probe
            .observe_sync::<T, Never>(method, || Ok(f()));
        value
    }
}

impl Inner {
    /// Refuses a publish once the bus is closed, and during a drain unless it
    /// comes from a running delivery: that delivery is finishing its work,
    /// and refusing its follow-up events would fail it (see `Tool::drain`).
    pub(crate) fn ensure_open(&self, event: &str) -> Result<(), BusError> {
        let refused = self.closed.load(Ordering::Acquire)
            || (self.draining() && !crate::delivery::delivering());
        if refused {
            Err(BusError::Closed {
                event: event.to_owned(),
            })
        } else {
            Ok(())
        }
    }

    /// True from the start of a drain on.
    pub(crate) fn draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// True while draining or after it.
    pub(crate) fn stopping(&self) -> bool {
        self.draining() || self.closed.load(Ordering::Acquire)
    }

    /// True when the transport redelivers what this process hands back.
    pub(crate) fn durable(&self) -> bool {
        self.driver.capabilities().delivery == Delivery::AtLeastOnce
    }

    /// A new envelope; the parent is whatever the running code is handling.
    pub(crate) fn envelope(
        event: Cow<'static, str>,
        payload: Payload,
        emitter: Arc<str>,
        options: PublishOptions,
        reply_to: Option<String>,
    ) -> WireEnvelope {
        WireEnvelope {
            id: uuid::Uuid::new_v4().to_string(),
            event,
            payload,
            emitter,
            timestamp: now(),
            parent_id: current_event_id().map(|id| id.to_string()),
            correlation_id: options.correlation_id,
            reply_to,
            key: options.key,
            delay: options.delay.map(|d| d.as_secs_f64()),
            ttl: options.ttl.map(|d| d.as_secs_f64()),
            headers: options.headers,
            // The publish's span (the probe's `event_bus.publish`), parent
            // of every delivery of this event.
            trace: TraceContext::of(&tracing::Span::current()),
            shared_id: Default::default(),
        }
    }

    /// Records and hands over an envelope made just now, so its timestamp
    /// is also the trace record's (one clock read fewer per publish).
    pub(crate) async fn send(self: &Arc<Self>, envelope: WireEnvelope) -> Result<String, BusError> {
        let made = envelope.timestamp;
        self.send_recorded_at(envelope, made).await
    }

    /// Records (as published at `recorded`) and hands over an envelope. A
    /// delay the driver cannot do is served here, off the caller's path and
    /// off every ordering lane.
    pub(crate) async fn send_recorded_at(
        self: &Arc<Self>,
        envelope: WireEnvelope,
        recorded: f64,
    ) -> Result<String, BusError> {
        // Shared from here on: the trace and every subscription hold the same one.
        let envelope = Arc::new(envelope);
        self.trace.published(&envelope, recorded);
        if let Some(m) = metrics() {
            m.bus_published
                .add(1, &[KeyValue::new("event", envelope.event.clone())]);
        }
        let id = envelope.id.clone();
        let delay = envelope
            .delay
            .filter(|d| *d > 0.0)
            .map(Duration::from_secs_f64);
        match delay {
            Some(delay) if self.driver.capabilities().delay == Support::InBus => {
                let limit = self.limits.max_delayed;
                if self.delayed.fetch_add(1, Ordering::AcqRel) >= limit {
                    self.delayed.fetch_sub(1, Ordering::AcqRel);
                    return Err(BusError::Full {
                        event: envelope.event.to_string(),
                        reason: format!(
                            "{limit} delayed events already wait in this process \
                             (EVENT_BUS_MAX_DELAYED); publish it later, with a shorter \
                             delay, or raise the bound"
                        ),
                    });
                }
                self.in_flight.fetch_add(1, Ordering::AcqRel);
                let inner = self.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let event = envelope.event.to_string();
                    if let Err(e) = inner.driver.publish(envelope).await {
                        tracing::error!(%event, "event bus: a delayed event could not be handed over: {e:?}");
                    }
                    inner.delayed.fetch_sub(1, Ordering::AcqRel);
                    inner.in_flight.fetch_sub(1, Ordering::AcqRel);
                });
            }
            _ => {
                let event = envelope.event.to_string();
                self.driver.publish(envelope).await.map_err(|e| match e {
                    DriverError::Unavailable(reason) => self.unavailable(reason),
                    DriverError::Full(reason) => BusError::Full { event, reason },
                })?;
            }
        }
        Ok(id)
    }

    /// Publishes on the bus's own behalf (replies, dead letters, drops),
    /// attributed to the running code. Allowed while draining.
    pub(crate) async fn publish_internal(
        self: &Arc<Self>,
        event: &str,
        payload: Payload,
        options: PublishOptions,
    ) -> Result<(), BusError> {
        let envelope = Self::envelope(
            Cow::Owned(event.to_owned()),
            payload,
            current_identity(),
            options,
            None,
        );
        self.send(envelope).await.map(drop)
    }

    pub(crate) fn unavailable(&self, reason: String) -> BusError {
        BusError::Unavailable {
            driver: self.driver.name(),
            reason,
        }
    }
}

/// `value` serialised once to JSON text, the payload every delivery decodes.
pub(crate) fn to_payload<T: Serialize>(event: &str, value: &T) -> Result<Payload, BusError> {
    payload_of(value).map_err(|source| BusError::Serialize {
        event: event.to_owned(),
        source,
    })
}
