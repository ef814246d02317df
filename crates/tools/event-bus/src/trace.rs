//! What the bus saw: the last published and delivered records, publication
//! counts and emitters per event, and live listeners (the `/system/*`
//! endpoints and SSE streams read these).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::envelope::RawEnvelope;
use crate::wire_envelope::WireEnvelope;

/// How many trace records are kept.
pub const TRACE_CAPACITY: usize = 500;

/// Whether a record is a publication or a delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceKind {
    /// The event was handed to the driver.
    Published,
    /// One subscriber finished with it (successfully or not).
    Delivered,
}

/// One published or delivered record.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceNode {
    /// Publication or delivery.
    pub kind: TraceKind,
    /// The envelope.
    pub envelope: RawEnvelope,
    /// The subscriber, for a delivery.
    pub subscriber: Option<String>,
    /// True when the delivery succeeded (always true for a publication).
    pub success: bool,
    /// The last error of a failed delivery (`ttl_expired` for an expired event).
    pub error: Option<String>,
    /// Attempts made (0 when not attempted).
    pub attempts: u32,
    /// Seconds since the Unix epoch when the record was made.
    pub timestamp: f64,
}

/// Publications seen by this process for one event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EventStats {
    /// Times published (publications, not deliveries).
    pub published: u64,
    /// Identities that published it.
    pub emitters: BTreeSet<String>,
    /// Subscribers in this process.
    pub subscribers: Vec<String>,
}

/// Identifies a listener added with [`EventBus::add_listener`](crate::EventBus::add_listener).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

type Listener = Arc<dyn Fn(&TraceNode) + Send + Sync>;

/// One record as the ring keeps it: the envelope shared with the
/// deliveries, not copied. A [`TraceNode`] is made from it only when someone
/// reads the history or listens.
pub(crate) struct Record {
    pub(crate) kind: TraceKind,
    pub(crate) envelope: Arc<WireEnvelope>,
    pub(crate) subscriber: Option<Arc<str>>,
    pub(crate) error: Option<String>,
    pub(crate) attempts: u32,
    pub(crate) timestamp: f64,
}

impl Record {
    fn node(&self) -> TraceNode {
        TraceNode {
            kind: self.kind,
            envelope: self.envelope.to_raw(),
            subscriber: self.subscriber.as_deref().map(str::to_owned),
            success: self.error.is_none(),
            error: self.error.clone(),
            attempts: self.attempts,
            timestamp: self.timestamp,
        }
    }
}

/// One slot of the ring: a record with its sequence number.
type Slot = Mutex<Option<(u64, Record)>>;

/// The last [`TRACE_CAPACITY`] records: a slot per record, each behind its
/// own lock, handed out in turn by an atomic counter, so a publish and the
/// deliveries running on other workers do not all queue on one lock.
struct Ring {
    /// Each slot keeps its record's sequence number, so a reader skips a
    /// slot whose new record is not written yet instead of showing an old one.
    slots: Box<[Slot]>,
    next: AtomicU64,
}

impl Ring {
    fn new() -> Self {
        Self {
            slots: (0..TRACE_CAPACITY).map(|_| Mutex::new(None)).collect(),
            next: AtomicU64::new(0),
        }
    }

    fn slot(&self, n: u64) -> &Slot {
        &self.slots[(n % TRACE_CAPACITY as u64) as usize]
    }

    fn push(&self, record: Record) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut slot = self.slot(n).lock();
        // A writer that took its turn a whole ring earlier and arrives late
        // does not overwrite the newer record.
        if slot.as_ref().is_some_and(|(seq, _)| *seq > n) {
            return;
        }
        let oldest = slot.replace((n, record));
        drop(slot);
        // The record that falls out is dropped after the lock is released.
        drop(oldest);
    }

    /// The records still kept, oldest first.
    fn nodes(&self) -> Vec<TraceNode> {
        let end = self.next.load(Ordering::Acquire);
        let start = end.saturating_sub(TRACE_CAPACITY as u64);
        (start..end)
            .filter_map(|n| match &*self.slot(n).lock() {
                Some((seq, record)) if *seq == n => Some(record.node()),
                _ => None,
            })
            .collect()
    }
}

pub(crate) struct Trace {
    ring: Ring,
    stats: Mutex<HashMap<String, EventStats>>,
    listeners: Mutex<Vec<(ListenerId, Listener)>>,
    /// Mirrors `!listeners.is_empty()`, so a record skips that lock when nobody listens.
    listening: AtomicBool,
    next_listener: AtomicU64,
    firehose: broadcast::Sender<TraceNode>,
}

impl Trace {
    pub(crate) fn new() -> Self {
        Self {
            ring: Ring::new(),
            stats: Mutex::new(HashMap::new()),
            listeners: Mutex::new(Vec::new()),
            listening: AtomicBool::new(false),
            next_listener: AtomicU64::new(1),
            firehose: broadcast::channel(1024).0,
        }
    }

    /// Records a publication made at `timestamp` (seconds since the epoch).
    /// A reply's event name is unique to its request, so replies stay out of
    /// the per-event statistics (which would grow with every request) and
    /// only enter the bounded history.
    pub(crate) fn published(&self, envelope: &Arc<WireEnvelope>, timestamp: f64) {
        if !envelope.event.starts_with(crate::REPLY_PREFIX) {
            let mut stats = self.stats.lock();
            // Looked up before inserting: the key is allocated once per event name.
            let entry = match stats.get_mut(&*envelope.event) {
                Some(entry) => entry,
                None => stats.entry(envelope.event.to_string()).or_default(),
            };
            entry.published += 1;
            if !entry.emitters.contains(&*envelope.emitter) {
                entry.emitters.insert(envelope.emitter.to_string());
            }
        }
        self.record(Record {
            kind: TraceKind::Published,
            envelope: envelope.clone(),
            subscriber: None,
            error: None,
            attempts: 0,
            timestamp,
        });
    }

    pub(crate) fn record(&self, record: Record) {
        let firehose = self.firehose.receiver_count() > 0;
        if firehose || self.listening.load(Ordering::Acquire) {
            let node = record.node();
            let listeners: Vec<Listener> = self
                .listeners
                .lock()
                .iter()
                .map(|(_, l)| l.clone())
                .collect();
            for listener in listeners {
                // A broken observer must never break a publish or a delivery.
                if catch_unwind(AssertUnwindSafe(|| listener(&node))).is_err() {
                    tracing::warn!(event = %node.envelope.event, "an event bus listener panicked");
                }
            }
            if firehose {
                let _ = self.firehose.send(node);
            }
        }
        self.ring.push(record);
    }

    pub(crate) fn history(&self) -> Vec<TraceNode> {
        self.ring.nodes()
    }

    pub(crate) fn stats(&self) -> BTreeMap<String, EventStats> {
        self.stats
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub(crate) fn add_listener(&self, listener: Listener) -> ListenerId {
        let id = ListenerId(self.next_listener.fetch_add(1, Ordering::Relaxed));
        let mut listeners = self.listeners.lock();
        listeners.push((id, listener));
        self.listening.store(true, Ordering::Release);
        id
    }

    pub(crate) fn remove_listener(&self, id: ListenerId) -> bool {
        let mut listeners = self.listeners.lock();
        let before = listeners.len();
        listeners.retain(|(l, _)| *l != id);
        self.listening
            .store(!listeners.is_empty(), Ordering::Release);
        listeners.len() != before
    }

    pub(crate) fn firehose(&self) -> broadcast::Receiver<TraceNode> {
        self.firehose.subscribe()
    }
}
