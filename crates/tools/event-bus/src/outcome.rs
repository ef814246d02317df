//! How a delivery whose attempts failed ends: a request is answered with an
//! error at once, an event is dead-lettered (or handed back to a durable
//! transport), and a subscriber that keeps failing is dropped.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::dead_letters::RecordedDeadLetter;
use crate::driver::Settled;
use crate::envelope::{RawEnvelope, now};
use crate::event::{DeadLetter, Event, SubscriberDropped};
use crate::handle::Inner;
use crate::options::PublishOptions;
use crate::reply::{REPLY_ERROR_HEADER, ReplyError};
use crate::subscribe::{Failure, SubEntry};
use crate::wire_envelope::payload_or_null;
use crate::{DLQ_PREFIX, DROP_THRESHOLD, REPLY_PREFIX};

/// Answers a request whose handler failed: a [`ReplyError`] as it is, a
/// payload of the wrong shape as `bad_request` with the reason, anything
/// else as `internal` without its text (it may hold internals; the log and
/// the trace keep it). Only an unexpected failure counts towards the drop.
pub(crate) async fn answer_with_error(
    inner: &Arc<Inner>,
    entry: &Arc<SubEntry>,
    envelope: RawEnvelope,
    reply_to: String,
    failure: Failure,
) {
    let (event, subscriber) = (&envelope.event, &entry.subscriber);
    let refusal = match failure {
        Failure::Refused(refusal) => {
            tracing::debug!(%event, %subscriber, code = %refusal.code, "request answered with an error: {}", refusal.message);
            refusal
        }
        Failure::Decode(why) => {
            tracing::warn!(%event, %subscriber, "request refused as bad_request: {why}");
            ReplyError::new(ReplyError::BAD_REQUEST, why)
        }
        Failure::Failed(why) => {
            tracing::error!(%event, %subscriber, id = %envelope.id, "request handler failed; the requester gets `internal`: {why}");
            count_failure(inner, entry, &why).await;
            ReplyError::new(
                ReplyError::INTERNAL,
                format!(
                    "`{subscriber}` failed while answering `{event}` (event id {}); its log has the cause",
                    envelope.id
                ),
            )
        }
    };
    let mut options = PublishOptions {
        correlation_id: envelope.correlation_id.clone(),
        ..PublishOptions::default()
    };
    options
        .headers
        .insert(REPLY_ERROR_HEADER.to_owned(), refusal.code.clone());
    let payload = payload_or_null(&refusal);
    if let Err(e) = inner.publish_internal(&reply_to, payload, options).await {
        tracing::error!(%event, %subscriber, "event bus: could not send the error reply: {e}");
    }
}

/// Counts a final failure and drops a subscriber that keeps failing.
async fn count_failure(inner: &Arc<Inner>, entry: &Arc<SubEntry>, error: &str) {
    let streak = entry.consecutive_failures.fetch_add(1, Ordering::AcqRel) + 1;
    if streak >= DROP_THRESHOLD && entry.active.swap(false, Ordering::AcqRel) {
        inner.subs.lock().remove(&entry.id);
        inner.driver.unsubscribe(entry.id).await;
        tracing::error!(event = %entry.event, subscriber = %entry.subscriber, "subscriber dropped after {streak} consecutive failures");
        // A failing subscriber of the drop notice itself must not announce its own drop.
        if entry.event != SubscriberDropped::NAME {
            let dropped = SubscriberDropped {
                event: entry.event.clone(),
                subscriber: entry.subscriber.to_string(),
                error: error.to_owned(),
                consecutive_failures: streak,
            };
            let payload = payload_or_null(&dropped);
            if let Err(e) = inner
                .publish_internal(SubscriberDropped::NAME, payload, PublishOptions::default())
                .await
            {
                tracing::error!(event = %entry.event, subscriber = %entry.subscriber, "event bus: could not announce the drop: {e}");
            }
        }
    }
}

/// Ends a delivery whose attempts all failed: dead-letters it and says it
/// was handled, or hands it back ([`Settled::Released`]) so an acknowledging
/// transport redelivers it, when its dead letter could not be published or
/// when a durable bus is shutting down (another replica will take it).
pub(crate) async fn final_failure(
    inner: &Arc<Inner>,
    entry: &Arc<SubEntry>,
    envelope: RawEnvelope,
    error: String,
    attempts: u32,
) -> Settled {
    let (event, subscriber) = (&envelope.event, &entry.subscriber);
    if inner.stopping() && inner.durable() {
        tracing::warn!(%event, %subscriber, attempts, reason = %error, "event handler failed while the bus shuts down; the event is handed back for another replica, not dead-lettered");
        return Settled::Released;
    }
    count_failure(inner, entry, &error).await;
    let internal = event.starts_with(DLQ_PREFIX) || event.starts_with(REPLY_PREFIX);
    if !inner.dlq_enabled || internal {
        tracing::error!(%event, %subscriber, attempts, reason = %error, "event handler failed; the event is dropped (no dead letter for it)");
        return Settled::Done;
    }
    let dlq_event = format!("{DLQ_PREFIX}{event}");
    let options = PublishOptions {
        correlation_id: envelope.correlation_id.clone(),
        ..PublishOptions::default()
    };
    let letter = DeadLetter {
        original: serde_json::to_value(&envelope).unwrap_or_default(),
        subscriber: subscriber.to_string(),
        error: error.clone(),
        attempts,
        failed_at: now(),
    };
    let payload = payload_or_null(&letter);
    match inner.publish_internal(&dlq_event, payload, options).await {
        Ok(()) => {
            if let Some(m) = microcore_kernel::metrics() {
                m.bus_dead_lettered.add(
                    1,
                    &[
                        opentelemetry::KeyValue::new("event", event.clone()),
                        opentelemetry::KeyValue::new("subscriber", subscriber.clone()),
                    ],
                );
            }
            inner.dead_letters.record(RecordedDeadLetter {
                id: uuid::Uuid::new_v4().to_string(),
                event: event.clone(),
                subscriber: subscriber.to_string(),
                error: error.clone(),
                attempts,
                failed_at: letter.failed_at,
                original: envelope.clone(),
            });
            tracing::error!(%event, %subscriber, attempts, reason = %error, dead_letter = %dlq_event, "event handler failed; the event is dead-lettered");
            Settled::Done
        }
        Err(e) => {
            tracing::error!(%event, %subscriber, attempts, reason = %error, "event handler failed and its dead letter could not be published ({e}); the event is handed back to the transport, not acknowledged");
            Settled::Released
        }
    }
}
