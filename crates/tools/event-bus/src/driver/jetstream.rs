//! The JetStream driver: durable, at-least-once delivery across replicas.
//!
//! Every event is stored in one stream (`MICROCORE_BUS` for the prefix `bus.`,
//! taking `bus.>`) before `publish` returns, and kept for
//! `EVENT_BUS_JETSTREAM_MAX_AGE_SECS` (limits retention: reading does not
//! remove it). A group reads through a durable pull consumer named after the
//! group and the event, shared by every replica: each event is handled once
//! across the fleet, and events published while every member is down wait
//! for the first one back. A broadcast reads through an ephemeral consumer
//! that sees only events published after it subscribed.
//!
//! A message is acknowledged once the bus has finished delivering it,
//! retries and dead letter included; until then progress acks keep it from
//! being redelivered. A replica that dies mid-delivery acknowledges nothing,
//! so the server hands the message to another one after
//! `EVENT_BUS_JETSTREAM_ACK_WAIT_SECS`: a handler may see an event twice.
//!
//! A delayed event waits in a stream of its own until due, and any replica
//! releases it then (see `delayed`): it survives its publisher.
//!
//! Replies to a `request` travel on core NATS, outside the stream: only the
//! waiting requester can use one, so storing it would only cost space.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::context::CreateStreamErrorKind;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{Config as StreamConfig, RetentionPolicy, StorageType};
use async_nats::jetstream::{self, Context};
use futures::FutureExt;
use futures::future::BoxFuture;
use parking_lot::Mutex;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::nats::{NatsDriver, connect_client};
use super::{Capabilities, Deliver, Delivery, Driver, DriverError, Support};
use crate::REPLY_PREFIX;
use crate::wire_envelope::WireEnvelope;

mod delayed;
mod names;
mod reader;

/// Unacknowledged messages one consumer may have out at once, fleet-wide for
/// a group: bounds what a replica holds in memory while the bus delivers.
const MAX_ACK_PENDING: i64 = 1000;

/// How long the server keeps a broadcast consumer nobody reads (its process died).
const EPHEMERAL_IDLE: Duration = Duration::from_secs(60);

/// The JetStream driver's settings, read by the tool.
pub(crate) struct JetStreamSettings {
    /// `NATS_URL`.
    pub(crate) url: String,
    /// `EVENT_BUS_NATS_PREFIX`; must end with `.`.
    pub(crate) prefix: String,
    /// `EVENT_BUS_JETSTREAM_MAX_AGE_SECS`: how long the stream keeps an event.
    pub(crate) max_age: Duration,
    /// `EVENT_BUS_JETSTREAM_ACK_WAIT_SECS`: how long an unacknowledged
    /// delivery waits before the server hands it to someone else.
    pub(crate) ack_wait: Duration,
}

struct Reader {
    task: JoinHandle<()>,
    /// Tells the reader to stop pulling and settle what it holds; taken once sent.
    stop: Option<oneshot::Sender<()>>,
    /// The broadcast consumer to delete on unsubscribe; a group's durable stays.
    ephemeral: Option<String>,
}

impl Reader {
    /// Tells the reader to stop and waits up to `limit` for it to settle what
    /// it holds; a reader still busy then is aborted, and its unfinished
    /// deliveries go to another member after `ack_wait`. A broadcast
    /// consumer is deleted afterwards (deleting it first would fail the acks).
    async fn close(self, js: Context, stream: String, limit: Duration) {
        let Self {
            mut task,
            stop,
            ephemeral,
        } = self;
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
        if tokio::time::timeout(limit, &mut task).await.is_err() {
            task.abort();
        }
        if let Some(name) = ephemeral {
            let _ = tokio::time::timeout(limit, delete_consumer(&js, &stream, name)).await;
        }
    }
}

pub(crate) struct JetStreamDriver {
    client: async_nats::Client,
    js: Context,
    stream: String,
    prefix: String,
    ack_wait: Duration,
    replies: NatsDriver,
    readers: Mutex<HashMap<u64, Reader>>,
    /// Where delayed events wait until due, outliving this process.
    delays: delayed::DelayStore,
    /// This replica's poller releasing due delayed events, until drain.
    poller: Mutex<Option<Poller>>,
}

/// The running poller and what stops it.
struct Poller {
    task: JoinHandle<()>,
    stop: Option<oneshot::Sender<()>>,
}

