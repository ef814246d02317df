//! The dead letters this process made, kept in memory so an operator can see
//! them (`/system/dead-letters`) and send one back to the subscriber that
//! failed it once the cause is fixed.
//!
//! The scope is this process: with several replicas, each lists the dead
//! letters its own subscribers produced, and a replay runs the subscriber of
//! the replica asked. The `_dlq.<event>` events themselves still go out on
//! the transport for whoever subscribes to them (a durable archive).

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Serialize;

use crate::delivery::enqueue;
use crate::driver::Settlement;
use crate::envelope::RawEnvelope;
use crate::error::BusError;
use crate::handle::EventBus;
use crate::wire_envelope::WireEnvelope;

/// How many dead letters one process keeps; older ones are forgotten first.
pub const DEAD_LETTER_CAPACITY: usize = 1000;

/// One dead letter recorded by this process.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordedDeadLetter {
    /// Identifies it for [`EventBus::replay_dead_letter`] (a uuid of its own).
    pub id: String,
    /// The event that could not be handled.
    pub event: String,
    /// `"<plugin>.<method>"` of the subscriber that failed it.
    pub subscriber: String,
    /// The last error.
    pub error: String,
    /// How many attempts were made.
    pub attempts: u32,
    /// Seconds since the Unix epoch when the last attempt failed.
    pub failed_at: f64,
    /// The envelope as it was delivered.
    pub original: RawEnvelope,
}

/// The bounded log of dead letters.
#[derive(Default)]
pub(crate) struct DeadLetterLog {
    entries: Mutex<VecDeque<RecordedDeadLetter>>,
}

impl DeadLetterLog {
    pub(crate) fn record(&self, letter: RecordedDeadLetter) {
        let mut entries = self.entries.lock();
        entries.push_back(letter);
        bound(&mut entries);
    }

    fn list(&self) -> Vec<RecordedDeadLetter> {
        self.entries.lock().iter().cloned().collect()
    }

    /// Removes dead letter `id` (so two replays cannot both send it) and
    /// says where it was, for [`DeadLetterLog::put_back`].
    fn take(&self, id: &str) -> Option<(usize, RecordedDeadLetter)> {
        let mut entries = self.entries.lock();
        let at = entries.iter().position(|l| l.id == id)?;
        Some((at, entries.remove(at)?))
    }

    /// Returns a letter whose replay was refused to its place in the log,
    /// which stays oldest first and within its bound.
    fn put_back(&self, at: usize, letter: RecordedDeadLetter) {
        let mut entries = self.entries.lock();
        let at = at.min(entries.len());
        entries.insert(at, letter);
        bound(&mut entries);
    }
}

/// Drops the oldest letters past [`DEAD_LETTER_CAPACITY`].
fn bound(entries: &mut VecDeque<RecordedDeadLetter>) {
    while entries.len() > DEAD_LETTER_CAPACITY {
        entries.pop_front();
    }
}

/// Framework-facing: used by `/system/dead-letters`. Not part of the plugin
/// contract, so AI_CONTEXT.md leaves it out.
impl EventBus {
    /// The dead letters this process made and has not replayed, oldest first (at most 1000).
    pub fn dead_letters(&self) -> Vec<RecordedDeadLetter> {
        self.read("dead_letters", || self.inner.dead_letters.list())
    }

    /// Sends dead letter `id` back to the subscriber that failed it, in this process.
    ///
    /// `Ok(false)` when this process has no dead letter `id`. The delivery
    /// runs in the background like any other, retries included; if it fails
    /// again, it is dead-lettered again under a new id. Refused, and the
    /// dead letter kept, when that subscriber no longer subscribes here
    /// ([`BusError::InvalidOptions`]), its queue is full ([`BusError::Full`])
    /// or the bus is shutting down ([`BusError::Closed`]).
    pub async fn replay_dead_letter(&self, id: &str) -> Result<bool, BusError> {
        let Some((at, letter)) = self.inner.dead_letters.take(id) else {
            return Ok(false);
        };
        let outcome = self.replay(&letter);
        if outcome.is_err() {
            self.inner.dead_letters.put_back(at, letter);
        }
        outcome.map(|()| true)
    }

    fn replay(&self, letter: &RecordedDeadLetter) -> Result<(), BusError> {
        self.inner.ensure_open(&letter.event)?;
        let entry = self
            .inner
            .subs
            .lock()
            .values()
            .find(|e| *e.subscriber == *letter.subscriber && e.event == letter.event)
            .cloned();
        let Some(entry) = entry else {
            return Err(BusError::InvalidOptions {
                event: letter.event.clone(),
                reason: format!(
                    "subscriber `{}` no longer subscribes to `{}` in this process (dropped after \
                     repeated failures, or unsubscribed); restart the process once the cause is \
                     fixed, then replay, or publish the event again",
                    letter.subscriber, letter.event
                ),
            });
        };
        enqueue(
            &Arc::downgrade(&self.inner),
            &entry,
            Arc::new(WireEnvelope::from_raw(letter.original.clone())),
            Settlement::Ignored,
        )
        .map_err(|full| BusError::Full {
            event: letter.event.clone(),
            reason: full.reason,
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(id: &str) -> RecordedDeadLetter {
        RecordedDeadLetter {
            id: id.to_owned(),
            event: "x.happened".to_owned(),
            subscriber: "d.P.on_x".to_owned(),
            error: "boom".to_owned(),
            attempts: 1,
            failed_at: 0.0,
            original: RawEnvelope::stored(
                id.to_owned(),
                "x.happened".to_owned(),
                serde_json::Value::Null,
                "d.P".to_owned(),
                0.0,
                None,
            ),
        }
    }

    fn ids(log: &DeadLetterLog) -> Vec<String> {
        log.list().into_iter().map(|l| l.id).collect()
    }

    #[test]
    fn a_refused_replay_puts_the_letter_back_in_its_place() {
        let log = DeadLetterLog::default();
        for id in ["a", "b", "c"] {
            log.record(letter(id));
        }
        let (at, b) = log.take("b").unwrap();
        log.put_back(at, b);
        assert_eq!(ids(&log), ["a", "b", "c"], "still oldest first");
    }

    #[test]
    fn a_letter_put_back_into_a_full_log_keeps_it_within_its_bound() {
        let log = DeadLetterLog::default();
        for i in 0..DEAD_LETTER_CAPACITY {
            log.record(letter(&i.to_string()));
        }
        let (at, taken) = log.take("5").unwrap();
        log.record(letter("newest"));
        log.put_back(at, taken);
        assert_eq!(log.list().len(), DEAD_LETTER_CAPACITY);
        assert_eq!(ids(&log).last().map(String::as_str), Some("newest"));
    }
}
