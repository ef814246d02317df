//! The narrow transport under the bus. A driver moves envelopes and knows
//! groups; retries, DLQ, TTL, ordering and tracing stay in the bus, once.
//!
//! Drivers: `memory` (in-process), `nats` (core NATS, at-most-once) and
//! `jetstream` (NATS JetStream, durable and at-least-once).

use std::fmt;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Serialize;

use crate::wire_envelope::WireEnvelope;

#[cfg(feature = "nats")]
pub(crate) mod jetstream;
pub(crate) mod memory;
#[cfg(feature = "nats")]
pub(crate) mod nats;

/// Who implements a feature: the transport itself, or the bus on top of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Support {
    /// The transport does it.
    Native,
    /// The bus does it, the same way for every driver.
    InBus,
    /// The driver does it and stores what waits, so it survives the
    /// process that asked for it (JetStream's delayed events).
    Durable,
}

impl fmt::Display for Support {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Native => "native",
            Self::InBus => "in_bus",
            Self::Durable => "durable",
        })
    }
}

/// What becomes of an event the transport has accepted when a process or a
/// connection goes away.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Held in memory (a process, a core NATS connection): lost when the
    /// holder goes away, never delivered twice by the transport.
    AtMostOnce,
    /// Stored until a subscriber acknowledges it, and redelivered when one
    /// dies before acknowledging: nothing is lost, so a handler may see an
    /// event twice and should be idempotent.
    AtLeastOnce,
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AtMostOnce => "at_most_once",
            Self::AtLeastOnce => "at_least_once",
        })
    }
}

/// What a driver claims to do itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// Whether an accepted event survives a crash or a disconnect.
    pub delivery: Delivery,
    /// Delayed delivery.
    pub delay: Support,
    /// Retries with backoff.
    pub retries: Support,
    /// Dead letters.
    pub dlq: Support,
}

impl fmt::Display for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "delivery: {}, delay: {}, retries: {}, dlq: {}",
            self.delivery, self.delay, self.retries, self.dlq
        )
    }
}

/// How the bus ended a delivery a driver handed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Settled {
    /// Handled here: delivered, dead-lettered or expired. An acknowledging
    /// transport may forget it.
    Done,
    /// Not handled here: the subscription ended or the bus stopped before the
    /// delivery ran. An acknowledging transport gives it to another member.
    Released,
}

/// Why a driver did not take a published envelope.
#[derive(Debug)]
pub(crate) enum DriverError {
    /// The transport is not reachable or refused it.
    Unavailable(String),
    /// A subscription already holds as many deliveries as its bound.
    Full(String),
}

impl From<String> for DriverError {
    fn from(reason: String) -> Self {
        Self::Unavailable(reason)
    }
}

/// A delivery the bus did not take: the subscription holds as many as
/// `EVENT_BUS_MAX_QUEUED`. The envelope comes back, to be offered again.
pub(crate) struct Full {
    pub(crate) envelope: Arc<WireEnvelope>,
    pub(crate) reason: String,
}

/// Whether the driver waits for a delivery to settle. Only a transport
/// that acknowledges (JetStream) does; for the others the bus makes no
/// completion channel at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Settlement {
    /// Return a future that ends when the delivery is finished.
    Awaited,
    /// Nobody waits: queue it and return nothing.
    Ignored,
    /// Nobody waits, and the caller, a reader that offers envelopes one at
    /// a time in arrival order, runs an idle lane itself: the bus returns
    /// the lane's future instead of spawning a task for it, for
    /// [`run_here`]. A lane already running takes the envelope as `Ignored`
    /// does. This saves the hop from the reader's task to a lane task (a
    /// wake-up on another worker) that a hand-written consumer never makes.
    RunHere,
}

impl Settlement {
    /// What to return for a delivery already settled when it is offered.
    pub(crate) fn already(self, settled: Settled) -> Taken {
        match self {
            Self::Awaited => Some(async move { settled }.boxed()),
            Self::Ignored | Self::RunHere => None,
        }
    }
}

/// A delivery the bus took; `Some` future, ending when it is finished,
/// when [`Settlement::Awaited`] was asked for, or, with
/// [`Settlement::RunHere`], the future of a lane that was idle.
pub(crate) type Taken = Option<BoxFuture<'static, Settled>>;

/// Offers `envelope` until the bus takes it, waiting while the subscription
/// is full: a reader that cannot refuse its sender pushes back instead of
/// dropping (core NATS then buffers, and reports a slow consumer).
pub(crate) async fn hand_over(
    deliver: &Deliver,
    mut envelope: Arc<WireEnvelope>,
    settlement: Settlement,
) -> Taken {
    let mut warned = false;
    loop {
        match deliver(envelope, settlement) {
            Ok(done) => return done,
            Err(full) => {
                if !warned {
                    tracing::warn!(
                        "event bus: {}; reading pauses until it has room",
                        full.reason
                    );
                    warned = true;
                }
                envelope = full.envelope;
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

/// Runs a lane handed back for [`Settlement::RunHere`] on the reader's own
/// task as far as it goes without waiting; a lane that must wait (a handler
/// awaiting I/O, a retry's backoff, a paused subscriber) moves to a task of
/// its own, so the reader goes on and other keys are not held behind it.
/// The moved future registers the new task's waker at its next poll, as
/// every future does; the reader's spurious wake-up is harmless.
pub(crate) async fn run_here(taken: Taken) {
    let Some(mut lane) = taken else {
        return;
    };
    if futures::poll!(&mut lane).is_pending() {
        tokio::spawn(lane);
    }
}

/// Hands one envelope to the bus, shared (`Arc`): the in-process driver
/// gives the same one to every subscription and to the trace. The bus fixes
/// the delivery order when it is called, so a driver calls it in arrival
/// order. With [`Settlement::Awaited`] the returned future ends when the
/// delivery (with its retries and dead letter) is finished and says whether
/// it was handled, for drivers that acknowledge; with
/// [`Settlement::Ignored`] nothing is returned and no completion channel is
/// made; with [`Settlement::RunHere`] an idle lane comes back to be run.
/// It refuses ([`Full`]) when the subscription is at its bound.
pub(crate) type Deliver =
    Arc<dyn Fn(Arc<WireEnvelope>, Settlement) -> Result<Taken, Full> + Send + Sync>;

/// A transport. `group: None` is a broadcast subscription.
pub(crate) trait Driver: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn capabilities(&self) -> Capabilities;
    /// Hands the envelope over; returns once the transport has it.
    fn publish(&self, envelope: Arc<WireEnvelope>) -> BoxFuture<'_, Result<(), DriverError>>;
    fn subscribe<'a>(
        &'a self,
        id: u64,
        event: &'a str,
        group: Option<&'a str>,
        deliver: Deliver,
    ) -> BoxFuture<'a, Result<(), String>>;
    fn unsubscribe(&self, id: u64) -> BoxFuture<'_, ()>;
    /// Stops taking new envelopes (a drain began) while what was handed over
    /// settles; subscriptions stay until `shutdown`. Drivers that cannot hand
    /// an envelope back to another replica keep reading.
    fn stop_reading(&self) -> BoxFuture<'_, ()> {
        async {}.boxed()
    }
    fn shutdown(&self) -> BoxFuture<'_, ()>;
}