impl JetStreamDriver {
    /// Connects and creates (or reuses) the stream, failing with what to do
    /// when NATS or JetStream is not there.
    pub(crate) async fn connect(settings: &JetStreamSettings) -> Result<Self, String> {
        let stream = names::stream_name(&settings.prefix)?;
        let client = connect_client(&settings.url).await?;
        let js = jetstream::new(client.clone());
        ensure_stream(&js, &stream, settings).await?;
        let delays =
            delayed::DelayStore::open(js.clone(), &stream, &settings.prefix, &settings.url).await?;
        let (task, stop) = delays.spawn_poller();
        Ok(Self {
            replies: NatsDriver::with_client(
                client.clone(),
                &format!("_MICROCORE_RPC.{}", settings.prefix),
            ),
            client,
            js,
            stream,
            prefix: settings.prefix.clone(),
            ack_wait: settings.ack_wait,
            readers: Mutex::new(HashMap::new()),
            delays,
            poller: Mutex::new(Some(Poller {
                task,
                stop: Some(stop),
            })),
        })
    }

    fn subject(&self, event: &str) -> String {
        format!("{}{event}", self.prefix)
    }

    fn consumer_config(&self, event: &str, group: Option<&str>) -> pull::Config {
        let base = pull::Config {
            deliver_policy: DeliverPolicy::New,
            ack_policy: AckPolicy::Explicit,
            ack_wait: self.ack_wait,
            filter_subject: self.subject(event),
            max_ack_pending: MAX_ACK_PENDING,
            ..Default::default()
        };
        match group {
            Some(group) => pull::Config {
                durable_name: Some(names::group_consumer(group, event)),
                description: Some(format!("MicroCore group `{group}` reading `{event}`")),
                ..base
            },
            None => pull::Config {
                name: Some(format!("microcore-{}", uuid::Uuid::new_v4().simple())),
                description: Some(format!("MicroCore broadcast reading `{event}`")),
                inactive_threshold: EPHEMERAL_IDLE,
                ..base
            },
        }
    }
}

async fn delete_consumer(js: &Context, stream: &str, name: String) {
    if let Err(e) = js.delete_consumer_from_stream(&name, stream).await {
        tracing::debug!(
            "event bus: JetStream consumer `{name}` not deleted (the server expires it): {e}"
        );
    }
}

impl Drop for JetStreamDriver {
    fn drop(&mut self) {
        for (_, reader) in self.readers.get_mut().drain() {
            reader.task.abort();
        }
        if let Some(poller) = self.poller.get_mut().take() {
            poller.task.abort();
        }
    }
}

fn is_reply(event: &str) -> bool {
    event.starts_with(REPLY_PREFIX)
}

/// Tries at creating the stream before setup fails.
const STREAM_ATTEMPTS: u32 = 5;

/// Creates the stream, or reuses it (another replica made it) and applies
/// this replica's max age to it.
async fn ensure_stream(
    js: &Context,
    name: &str,
    settings: &JetStreamSettings,
) -> Result<(), String> {
    let url = &settings.url;
    let subjects = format!("{}>", settings.prefix);
    let config = StreamConfig {
        name: name.to_owned(),
        description: Some(format!("MicroCore event bus: every event on `{subjects}`")),
        subjects: vec![subjects.clone()],
        retention: RetentionPolicy::Limits,
        storage: StorageType::File,
        max_age: settings.max_age,
        ..Default::default()
    };
    let mut attempt = 0;
    let stream = loop {
        attempt += 1;
        let e = match js.get_or_create_stream(config.clone()).await {
            Ok(stream) => break stream,
            Err(e) => e,
        };
        if matches!(
            e.kind(),
            CreateStreamErrorKind::JetStreamUnavailable | CreateStreamErrorKind::TimedOut
        ) {
            return Err(format!(
                "JetStream is not available on the NATS server at {url} ({e}); enable it there \
                     (`nats-server -js`, or a `jetstream {{}}` block in its config), point NATS_URL \
                     at a server that has it, or set EVENT_BUS_DRIVER=nats for at-most-once \
                     delivery without JetStream"
            ));
        }
        // Another replica may have created it in the meantime.
        if let Ok(stream) = js.get_stream(name).await {
            break stream;
        }
        // The server can fail to create a stream's store under load (seen:
        // code 500, error 10049); that is worth another try or two.
        if attempt < STREAM_ATTEMPTS {
            tokio::time::sleep(Duration::from_millis(100) * attempt).await;
            continue;
        }
        return Err(format!(
            "cannot create JetStream stream `{name}` for `{subjects}` at {url}: {e}; \
             a stream that already takes these subjects must be removed, or set \
             another EVENT_BUS_NATS_PREFIX"
        ));
    };
    let existing = stream.cached_info().config.clone();
    if !existing.subjects.contains(&subjects) {
        return Err(format!(
            "JetStream stream `{name}` at {url} exists but takes {:?}, not `{subjects}`; it \
             belongs to something else: set another EVENT_BUS_NATS_PREFIX or remove that stream",
            existing.subjects
        ));
    }
    if existing.max_age != settings.max_age {
        let secs = settings.max_age.as_secs();
        js.update_stream(StreamConfig {
            max_age: settings.max_age,
            ..existing
        })
        .await
        .map_err(|e| {
            format!(
                "cannot set the max age of JetStream stream `{name}` at {url} to {secs} s \
                 (EVENT_BUS_JETSTREAM_MAX_AGE_SECS): {e}"
            )
        })?;
        tracing::info!("event bus: JetStream stream `{name}` now keeps events for {secs} s");
    }
    Ok(())
}

