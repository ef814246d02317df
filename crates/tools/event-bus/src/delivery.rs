//! Delivering one envelope to one subscription: ordering lanes, TTL,
//! retries with backoff, the dead letter and the automatic drop. This is the
//! bus's job, done once for every driver.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::oneshot;

use microcore_kernel::{CallContext, in_context};

use crate::driver::Settled;
use crate::envelope::{RawEnvelope, now};
use crate::event::{DeadLetter, Event, SubscriberDropped};
use crate::handle::Inner;
use crate::options::PublishOptions;
use crate::subscribe::{Failure, Job, SubEntry};
use crate::trace::{TraceKind, TraceNode};
use crate::{DLQ_PREFIX, DROP_THRESHOLD, REPLY_PREFIX};

/// Queues `envelope` on its ordering lane (key, or event name); one lane runs
/// one delivery at a time, so a key's events arrive in publish order while
/// other keys proceed. The future ends when this delivery is finished, and
/// says [`Settled::Released`] when this subscription did not handle it (it
/// ended, or the bus stopped, first), so a durable transport can redeliver.
pub(crate) fn enqueue(
    inner: &Weak<Inner>,
    entry: &Arc<SubEntry>,
    envelope: RawEnvelope,
) -> BoxFuture<'static, Settled> {
    let released = || async { Settled::Released }.boxed();
    let Some(inner) = inner.upgrade() else {
        return released();
    };
    if !entry.active.load(Ordering::Acquire) {
        return released();
    }
    let (done, finished) = oneshot::channel();
    inner.in_flight.fetch_add(1, Ordering::AcqRel);
    let unit = envelope.unit().to_owned();
    let first = {
        let mut lanes = entry.lanes.lock();
        match lanes.get_mut(&unit) {
            Some(waiting) => {
                waiting.push_back((envelope, done));
                None
            }
            None => {
                lanes.insert(unit.clone(), VecDeque::new());
                Some((envelope, done))
            }
        }
    };
    if let Some(job) = first {
        tokio::spawn(run_lane(inner, entry.clone(), unit, job));
    }
    // A lane dropped before it ran this job (the runtime shutting down)
    // drops the sender: that delivery did not happen here.
    async move { finished.await.unwrap_or(Settled::Released) }.boxed()
}

async fn run_lane(inner: Arc<Inner>, entry: Arc<SubEntry>, unit: String, mut job: Job) {
    loop {
        let (envelope, done) = job;
        let settled = deliver(&inner, &entry, envelope).await;
        inner.in_flight.fetch_sub(1, Ordering::AcqRel);
        let _ = done.send(settled);
        let next = {
            let mut lanes = entry.lanes.lock();
            let next = lanes.get_mut(&unit).and_then(VecDeque::pop_front);
            if next.is_none() {
                lanes.remove(&unit);
            }
            next
        };
        match next {
            Some(n) => job = n,
            None => return,
        }
    }
}

async fn deliver(inner: &Arc<Inner>, entry: &Arc<SubEntry>, envelope: RawEnvelope) -> Settled {
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
    if envelope.expired(now()) {
        record(inner, entry, envelope, Some("ttl_expired".into()), 0);
        return Settled::Done;
    }
    let ctx = CallContext::new(
        entry.subscriber.as_str(),
        Some(Arc::from(envelope.id.as_str())),
    );
    in_context(ctx, attempt_all(inner, entry, envelope)).await;
    Settled::Done
}

