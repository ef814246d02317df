//! Reading one consumer: each message goes to the bus in arrival order, is
//! kept alive with progress acks while the bus delivers it (retries and dead
//! letter included), and is acknowledged only when that delivery is over.
//! A reader told to stop (unsubscribe, shutdown) pulls nothing more and
//! settles what it holds: what the bus handled is acknowledged, what it did
//! not is handed back with a NAK (usually redelivered at once; nats-server 2.9
//! was seen to hold one until `ack_wait` and to send another twice, which
//! at-least-once allows and the tests tolerate). A reader that dies (a crash, or still busy when
//! its stop's time is up) acknowledges nothing more, so its unfinished
//! messages are redelivered after `ack_wait`.

use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::consumer::pull::{self, MessagesError, MessagesErrorKind};
use async_nats::jetstream::{AckKind, Context, Message};
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use tokio::sync::oneshot;
use tokio::time::{Instant, MissedTickBehavior};

use crate::driver::{Deliver, Settled, Settlement, hand_over};
use crate::wire_envelope::WireEnvelope;

/// How long a reader waits before reopening a consumer it lost.
const REOPEN_AFTER: Duration = Duration::from_secs(1);

/// Where a reader's messages come from: one consumer on the bus's stream.
pub(crate) struct Source {
    pub(crate) js: Context,
    pub(crate) stream: String,
    pub(crate) config: pull::Config,
}

impl Source {
    /// Creates the consumer, or updates it to this config when it exists
    /// (a durable keeps its position, so a group resumes where it stopped).
    pub(crate) async fn open(&self) -> Result<PullConsumer, String> {
        self.js
            .create_consumer_on_stream(self.config.clone(), &self.stream)
            .await
            .map_err(|e| {
                format!(
                    "JetStream did not create consumer `{}` on stream `{}` for `{}`: {e}",
                    self.consumer_name(),
                    self.stream,
                    self.config.filter_subject
                )
            })
    }

    fn consumer_name(&self) -> &str {
        self.config
            .durable_name
            .as_deref()
            .or(self.config.name.as_deref())
            .unwrap_or("?")
    }
}

/// Reads `consumer`, reopening it after an interruption, until `stop` fires
/// (or its sender is dropped); then settles what is in flight for at most
/// `ack_wait` and returns.
pub(crate) async fn read(
    source: Source,
    mut consumer: PullConsumer,
    deliver: Deliver,
    ack_wait: Duration,
    mut stop: oneshot::Receiver<()>,
) {
    let progress_every = (ack_wait / 3).max(Duration::from_millis(100));
    let mut in_flight: FuturesUnordered<BoxFuture<'static, ()>> = FuturesUnordered::new();
    loop {
        match consumer.messages().await {
            Ok(mut messages) => {
                let stopped = loop {
                    tokio::select! {
                        _ = &mut stop => break true,
                        Some(()) = in_flight.next(), if !in_flight.is_empty() => {}
                        next = messages.next() => match next {
                            Some(Ok(message)) => {
                                // Taking waits while the subscription is full
                                // (keeping arrival order); the rest settle meanwhile.
                                let taking = take(message, &deliver, progress_every);
                                tokio::pin!(taking);
                                let settling = loop {
                                    tokio::select! {
                                        settling = &mut taking => break settling,
                                        Some(()) = in_flight.next(), if !in_flight.is_empty() => {}
                                    }
                                };
                                in_flight.push(settling);
                            }
                            Some(Err(e)) if interrupts(&e) => {
                                tracing::warn!(consumer = source.consumer_name(), "event bus: JetStream consumer interrupted ({e}); reopening it");
                                break false;
                            }
                            Some(Err(e)) => tracing::warn!(consumer = source.consumer_name(), "event bus: JetStream read error: {e}"),
                            None => break false,
                        }
                    }
                };
                // Closed before settling: a message handed back must not
                // come straight back to this reader's open pull request.
                drop(messages);
                if stopped {
                    return finish(in_flight, ack_wait).await;
                }
            }
            Err(e) => tracing::warn!(
                consumer = source.consumer_name(),
                "event bus: cannot read JetStream consumer: {e}"
            ),
        }
        tokio::select! {
            _ = &mut stop => return finish(in_flight, ack_wait).await,
            () = settle_for(&mut in_flight, REOPEN_AFTER) => {}
        }
        match source.open().await {
            Ok(reopened) => consumer = reopened,
            Err(e) => tracing::warn!("event bus: {e}; retrying"),
        }
    }
}