impl Driver for JetStreamDriver {
    fn name(&self) -> &'static str {
        "jetstream"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            delivery: Delivery::AtLeastOnce,
            delay: Support::Durable,
            retries: Support::InBus,
            dlq: Support::InBus,
        }
    }

    /// Returns once the server has stored the event (its PubAck). The
    /// envelope id is the message id, so a repeated publish is stored once.
    /// A delayed event is stored in the delay stream instead, until due.
    fn publish(&self, envelope: Arc<WireEnvelope>) -> BoxFuture<'_, Result<(), DriverError>> {
        async move {
            if is_reply(&envelope.event) {
                return self.replies.publish(envelope).await;
            }
            if let Some(delay) = envelope.delay.filter(|d| *d > 0.0) {
                return self.delays.store(&envelope, delay).await;
            }
            let subject = self.subject(&envelope.event);
            let body = envelope.to_wire().map_err(|e| e.to_string())?;
            let message = PublishMessage::build()
                .payload(body.into())
                .message_id(&envelope.id);
            let not_stored = |e: &dyn std::fmt::Display| {
                format!(
                    "JetStream did not store `{subject}` in stream `{}`: {e}",
                    self.stream
                )
            };
            self.js
                .send_publish(subject.clone(), message)
                .await
                .map_err(|e| not_stored(&e))?
                .await
                .map_err(|e| not_stored(&e))?;
            Ok(())
        }
        .boxed()
    }

    fn subscribe<'a>(
        &'a self,
        id: u64,
        event: &'a str,
        group: Option<&'a str>,
        deliver: Deliver,
    ) -> BoxFuture<'a, Result<(), String>> {
        async move {
            if group.is_none() && is_reply(event) {
                return self.replies.subscribe(id, event, group, deliver).await;
            }
            let config = self.consumer_config(event, group);
            let ephemeral = config.name.clone();
            let source = reader::Source {
                js: self.js.clone(),
                stream: self.stream.clone(),
                config,
            };
            // The consumer exists once this returns, so an event published
            // right after subscribe is not missed.
            let consumer = source.open().await?;
            let (stop, stopped) = oneshot::channel();
            let task = tokio::spawn(reader::read(
                source,
                consumer,
                deliver,
                self.ack_wait,
                stopped,
            ));
            self.readers.lock().insert(
                id,
                Reader {
                    task,
                    stop: Some(stop),
                    ephemeral,
                },
            );
            Ok(())
        }
        .boxed()
    }

    /// Stops the reader without waiting for it: the bus may unsubscribe from
    /// inside a delivery (a subscriber dropped after repeated failures), and
    /// that delivery must settle (be acknowledged) for the reader to finish.
    fn unsubscribe(&self, id: u64) -> BoxFuture<'_, ()> {
        if let Some(reader) = self.readers.lock().remove(&id) {
            tokio::spawn(reader.close(self.js.clone(), self.stream.clone(), self.ack_wait));
        }
        async move { self.replies.unsubscribe(id).await }.boxed()
    }

    /// Tells every reader to pull nothing more and to settle what it holds;
    /// the readers stay registered, so `shutdown` still waits for them.
    /// The poller stops too: pending delayed events stay stored for the
    /// other replicas, or for the next one to start.
    fn stop_reading(&self) -> BoxFuture<'_, ()> {
        for reader in self.readers.lock().values_mut() {
            if let Some(stop) = reader.stop.take() {
                let _ = stop.send(());
            }
        }
        if let Some(stop) = self.poller.lock().as_mut().and_then(|p| p.stop.take()) {
            let _ = stop.send(());
        }
        async {}.boxed()
    }

    /// Closes every reader with a short grace to settle what it holds (the
    /// kernel has drained deliveries by now, so their acks are ready).
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        let readers: Vec<Reader> = self.readers.lock().drain().map(|(_, r)| r).collect();
        let poller = self.poller.lock().take();
        async move {
            let grace = Duration::from_secs(2);
            if let Some(Poller { mut task, stop }) = poller {
                // Its pass is bounded; cut short, an entry published but
                // not yet deleted is published again under the same id.
                drop(stop);
                if tokio::time::timeout(grace, &mut task).await.is_err() {
                    task.abort();
                }
            }
            let closes = readers
                .into_iter()
                .map(|r| r.close(self.js.clone(), self.stream.clone(), grace));
            futures::future::join_all(closes).await;
            self.replies.shutdown().await;
            let _ = tokio::time::timeout(grace, self.client.flush()).await;
        }
        .boxed()
    }
}
