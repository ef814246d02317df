//! Delayed events on JetStream, stored until due so they outlive their publisher.
//!
//! A delayed publish stores the whole envelope in a stream of its own
//! (`<stream>_DELAYED`, e.g. `MICROCORE_BUS_DELAYED`) before `publish`
//! returns, on the subject of the wall-clock second it falls due
//! (`_MICROCORE_DELAYED.<stream>.<unix second>`) with the exact due time in a
//! header. Every replica runs a poller: each pass reads the seconds that
//! have come due, publishes each due envelope to its event's subject under
//! the envelope id as message id, then deletes it from the delay stream by
//! its sequence. Two replicas releasing the same entry are collapsed by the
//! bus stream's duplicate window (two minutes), and only one delete
//! succeeds; a replica dying between the publish and the delete leaves the
//! entry for the next pass, which publishes it again under the same id:
//! deduplicated within the window, at least once beyond it.
//!
//! The per-second subjects keep a pass from scanning every pending entry: a
//! poller walks forward from a cursor, one second at a time, and moves past
//! a second [`SETTLE`] after it ended (a store still on its way is not
//! skipped). Entries left behind the cursor (a publisher whose clock runs
//! behind, a release that failed) are found by listing the non-empty
//! seconds, at start and every [`RESCAN`]. Due times are wall-clock, so
//! replicas' clocks should agree (NTP); a skewed one releases early or late
//! by its skew. A drain or shutdown stops the poller and leaves every entry
//! stored for the other replicas, or for the next one to start.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::context::CreateStreamErrorKind;
use async_nats::jetstream::message::{PublishMessage, StreamMessage};
use async_nats::jetstream::stream::{
    Config as StreamConfig, DeleteMessageError, DeleteMessageErrorKind, LastRawMessageErrorKind,
    RetentionPolicy, StorageType, Stream,
};
use async_nats::jetstream::{Context, ErrorCode};
use futures::TryStreamExt;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::driver::DriverError;
use crate::wire_envelope::WireEnvelope;

/// The header holding an entry's due time, in Unix milliseconds.
const DUE_HEADER: &str = "Microcore-Due-Ms";

/// How often a poller looks for due entries: a delayed event arrives at
/// most about this late (plus the time to publish it).
pub(crate) const POLL_EVERY: Duration = Duration::from_millis(250);

/// How long after a second ends the poller keeps reading it, for a store
/// that was still on its way when the second ended.
const SETTLE: Duration = Duration::from_secs(2);

/// How often a poller lists the non-empty seconds to find entries left
/// behind its cursor.
const RESCAN: Duration = Duration::from_secs(30);

/// Entries one pass reads at most (released, or not due yet), so a pass
/// stays short after an outage or with a crowded second.
const READS_PER_PASS: usize = 256;

/// Seconds one pass reads at most (each costs one request).
const SECONDS_PER_PASS: usize = 64;

/// Where delayed entries wait, and where they go when due.
#[derive(Clone)]
pub(crate) struct DelayStore {
    js: Context,
    /// The delay stream's name, `<bus stream>_DELAYED`.
    stream: String,
    /// Subjects of the delay stream: `<root>.<unix second>`.
    root: String,
    /// The bus's subject prefix: a due envelope goes to `<prefix><event>`.
    prefix: String,
}

impl DelayStore {
    /// Creates (or reuses) the delay stream of the bus stream `bus_stream`.
    pub(crate) async fn open(
        js: Context,
        bus_stream: &str,
        prefix: &str,
        url: &str,
    ) -> Result<Self, String> {
        let store = Self {
            js,
            stream: format!("{bus_stream}_DELAYED"),
            root: format!("_MICROCORE_DELAYED.{bus_stream}"),
            prefix: prefix.to_owned(),
        };
        store.ensure_stream(url).await?;
        Ok(store)
    }