/// Settles every in-flight message, for at most `limit`. Whatever is still
/// running then stays unacknowledged and returns after `ack_wait`.
async fn finish(mut in_flight: FuturesUnordered<BoxFuture<'static, ()>>, limit: Duration) {
    let all = async { while in_flight.next().await.is_some() {} };
    let _ = tokio::time::timeout(limit, all).await;
}

/// Errors after which the consumer may be gone (a server restart, an
/// expired broadcast consumer): reopen it rather than wait on it.
fn interrupts(e: &MessagesError) -> bool {
    matches!(
        e.kind(),
        MessagesErrorKind::MissingHeartbeat
            | MessagesErrorKind::NoResponders
            | MessagesErrorKind::ConsumerDeleted
            | MessagesErrorKind::PushBasedConsumer
    )
}

/// Hands a message to the bus, returning what settles it. A message that is
/// not a MicroCore envelope can never be delivered: it is terminated, so the
/// server neither redelivers it forever nor lets it hold a slot.
async fn take(
    message: Message,
    deliver: &Deliver,
    progress_every: Duration,
) -> BoxFuture<'static, ()> {
    match WireEnvelope::from_wire(&message.payload) {
        Ok(envelope) => {
            if let Ok(info) = message.info()
                && info.delivered > 1
            {
                tracing::debug!(event = %envelope.event, id = %envelope.id, attempt = info.delivered, "event bus: JetStream redelivery");
            }
            // Past its bound the bus takes it once it has room;
            // max_ack_pending (1000) keeps a default-sized bus from it.
            let taken =
                hand_over(deliver, std::sync::Arc::new(envelope), Settlement::Awaited).await;
            // Asked for, so always there; a missing one settles as handled.
            let done = taken.unwrap_or_else(|| async { Settled::Done }.boxed());
            settle(message, done, progress_every).boxed()
        }
        Err(e) => {
            tracing::error!(
                subject = %message.subject,
                "event bus: a JetStream message is not a MicroCore envelope; it is terminated, not delivered: {e}"
            );
            async move {
                if let Err(e) = message.ack_with(AckKind::Term).await {
                    tracing::warn!(
                        "event bus: could not terminate a foreign JetStream message: {e}"
                    );
                }
            }
            .boxed()
        }
    }
}

/// Waits for the bus to finish the delivery, telling the server every
/// `progress_every` that work goes on, then acknowledges it, or, when this
/// replica did not handle it (its subscription ended first), gives it back
/// (NAK) so another member of the group usually gets it without waiting for
/// ack_wait.
async fn settle(message: Message, mut done: BoxFuture<'static, Settled>, progress_every: Duration) {
    let mut progress = tokio::time::interval_at(Instant::now() + progress_every, progress_every);
    progress.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let settled = loop {
        tokio::select! {
            settled = &mut done => break settled,
            _ = progress.tick() => {
                if let Err(e) = message.ack_with(AckKind::Progress).await {
                    tracing::debug!("event bus: JetStream progress ack failed: {e}");
                }
            }
        }
    };
    if settled == Settled::Released {
        if let Err(e) = message.ack_with(AckKind::Nak(None)).await {
            tracing::debug!(
                "event bus: could not hand back an undelivered JetStream message; it returns after ack_wait: {e}"
            );
        }
        return;
    }
    if let Err(e) = message.ack().await {
        tracing::warn!(
            subject = %message.subject,
            "event bus: could not acknowledge a delivered JetStream message; it will be delivered again after ack_wait: {e}"
        );
    }
}

/// Keeps settling in-flight messages for `pause`.
async fn settle_for(in_flight: &mut FuturesUnordered<BoxFuture<'static, ()>>, pause: Duration) {
    let deadline = tokio::time::sleep(pause);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => return,
            Some(()) = in_flight.next(), if !in_flight.is_empty() => {}
        }
    }
}
