//! The NATS driver: replicas share one bus. A group is a NATS queue group
//! (each event goes to one member across the fleet); a broadcast is a plain
//! subscription. Core NATS is at-most-once: an event published while no
//! member of a group is connected is not kept (the JetStream driver keeps it).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::Subject;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use parking_lot::{Mutex, RwLock};
use tokio::task::JoinHandle;

use super::{
    Capabilities, Deliver, Delivery, Driver, DriverError, Settlement, Support, hand_over, run_here,
};
use crate::REPLY_PREFIX;
use crate::wire_envelope::WireEnvelope;

pub(crate) struct NatsDriver {
    client: async_nats::Client,
    prefix: String,
    readers: Mutex<HashMap<u64, JoinHandle<()>>>,
    /// Each event's subject, made once: a `Subject` is shared bytes, so a
    /// publish clones a pointer instead of formatting the name again.
    subjects: RwLock<HashMap<String, Subject>>,
}

/// Connects to NATS, failing fast with what to do when it is not there.
pub(crate) async fn connect_client(url: &str) -> Result<async_nats::Client, String> {
    async_nats::ConnectOptions::new()
        .name("microcore-event-bus")
        .connection_timeout(Duration::from_secs(3))
        .connect(url)
        .await
        .map_err(|e| {
            format!(
                "cannot reach NATS at {url}: {e}; start NATS there, fix NATS_URL, \
                 or set EVENT_BUS_DRIVER=in_process for a single instance"
            )
        })
}

impl NatsDriver {
    /// Connects, failing fast with what to do when NATS is not there.
    pub(crate) async fn connect(url: &str, prefix: &str) -> Result<Self, String> {
        Ok(Self::with_client(connect_client(url).await?, prefix))
    }

    /// A driver on an existing connection: the JetStream driver sends replies
    /// through one, since only the waiting requester can use them.
    pub(crate) fn with_client(client: async_nats::Client, prefix: &str) -> Self {
        Self {
            client,
            prefix: prefix.to_owned(),
            readers: Mutex::new(HashMap::new()),
            subjects: RwLock::new(HashMap::new()),
        }
    }

    fn subject(&self, event: &str) -> Subject {
        let made = || Subject::from(format!("{}{event}", self.prefix));
        // A reply's event is unique to its request: kept, they would pile up.
        if event.starts_with(REPLY_PREFIX) {
            return made();
        }
        if let Some(subject) = self.subjects.read().get(event) {
            return subject.clone();
        }
        let subject = made();
        self.subjects
            .write()
            .entry(event.to_owned())
            .or_insert(subject)
            .clone()
    }
}

impl Driver for NatsDriver {
    fn name(&self) -> &'static str {
        "nats"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            delivery: Delivery::AtMostOnce,
            delay: Support::InBus,
            retries: Support::InBus,
            dlq: Support::InBus,
        }
    }

    fn publish(&self, envelope: Arc<WireEnvelope>) -> BoxFuture<'_, Result<(), DriverError>> {
        async move {
            let body = envelope.to_wire().map_err(|e| e.to_string())?;
            self.client
                .publish(self.subject(&envelope.event), Bytes::from(body))
                .await
                .map_err(|e| format!("NATS publish failed: {e}"))?;
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
            let subject = self.subject(event);
            let mut sub = match group {
                Some(g) => self.client.queue_subscribe(subject.clone(), g.to_owned()).await,
                None => self.client.subscribe(subject.clone()).await,
            }
            .map_err(|e| format!("NATS subscribe to {subject} failed: {e}"))?;
            // The server knows the subscription once this returns, so an
            // event published right after subscribe is not missed.
            self.client
                .flush()
                .await
                .map_err(|e| format!("NATS flush failed: {e}"))?;
            let reader = tokio::spawn(async move {
                while let Some(msg) = sub.next().await {
                    match WireEnvelope::from_wire(&msg.payload) {
                        Ok(envelope) => {
                            // At most once: nothing is acknowledged, so
                            // nothing waits; an idle lane runs right here.
                            let lane =
                                hand_over(&deliver, Arc::new(envelope), Settlement::RunHere)
                                    .await;
                            run_here(lane).await;
                        }
                        Err(e) => tracing::error!(
                            subject = %msg.subject,
                            "event bus: a NATS message is not a MicroCore envelope and was not delivered: {e}"
                        ),
                    }
                }
            });
            self.readers.lock().insert(id, reader);
            Ok(())
        }
        .boxed()
    }

    fn unsubscribe(&self, id: u64) -> BoxFuture<'_, ()> {
        // Dropping the subscriber inside the reader sends UNSUB.
        if let Some(reader) = self.readers.lock().remove(&id) {
            reader.abort();
        }
        async {}.boxed()
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        for (_, reader) in self.readers.lock().drain() {
            reader.abort();
        }
        async move {
            let _ = tokio::time::timeout(Duration::from_secs(2), self.client.flush()).await;
        }
        .boxed()
    }
}