    /// The stream holds every entry until it is released: no age or count
    /// limit, so a delay of any length is kept (and none is silently lost).
    async fn ensure_stream(&self, url: &str) -> Result<(), String> {
        let subjects = format!("{}.*", self.root);
        let config = StreamConfig {
            name: self.stream.clone(),
            description: Some(format!(
                "MicroCore event bus: delayed events waiting on `{subjects}` until due"
            )),
            subjects: vec![subjects.clone()],
            retention: RetentionPolicy::Limits,
            storage: StorageType::File,
            ..Default::default()
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let e = match self.js.get_or_create_stream(config.clone()).await {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            if e.kind() == CreateStreamErrorKind::JetStreamUnavailable {
                return Err(format!(
                    "JetStream is not available on the NATS server at {url} ({e}) for the \
                     delayed events' stream `{}`; enable it there or set EVENT_BUS_DRIVER=nats",
                    self.stream
                ));
            }
            if self.js.get_stream(&self.stream).await.is_ok() {
                return Ok(());
            }
            if attempt < super::STREAM_ATTEMPTS {
                tokio::time::sleep(Duration::from_millis(100) * attempt).await;
                continue;
            }
            return Err(format!(
                "cannot create JetStream stream `{}` for delayed events on `{subjects}` at \
                 {url}: {e}; a stream that already takes these subjects must be removed, or \
                 set another EVENT_BUS_NATS_PREFIX",
                self.stream
            ));
        }
    }

    /// Stores `envelope` until `delay` seconds from now; returns once the
    /// server has it. The envelope id is the message id, so a repeated
    /// store is kept once.
    pub(crate) async fn store(
        &self,
        envelope: &WireEnvelope,
        delay: f64,
    ) -> Result<(), DriverError> {
        let due = due_ms(now_ms(), delay);
        let subject = self.subject(due / 1000);
        let body = envelope.to_wire().map_err(|e| e.to_string())?;
        let message = PublishMessage::build()
            .payload(body.into())
            .message_id(&envelope.id)
            .header(DUE_HEADER, due.to_string());
        let not_stored = |e: &dyn std::fmt::Display| {
            format!(
                "JetStream did not store delayed `{}` in stream `{}`: {e}",
                envelope.event, self.stream
            )
        };
        self.js
            .send_publish(subject, message)
            .await
            .map_err(|e| not_stored(&e))?
            .await
            .map_err(|e| not_stored(&e))?;
        Ok(())
    }

    fn subject(&self, second: u64) -> String {
        format!("{}.{second}", self.root)
    }

    /// Starts this replica's poller; it runs until `stop` fires or is dropped.
    pub(crate) fn spawn_poller(&self) -> (JoinHandle<()>, oneshot::Sender<()>) {
        let (stop, stopped) = oneshot::channel();
        let poller = Poller::new(self.clone());
        (tokio::spawn(poller.run(stopped)), stop)
    }
}

/// One replica's walk over the delay stream.
struct Poller {
    store: DelayStore,
    /// Every second before it has been read empty after it settled.
    cursor: u64,
    /// Non-empty seconds behind the cursor, found by the last listing.
    behind: BTreeSet<u64>,
    last_scan: Option<Instant>,
}

/// Why a pass ended early: the server did not answer. The next pass retries.
struct Unreachable(String);

impl Poller {
    fn new(store: DelayStore) -> Self {
        let settle = u64::try_from(SETTLE.as_millis()).unwrap_or(u64::MAX);
        Self {
            store,
            cursor: now_ms().saturating_sub(settle) / 1000,
            behind: BTreeSet::new(),
            last_scan: None,
        }
    }

    async fn run(mut self, mut stop: oneshot::Receiver<()>) {
        let mut tick = tokio::time::interval(POLL_EVERY);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut stream = None;
        let mut warned = false;
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = tick.tick() => {}
            }
            let result = match &stream {
                Some(stream) => self.pass(stream).await,
                None => match self.store.js.get_stream(&self.store.stream).await {
                    Ok(found) => self.pass(stream.insert(found)).await,
                    Err(e) => Err(Unreachable(e.to_string())),
                },
            };
            match result {
                Ok(()) => warned = false,
                // Once per outage, not four times a second.
                Err(Unreachable(e)) if !warned => {
                    warned = true;
                    tracing::warn!(
                        stream = %self.store.stream,
                        "event bus: cannot read delayed events ({e}); they stay stored and are retried"
                    );
                }
                Err(_) => {}
            }
        }
    }

    /// Releases what is due: first the seconds a listing found behind the
    /// cursor, then the seconds from the cursor to now.
    async fn pass(&mut self, stream: &Stream) -> Result<(), Unreachable> {
        let now = now_ms();
        if self.last_scan.is_none_or(|at| at.elapsed() >= RESCAN) {
            self.scan(stream).await?;
            self.last_scan = Some(Instant::now());
        }
        let mut budget = Budget {
            reads: READS_PER_PASS,
            seconds: SECONDS_PER_PASS,
        };
        for second in self.behind.clone() {
            if budget.spent() {
                return Ok(());
            }
            if self.read_second(stream, second, now, &mut budget).await? {
                self.behind.remove(&second);
            }
        }
        let mut second = self.cursor;
        let mut advancing = true;
        while second <= now / 1000 && !budget.spent() {
            let emptied = self.read_second(stream, second, now, &mut budget).await?;
            if advancing && emptied && settled(second, now) {
                self.cursor = second + 1;
            } else {
                advancing = false;
            }
            second += 1;
        }
        Ok(())
    }

    /// Lists the non-empty seconds and keeps those behind the cursor.
    async fn scan(&mut self, stream: &Stream) -> Result<(), Unreachable> {
        let filter = format!("{}.*", self.store.root);
        let mut subjects = stream
            .info_with_subjects(&filter)
            .await
            .map_err(|e| Unreachable(e.to_string()))?;
        while let Some((subject, _count)) = subjects
            .try_next()
            .await
            .map_err(|e| Unreachable(e.to_string()))?
        {
            let second = subject.rsplit('.').next().and_then(|s| s.parse().ok());
            if let Some(second) = second.filter(|s| *s < self.cursor) {
                self.behind.insert(second);
            }
        }
        Ok(())
    }

    /// Releases the due entries of `second`; true when it held none left.
    async fn read_second(
        &self,
        stream: &Stream,
        second: u64,
        now: u64,
        budget: &mut Budget,
    ) -> Result<bool, Unreachable> {
        budget.seconds = budget.seconds.saturating_sub(1);
        let subject = self.store.subject(second);
        let mut from = 1;
        let mut emptied = true;
        loop {
            if budget.reads == 0 {
                return Ok(false);
            }
            let next = stream
                .raw_message_builder()
                .sequence(from)
                .next_by_subject(subject.clone())
                .send()
                .await;
            let message = match next {
                Ok(message) => message,
                Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => {
                    return Ok(emptied);
                }
                Err(e) => return Err(Unreachable(e.to_string())),
            };
            from = message.sequence + 1;
            budget.reads -= 1;
            if due_of(&message).is_some_and(|due| due > now) {
                emptied = false;
                continue;
            }
            if !self.release(stream, message).await {
                emptied = false;
            }
        }
    }

    /// Publishes a due entry to its event's subject, then deletes it; false
    /// when it stays stored for the next pass. An entry that is not an
    /// envelope can never be delivered: it is logged and deleted.
    async fn release(&self, stream: &Stream, message: StreamMessage) -> bool {
        let sequence = message.sequence;
        match WireEnvelope::from_wire(&message.payload) {
            Ok(envelope) => {
                let subject = format!("{}{}", self.store.prefix, envelope.event);
                let publish = PublishMessage::build()
                    .payload(message.payload)
                    .message_id(&envelope.id);
                let stored = match self.store.js.send_publish(subject, publish).await {
                    Ok(ack) => ack.await.map(drop).map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                if let Err(e) = stored {
                    tracing::warn!(event = %envelope.event, id = %envelope.id, "event bus: a due delayed event was not published ({e}); it stays stored and is retried");
                    return false;
                }
            }
            Err(e) => tracing::error!(
                stream = %self.store.stream, sequence,
                "event bus: a stored delayed event is not a MicroCore envelope; it is deleted, not delivered: {e}"
            ),
        }
        match stream.delete_message(sequence).await {
            Ok(_) => true,
            Err(e) if deleted_elsewhere(&e) => true,
            Err(e) => {
                tracing::debug!(
                    "event bus: a released delayed event was not deleted ({e}); it is published again under the same id"
                );
                false
            }
        }
    }
}

