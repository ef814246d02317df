//! Request/reply over the bus: publish with a private reply event, take the
//! first answer, give up cleanly after the timeout.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;

use crate::EventBus;
use crate::REPLY_PREFIX;
use crate::driver::{Deliver, Settled, Settlement};
use crate::envelope::short_type_name;
use crate::error::BusError;
use crate::event::Event;
use crate::handle::{Inner, to_payload};
use crate::options::PublishOptions;
use crate::reply::{REPLY_ERROR_HEADER, ReplyError};
use crate::wire_envelope::{Payload, WireEnvelope};

#[microcore_kernel::contract]
impl EventBus {
    /// Publishes `event` and returns the first answer, its `BusError::Replied` error or a timeout.
    ///
    /// A handler's `Ok(value)` is the answer; its `Err` answers at once as
    /// [`BusError::Replied`] (its [`ReplyError`](crate::ReplyError) code, or
    /// `internal`), never retried or dead-lettered. Times out with
    /// [`BusError::Timeout`] when nobody answers, including when nobody
    /// subscribes or the handler returns `()`. Cancelling the call
    /// (dropping the future) removes its reply subscription.
    pub async fn request<E: Event, R: DeserializeOwned>(
        &self,
        event: E,
        timeout: Duration,
    ) -> Result<R, BusError> {
        let emitter = self.emitter();
        self.inner
            .probe
            .observe("request", async {
                let payload = to_payload(E::NAME, &event)?;
                self.inner.ensure_open(E::NAME)?;
                let reply = self.ask(E::NAME, payload, emitter, timeout).await?;
                if let Some(code) = reply.headers.get(REPLY_ERROR_HEADER) {
                    let refusal = reply
                        .decode_payload::<ReplyError>()
                        .unwrap_or_else(|_| ReplyError::new(code.clone(), "no message"));
                    return Err(BusError::Replied {
                        event: E::NAME.to_owned(),
                        from: reply.emitter.to_string(),
                        code: refusal.code,
                        message: refusal.message,
                    });
                }
                reply
                    .decode_payload::<R>()
                    .map_err(|source| BusError::BadReply {
                        event: E::NAME.to_owned(),
                        from: reply.emitter.to_string(),
                        expected: short_type_name::<R>(),
                        source,
                    })
            })
            .await
    }

    async fn ask(
        &self,
        event: &'static str,
        payload: Payload,
        emitter: Arc<str>,
        timeout: Duration,
    ) -> Result<Arc<WireEnvelope>, BusError> {
        let correlation = uuid::Uuid::new_v4().simple().to_string();
        let reply_event = format!("{REPLY_PREFIX}{event}.{}", &correlation[..8]);
        let (tx, rx) = oneshot::channel::<Arc<WireEnvelope>>();
        let first = Arc::new(Mutex::new(Some(tx)));
        let expected = correlation.clone();
        let collect: Deliver = Arc::new(move |reply: Arc<WireEnvelope>, settlement: Settlement| {
            if reply.correlation_id.as_deref() == Some(expected.as_str())
                && let Some(tx) = first.lock().take()
            {
                let _ = tx.send(reply);
            }
            Ok(settlement.already(Settled::Done))
        });
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        // Armed before subscribing: a call cancelled at any await below
        // still removes the reply subscription.
        let mut guard = ReplySubscription {
            inner: Arc::clone(&self.inner),
            id: Some(id),
        };
        self.inner
            .driver
            .subscribe(id, &reply_event, None, collect)
            .await
            .map_err(|reason| self.inner.unavailable(reason))?;
        let options = PublishOptions {
            correlation_id: Some(correlation),
            ..PublishOptions::default()
        };
        let envelope = Inner::envelope(event.into(), payload, emitter, options, Some(reply_event));
        self.inner.send(envelope).await?;
        let outcome = tokio::time::timeout(timeout, rx).await;
        guard.close().await;
        match outcome {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(self
                .inner
                .unavailable("the bus shut down while waiting for a reply".into())),
            Err(_) => Err(BusError::Timeout {
                event: event.to_owned(),
                timeout,
            }),
        }
    }
}

/// The reply subscription of one `request`, removed when the call ends,
/// however it ends: answered, timed out, failed or cancelled (dropped).
struct ReplySubscription {
    inner: Arc<Inner>,
    id: Option<u64>,
}

impl ReplySubscription {
    async fn close(&mut self) {
        if let Some(id) = self.id.take() {
            self.inner.driver.unsubscribe(id).await;
        }
    }
}

impl Drop for ReplySubscription {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        // Cancelled mid-call: unsubscribing is async, so it finishes on the runtime.
        let inner = Arc::clone(&self.inner);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { inner.driver.unsubscribe(id).await });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use futures::future::BoxFuture;
    use microcore_kernel::Probe;

    use super::*;
    use crate::driver::memory::MemoryDriver;
    use crate::driver::{Capabilities, Driver, DriverError};

    /// The in-process driver, keeping the ids of the live subscriptions.
    #[derive(Default)]
    struct Watched {
        memory: MemoryDriver,
        live: Arc<Mutex<HashSet<u64>>>,
    }

    impl Driver for Watched {
        fn name(&self) -> &'static str {
            self.memory.name()
        }
        fn capabilities(&self) -> Capabilities {
            self.memory.capabilities()
        }
        fn publish(&self, envelope: Arc<WireEnvelope>) -> BoxFuture<'_, Result<(), DriverError>> {
            self.memory.publish(envelope)
        }
        fn subscribe<'a>(
            &'a self,
            id: u64,
            event: &'a str,
            group: Option<&'a str>,
            deliver: Deliver,
        ) -> BoxFuture<'a, Result<(), String>> {
            self.live.lock().insert(id);
            self.memory.subscribe(id, event, group, deliver)
        }
        fn unsubscribe(&self, id: u64) -> BoxFuture<'_, ()> {
            self.live.lock().remove(&id);
            self.memory.unsubscribe(id)
        }
        fn shutdown(&self) -> BoxFuture<'_, ()> {
            self.memory.shutdown()
        }
    }

    #[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
    struct Asked {
        n: u32,
    }

    impl Event for Asked {
        const NAME: &'static str = "t.unit.asked";
    }

    /// Review item 18: a request dropped while waiting kept its reply subscription forever.
    #[tokio::test]
    async fn a_cancelled_request_removes_its_reply_subscription() {
        let driver = Watched::default();
        let live = driver.live.clone();
        let bus = EventBus::new(
            Probe::detached("event_bus"),
            Box::new(driver),
            true,
            crate::handle::Limits::default(),
        );
        let asked = bus.request::<_, serde_json::Value>(Asked { n: 1 }, Duration::from_secs(60));
        let cancelled = tokio::time::timeout(Duration::from_millis(50), asked).await;
        assert!(
            cancelled.is_err(),
            "nobody answers, so the call was cut short"
        );
        for _ in 0..200 {
            if live.lock().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(live.lock().is_empty(), "left: {:?}", live.lock());
    }
}