/// Up to `retries + 1` attempts, waiting `backoff × 2^n` between them; a
/// panic counts as a failure; a payload of the wrong shape is final at once.
async fn attempt_all(inner: &Arc<Inner>, entry: &Arc<SubEntry>, envelope: RawEnvelope) {
    let attempts_allowed = entry.options.retries.saturating_add(1);
    let mut attempt = 0;
    let outcome = loop {
        attempt += 1;
        let call = AssertUnwindSafe(async {
            (entry.handler)(&envelope, attempt, &entry.subscriber).await
        });
        let result = match call.catch_unwind().await {
            Ok(result) => result,
            Err(panic) => Err(Failure::Failed(format!(
                "handler panicked: {}",
                panic_text(&*panic)
            ))),
        };
        match result {
            Ok(reply) => break Ok(reply),
            Err(Failure::Decode(why)) => break Err(why),
            Err(Failure::Failed(why)) if attempt < attempts_allowed => {
                tracing::warn!(event = %envelope.event, subscriber = %entry.subscriber, attempt, "handler failed, retrying: {why}");
                tokio::time::sleep(entry.options.backoff_after(attempt)).await;
            }
            Err(Failure::Failed(why)) => break Err(why),
        }
    };
    match outcome {
        Ok(reply) => {
            entry.consecutive_failures.store(0, Ordering::Release);
            let reply_to = envelope.reply_to.clone();
            let correlation_id = envelope.correlation_id.clone();
            record(inner, entry, envelope, None, attempt);
            if let Some(reply_to) = reply_to.filter(|_| !reply.is_null()) {
                let options = PublishOptions {
                    correlation_id,
                    ..PublishOptions::default()
                };
                // Boxed, like the failure path below: rare, large futures
                // would otherwise be part of every spawned delivery task.
                Box::pin(inner.publish_internal(&reply_to, reply, options)).await;
            }
        }
        Err(error) => {
            record(inner, entry, envelope.clone(), Some(error.clone()), attempt);
            Box::pin(final_failure(inner, entry, envelope, error, attempt)).await;
        }
    }
}

/// Counts the failure, drops a subscriber that keeps failing, dead-letters the event.
async fn final_failure(
    inner: &Arc<Inner>,
    entry: &Arc<SubEntry>,
    envelope: RawEnvelope,
    error: String,
    attempts: u32,
) {
    tracing::error!(event = %envelope.event, subscriber = %entry.subscriber, attempts, "event handler failed: {error}");
    let streak = entry.consecutive_failures.fetch_add(1, Ordering::AcqRel) + 1;
    if streak >= DROP_THRESHOLD && entry.active.swap(false, Ordering::AcqRel) {
        inner.subs.lock().remove(&entry.id);
        inner.driver.unsubscribe(entry.id).await;
        tracing::error!(event = %entry.event, subscriber = %entry.subscriber, "subscriber dropped after {streak} consecutive failures");
        // A failing subscriber of the drop notice itself must not announce its own drop.
        if entry.event != SubscriberDropped::NAME {
            let dropped = SubscriberDropped {
                event: entry.event.clone(),
                subscriber: entry.subscriber.clone(),
                error: error.clone(),
                consecutive_failures: streak,
            };
            let payload = serde_json::to_value(dropped).unwrap_or_default();
            inner
                .publish_internal(SubscriberDropped::NAME, payload, PublishOptions::default())
                .await;
        }
    }
    let internal =
        envelope.event.starts_with(DLQ_PREFIX) || envelope.event.starts_with(REPLY_PREFIX);
    if inner.dlq_enabled && !internal {
        let dlq_event = format!("{DLQ_PREFIX}{}", envelope.event);
        let options = PublishOptions {
            correlation_id: envelope.correlation_id.clone(),
            ..PublishOptions::default()
        };
        let letter = DeadLetter {
            original: serde_json::to_value(&envelope).unwrap_or_default(),
            subscriber: entry.subscriber.clone(),
            error,
            attempts,
            failed_at: now(),
        };
        let payload = serde_json::to_value(letter).unwrap_or_default();
        inner.publish_internal(&dlq_event, payload, options).await;
    }
}

fn record(
    inner: &Inner,
    entry: &SubEntry,
    envelope: RawEnvelope,
    error: Option<String>,
    attempts: u32,
) {
    inner.trace.record(TraceNode {
        kind: TraceKind::Delivered,
        envelope,
        subscriber: Some(entry.subscriber.clone()),
        success: error.is_none(),
        error,
        attempts,
        timestamp: now(),
    });
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-text panic".to_owned()
    }
}
