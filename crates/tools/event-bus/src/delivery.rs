//! Delivering one envelope to one subscription: ordering lanes, TTL,
//! retries with backoff, the dead letter and the automatic drop. This is the
//! bus's job, done once for every driver.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use futures::FutureExt;
use tokio::sync::oneshot;

use microcore_kernel::{CallContext, SPAN_TARGET, in_context, metrics, run_isolated};
use opentelemetry::KeyValue;
use tracing::field::Empty;
use tracing::{Instrument, Span};

use crate::driver::{Full, Settled, Settlement, Taken};
use crate::envelope::now;
use crate::handle::Inner;
use crate::options::PublishOptions;
use crate::outcome::{answer_with_error, final_failure};
use crate::subscribe::{Failure, Job, SubEntry};
use crate::trace::{Record, TraceKind};
use crate::wire_envelope::{Payload, WireEnvelope};

/// Queues `envelope` on its ordering lane (key, or event name); one lane runs
/// one delivery at a time, so a key's events arrive in publish order while
/// other keys proceed. With [`Settlement::Awaited`] the returned future ends
/// when this delivery is finished, and says [`Settled::Released`] when this
/// subscription did not handle it (it ended, or the bus stopped, first), so
/// a durable transport can redeliver; with [`Settlement::Ignored`] no
/// completion channel is made.
/// A subscription holding `EVENT_BUS_MAX_QUEUED` deliveries (running or
/// waiting) refuses more: memory is bounded, and the refusal reaches the
/// publisher (in-process) or pauses the reader (NATS), never a silent loss.
pub(crate) fn enqueue(
    inner: &Weak<Inner>,
    entry: &Arc<SubEntry>,
    envelope: Arc<WireEnvelope>,
    settlement: Settlement,
) -> Result<Taken, Full> {
    let released = || Ok(settlement.already(Settled::Released));
    let Some(inner) = inner.upgrade() else {
        return released();
    };
    if !entry.active.load(Ordering::Acquire) {
        return released();
    }
    let limit = inner.limits.max_queued;
    if entry.queued.fetch_add(1, Ordering::AcqRel) >= limit {
        entry.queued.fetch_sub(1, Ordering::AcqRel);
        let reason = format!(
            "subscriber `{}` already holds {limit} deliveries of `{}` (EVENT_BUS_MAX_QUEUED); \
             it is slower than its publishers: make it faster, add replicas, or raise the bound",
            entry.subscriber, entry.event
        );
        return Err(Full { envelope, reason });
    }
    let (done, finished) = match settlement {
        Settlement::Awaited => {
            let (done, finished) = oneshot::channel();
            (Some(done), Some(finished))
        }
        Settlement::Ignored | Settlement::RunHere => (None, None),
    };
    inner.in_flight.fetch_add(1, Ordering::AcqRel);
    let first = {
        let mut lanes = entry.lanes.lock();
        match lanes.get_mut(envelope.unit()) {
            Some(waiting) => {
                waiting.push_back((envelope, done));
                None
            }
            None => {
                // The lane's name is allocated only when a lane starts.
                let unit = envelope.unit().to_owned();
                lanes.insert(unit.clone(), VecDeque::new());
                Some((unit, (envelope, done)))
            }
        }
    };
    if let Some((unit, job)) = first {
        if settlement == Settlement::RunHere {
            // The reader is the only one offering this subscription's
            // envelopes, so a lane it runs has nothing to wait for once empty.
            let lane = run_lane(inner, entry.clone(), unit, job, Linger::No);
            return Ok(Some(lane.map(|()| Settled::Done).boxed()));
        }
        tokio::spawn(run_lane(inner, entry.clone(), unit, job, Linger::Once));
    }
    // A lane dropped before it ran this job (the runtime shutting down)
    // drops the sender: that delivery did not happen here.
    Ok(finished.map(|finished| async move { finished.await.unwrap_or(Settled::Released) }.boxed()))
}

tokio::task_local! {
    /// Set while a handler runs: its publishes still work while the bus drains.
    static DELIVERING: ();
}

/// True inside a running delivery (a handler and what it awaits).
pub(crate) fn delivering() -> bool {
    DELIVERING.try_with(|()| ()).is_ok()
}

/// Hands every delivery waiting behind a running one back to the transport
/// ([`Settled::Released`]): a draining durable bus lets another replica take
/// what this one has not started.
pub(crate) fn release_waiting(inner: &Inner) {
    let subs: Vec<Arc<SubEntry>> = inner.subs.lock().values().cloned().collect();
    for entry in subs {
        let waiting: Vec<Job> = entry
            .lanes
            .lock()
            .values_mut()
            .flat_map(std::mem::take)
            .collect();
        for (_, done) in waiting {
            inner.in_flight.fetch_sub(1, Ordering::AcqRel);
            entry.queued.fetch_sub(1, Ordering::AcqRel);
            if let Some(done) = done {
                let _ = done.send(Settled::Released);
            }
        }
    }
}