/// Another replica deleted it first: the server has no such message
/// (nats-server answers "no message found", as a failed delete).
fn deleted_elsewhere(e: &DeleteMessageError) -> bool {
    match e.kind() {
        DeleteMessageErrorKind::JetStream(e) => {
            e.error_code() == ErrorCode::NO_MESSAGE_FOUND
                || (e.error_code() == ErrorCode::STREAM_MESSAGE_DELETE_FAILED
                    && e.to_string().contains("no message found"))
        }
        _ => false,
    }
}

/// What one pass may still do.
struct Budget {
    reads: usize,
    seconds: usize,
}

impl Budget {
    fn spent(&self) -> bool {
        self.reads == 0 || self.seconds == 0
    }
}

/// True once no store can still be on its way into `second` (it ended
/// [`SETTLE`] ago).
fn settled(second: u64, now: u64) -> bool {
    let settle = u64::try_from(SETTLE.as_millis()).unwrap_or(u64::MAX);
    now >= second
        .saturating_add(1)
        .saturating_mul(1000)
        .saturating_add(settle)
}

/// The due time a stored entry carries; none (released at once, and then
/// deleted if it is not an envelope) when the header is missing or bad.
fn due_of(message: &StreamMessage) -> Option<u64> {
    message.headers.get(DUE_HEADER)?.as_str().parse().ok()
}

/// Unix milliseconds `delay` seconds after `now`, rounded up so an event is
/// never early; a delay too long to count saturates (it never comes due).
pub(crate) fn due_ms(now: u64, delay: f64) -> u64 {
    let delay = (delay * 1000.0).ceil();
    let delay = if delay.is_finite() && delay < u64::MAX as f64 {
        // In range and rounded: the cast is exact enough and cannot wrap.
        delay.max(0.0) as u64
    } else {
        u64::MAX
    };
    now.saturating_add(delay)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_due_time_is_rounded_up_and_saturates() {
        assert_eq!(due_ms(1_000, 1.5), 2_500);
        assert_eq!(due_ms(1_000, 0.0001), 1_001, "never early");
        assert_eq!(due_ms(1_000, f64::INFINITY), u64::MAX);
        assert_eq!(due_ms(1_000, 1e300), u64::MAX);
        assert_eq!(due_ms(u64::MAX - 1, 10.0), u64::MAX);
    }

    #[test]
    fn a_second_settles_only_after_it_ended_and_the_settle_time_passed() {
        assert!(!settled(10, 10_999));
        assert!(!settled(10, 12_999));
        assert!(settled(10, 13_000));
        assert!(!settled(u64::MAX / 1000, u64::MAX - 1));
    }
}
