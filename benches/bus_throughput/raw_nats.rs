//! What the two raw async-nats baselines (core NATS and JetStream) share:
//! their consumers' names and reader tasks, how a reader counts a message,
//! and the publish loop (a uuid and the bus's envelope bytes per event).

use std::future::Future;
use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::measure::{self, Shape, Tally};
use crate::wire;

/// The reader tasks of one shape's consumers; dropping them stops reading
/// (and, on core NATS, unsubscribes).
pub(crate) struct Consumers {
    pub(crate) tally: Arc<Tally>,
    tasks: Vec<JoinHandle<()>>,
}

impl Consumers {
    pub(crate) fn new(shape: Shape) -> Self {
        Self {
            tally: Tally::new(shape.subscribers),
            tasks: Vec::new(),
        }
    }

    /// Runs `reader` as consumer `index`'s task.
    pub(crate) fn spawn(&mut self, reader: impl Future<Output = ()> + Send + 'static) {
        self.tasks.push(tokio::spawn(reader));
    }
}

impl Drop for Consumers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Consumer `index`'s queue group or durable name: one of its own per
/// consumer, as the bus's groups are.
pub(crate) fn consumer_name(shape: Shape, index: usize) -> String {
    format!("raw-p{}s{}n{index}", shape.publishers, shape.subscribers)
}

/// Decodes one message's payload and counts it for consumer `index`.
pub(crate) fn count(tally: &Tally, index: usize, bytes: &[u8], baseline: &str) {
    match wire::decode(bytes) {
        Ok(seq) => tally.record(index, seq),
        Err(e) => eprintln!("raw {baseline} consumer {index}: {e}"),
    }
}

/// One run's publishers: per event, a uuid and the envelope bytes the bus
/// would send, handed to `send(id, bytes)`.
pub(crate) async fn publish<S, Fut>(
    tally: &Arc<Tally>,
    shape: Shape,
    events: u64,
    send: S,
) -> Result<(), String>
where
    S: Fn(String, Vec<u8>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    measure::publishers(shape, |p| {
        let (tally, send) = (tally.clone(), send.clone());
        async move {
            for seq in measure::sequence(shape, p, events) {
                tally.admit().await;
                let id = uuid::Uuid::new_v4().to_string();
                let body = wire::encode(&id, seq)?;
                send(id, body).await?;
            }
            Ok(())
        }
    })
    .await
}
