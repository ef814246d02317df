//! Publishing an event that was stored before it was published: the
//! transactional outbox of the db tool keeps an event in the transaction that
//! made the change it announces, and a relay hands it over here afterwards.
//!
//! The stored id becomes the envelope id, so publishing one row twice (a
//! relay that died before it could mark the row sent) is one event to
//! JetStream's duplicate window and to a subscriber that is idempotent on
//! `event.id`. Emitter, parent and time are the ones recorded at store time:
//! the relay is only the courier.

use crate::envelope::{RawEnvelope, now};
use crate::error::BusError;
use crate::handle::EventBus;
use crate::wire_envelope::WireEnvelope;

/// Framework-facing: used by the outbox relay. Not part of the plugin
/// contract, so AI_CONTEXT.md leaves it out.
impl EventBus {
    /// Publishes an event stored earlier, under its stored id, emitter, parent and time; returns the id.
    ///
    /// Refused like [`EventBus::publish`] once the bus drains or is closed,
    /// and as [`BusError::InvalidOptions`] for the bus's own `_`-prefixed
    /// events (replies, dead letters), which are never stored.
    pub async fn publish_stored(&self, envelope: RawEnvelope) -> Result<String, BusError> {
        self.inner
            .probe
            .observe("publish", async {
                if envelope.event.starts_with('_') {
                    return Err(BusError::InvalidOptions {
                        event: envelope.event.clone(),
                        reason: "events whose name starts with `_` belong to the bus (replies, \
                                 dead letters) and cannot be published from storage"
                            .to_owned(),
                    });
                }
                self.inner.ensure_open(&envelope.event)?;
                // Stored earlier: the trace records when it is published.
                self.inner
                    .send_recorded_at(WireEnvelope::from_raw(envelope), now())
                    .await
            })
            .await
    }
}