/// Whether a lane found empty waits a moment for more before it ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Linger {
    /// It yields once: a publisher on another worker usually has the next
    /// delivery on its way, and keeping the lane saves a task spawn per delivery.
    Once,
    /// It ends at once: its reader offers the next envelope only after this
    /// lane gives control back (see [`Settlement::RunHere`]).
    No,
}

/// Runs a lane from its first delivery until nothing waits on it. What
/// waits is taken in one batch per lock (swapped with the drained buffer, so
/// neither is reallocated); a lane found empty ends as `linger` says.
async fn run_lane(
    inner: Arc<Inner>,
    entry: Arc<SubEntry>,
    unit: String,
    first: Job,
    linger: Linger,
) {
    run_job(&inner, &entry, first).await;
    let mut batch: VecDeque<Job> = VecDeque::new();
    let mut yielded = linger == Linger::No;
    loop {
        {
            let mut lanes = entry.lanes.lock();
            let Some(waiting) = lanes.get_mut(&unit) else {
                return;
            };
            if !waiting.is_empty() {
                std::mem::swap(waiting, &mut batch);
            } else if yielded {
                lanes.remove(&unit);
                return;
            }
        }
        if batch.is_empty() {
            yielded = true;
            tokio::task::yield_now().await;
            continue;
        }
        yielded = linger == Linger::No;
        while let Some(job) = batch.pop_front() {
            run_job(&inner, &entry, job).await;
        }
    }
}

async fn run_job(inner: &Arc<Inner>, entry: &Arc<SubEntry>, (envelope, done): Job) {
    let settled = deliver(inner, entry, envelope).await;
    inner.in_flight.fetch_sub(1, Ordering::AcqRel);
    entry.queued.fetch_sub(1, Ordering::AcqRel);
    if let Some(done) = done {
        let _ = done.send(settled);
    }
}

async fn deliver(
    inner: &Arc<Inner>,
    entry: &Arc<SubEntry>,
    envelope: Arc<WireEnvelope>,
) -> Settled {
    hold_while_paused(inner, entry).await;
    if !entry.active.load(Ordering::Acquire) {
        record(
            inner,
            entry,
            envelope,
            Some("unsubscribed before delivery".into()),
            0,
        );
        return Settled::Released;
    }
    if inner.draining() && inner.durable() {
        // Not started: another replica takes it while this one stops.
        return Settled::Released;
    }
    if envelope.expired() {
        record(inner, entry, envelope, Some("ttl_expired".into()), 0);
        return Settled::Done;
    }
    let ctx = CallContext::new(entry.subscriber.clone(), Some(envelope.shared_id()));
    let span = delivery_span(&envelope, &entry.subscriber);
    in_context(ctx, attempt_all(inner, entry, envelope))
        .instrument(span)
        .await
}

/// The `event.deliver` span: a child of the publish's span through the
/// envelope's trace context, whichever process published it.
fn delivery_span(envelope: &WireEnvelope, subscriber: &str) -> Span {
    let span = tracing::debug_span!(
        target: SPAN_TARGET,
        parent: None,
        "event.deliver",
        otel.name = Empty,
        otel.kind = "consumer",
        otel.status_code = Empty,
        messaging.destination.name = &*envelope.event,
        messaging.message.id = envelope.id.as_str(),
        subscriber,
        attempts = Empty,
    );
    if !span.is_disabled() {
        span.record("otel.name", format!("deliver {}", envelope.event));
        if let Some(trace) = &envelope.trace {
            trace.adopt(&span);
        }
    }
    span
}

/// Counts a finished delivery (after all its attempts) and records it on its span.
fn delivered(envelope: &WireEnvelope, entry: &SubEntry, ok: bool, attempts: u32) {
    let span = Span::current();
    if !span.is_disabled() {
        span.record("attempts", attempts);
        if !ok {
            span.record("otel.status_code", "ERROR");
        }
    }
    if let Some(m) = metrics() {
        let outcome = if ok { "ok" } else { "failed" };
        m.bus_delivered.add(
            1,
            &[
                KeyValue::new("event", envelope.event.clone()),
                KeyValue::new("subscriber", entry.subscriber.clone()),
                KeyValue::new("outcome", outcome),
            ],
        );
    }
}

/// Waits while the chaos controls pause the subscriber's plugin or domain:
/// the delivery is held, not failed, so it is neither retried nor
/// dead-lettered, and its lane keeps the ones behind it in order. A drain
/// ends the wait (the checks after it then release or deliver it).
async fn hold_while_paused(inner: &Inner, entry: &SubEntry) {
    let Some(registry) = inner.probe.registry() else {
        return;
    };
    let pauses = registry.pauses();
    if let Some(owner) = pauses.holder(&entry.subscriber) {
        tracing::info!(event = %entry.event, subscriber = %entry.subscriber, "delivery held: `{owner}` is paused");
        // Boxed: the wait (a notification and a timer) is rare, and inline
        // it would enlarge every delivery's future past what the allocator
        // serves from its fast per-thread cache.
        Box::pin(pauses.until_resumed(&entry.subscriber, || inner.stopping())).await;
    }
}

