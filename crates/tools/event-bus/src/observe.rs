//! Reading what the bus saw: trace history, per-event statistics and live listeners.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::broadcast;

use crate::EventBus;
use crate::trace::{EventStats, ListenerId, TraceKind, TraceNode};

#[microcore_kernel::contract]
impl EventBus {
    /// Returns the last 500 published and delivered trace records, oldest first.
    ///
    /// The bound is [`TRACE_CAPACITY`](crate::TRACE_CAPACITY).
    #[not_in_manifest]
    pub fn trace_history(&self) -> Vec<TraceNode> {
        self.read("trace_history", || self.inner.trace.history())
    }

    /// Returns, per event seen or subscribed here, its publish count, emitters and subscribers.
    #[not_in_manifest]
    pub fn event_stats(&self) -> BTreeMap<String, EventStats> {
        self.read("event_stats", || {
            let mut stats = self.inner.trace.stats();
            for entry in self.inner.subs.lock().values() {
                stats
                    .entry(entry.event.clone())
                    .or_default()
                    .subscribers
                    .push(entry.subscriber.to_string());
            }
            for s in stats.values_mut() {
                s.subscribers.sort();
            }
            stats
        })
    }
}

/// Framework-facing: used by the kernel, the test kit, `/system/*` and the
/// manifest generator. Not part of the plugin contract, so AI_CONTEXT.md
/// leaves it out.
impl EventBus {
    /// The payloads of `event` still in the trace history, oldest first.
    pub fn published_payloads(&self, event: &str) -> Vec<serde_json::Value> {
        self.read("published_payloads", || {
            self.inner
                .trace
                .history()
                .into_iter()
                .filter(|n| n.kind == TraceKind::Published && n.envelope.event == event)
                .map(|n| n.envelope.payload)
                .collect()
        })
    }

    /// Calls `listener` with every trace record as it is made (a firehose).
    /// A panicking listener is caught and logged.
    pub fn add_listener(
        &self,
        listener: impl Fn(&TraceNode) + Send + Sync + 'static,
    ) -> ListenerId {
        self.read("add_listener", || {
            self.inner.trace.add_listener(Arc::new(listener))
        })
    }

    /// Removes a listener; false if it was not there.
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        self.read("remove_listener", || self.inner.trace.remove_listener(id))
    }

    /// Every trace record from now on, as a channel (for SSE streams). A slow
    /// receiver skips records rather than slowing the bus.
    pub fn firehose(&self) -> broadcast::Receiver<TraceNode> {
        self.read("firehose", || self.inner.trace.firehose())
    }
}