/// Up to `retries + 1` attempts, waiting `backoff × 2^n` between them; a
/// panic counts as a failure; a payload of the wrong shape is final at once.
/// A request (an envelope with a reply address) gets one attempt: its
/// requester is waiting, so any failure answers it at once, never retried
/// and never dead-lettered.
async fn attempt_all(
    inner: &Arc<Inner>,
    entry: &Arc<SubEntry>,
    envelope: Arc<WireEnvelope>,
) -> Settled {
    let request = envelope.reply_to.is_some();
    let attempts_allowed = if request {
        1
    } else {
        entry.options.retries.saturating_add(1)
    };
    let mut attempt = 0;
    let outcome = loop {
        attempt += 1;
        let call = DELIVERING.scope((), async {
            (entry.handler)(&envelope, attempt, &entry.subscriber).await
        });
        let result = match run_isolated(call).await {
            Ok(result) => result,
            Err(panic) => Err(Failure::Failed(format!("handler {panic}"))),
        };
        match result {
            Ok(reply) => break Ok(reply),
            Err(decode @ Failure::Decode(_)) => break Err(decode),
            Err(failure) if attempt < attempts_allowed => {
                let why = failure.text();
                if let Some(m) = metrics() {
                    m.bus_retried.add(
                        1,
                        &[
                            KeyValue::new("event", envelope.event.clone()),
                            KeyValue::new("subscriber", entry.subscriber.clone()),
                        ],
                    );
                }
                tracing::warn!(event = %envelope.event, subscriber = %entry.subscriber, attempt, "handler failed, retrying: {why}");
                // Boxed, like the pause above: a retry's timer is rare.
                Box::pin(tokio::time::sleep(entry.options.backoff_after(attempt))).await;
            }
            Err(failure) => break Err(failure),
        }
    };
    // The rare paths (a reply, a failure) run boxed and take what they need
    // by value, so none of it is part of every delivery's future.
    let rare = match outcome {
        Ok(reply) => {
            delivered(&envelope, entry, true, attempt);
            entry.consecutive_failures.store(0, Ordering::Release);
            let reply_to = envelope.reply_to.clone();
            let correlation_id = envelope.correlation_id.clone();
            record(inner, entry, envelope, None, attempt);
            match (reply_to, reply) {
                (Some(reply_to), Some(reply)) => Some(
                    send_reply(inner, entry, reply_to, reply, correlation_id)
                        .map(|()| Settled::Done)
                        .boxed(),
                ),
                _ => None,
            }
        }
        Err(failure) => Some(failed(inner, entry, envelope, failure, attempt).boxed()),
    };
    match rare {
        Some(rare) => rare.await,
        None => Settled::Done,
    }
}

/// Publishes a handler's answer to its requester.
async fn send_reply(
    inner: &Arc<Inner>,
    entry: &SubEntry,
    reply_to: String,
    reply: Payload,
    correlation_id: Option<String>,
) {
    let options = PublishOptions {
        correlation_id,
        ..PublishOptions::default()
    };
    if let Err(e) = inner.publish_internal(&reply_to, reply, options).await {
        tracing::error!(event = %entry.event, subscriber = %entry.subscriber, "event bus: could not send the reply: {e}");
    }
}

/// Ends a delivery whose last attempt failed: answers a request with the
/// error, else dead-letters it (and counts towards the automatic drop).
async fn failed(
    inner: &Arc<Inner>,
    entry: &Arc<SubEntry>,
    envelope: Arc<WireEnvelope>,
    failure: Failure,
    attempt: u32,
) -> Settled {
    delivered(&envelope, entry, false, attempt);
    record(
        inner,
        entry,
        envelope.clone(),
        Some(failure.text()),
        attempt,
    );
    // The public form from here on: dead letters and error replies are rare.
    let envelope = envelope.to_raw();
    match envelope.reply_to.clone() {
        Some(reply_to) => {
            answer_with_error(inner, entry, envelope, reply_to, failure).await;
            Settled::Done
        }
        None => final_failure(inner, entry, envelope, failure.text(), attempt).await,
    }
}

fn record(
    inner: &Inner,
    entry: &SubEntry,
    envelope: Arc<WireEnvelope>,
    error: Option<String>,
    attempts: u32,
) {
    inner.trace.record(Record {
        kind: TraceKind::Delivered,
        envelope,
        subscriber: Some(entry.subscriber.clone()),
        error,
        attempts,
        timestamp: now(),
    });
}
