//! The core NATS baseline: raw async-nats on its own connection, one queue
//! subscription per consumer (a distinct queue group each, as the bus's
//! groups are), publishing the envelope bytes the bus would.

use std::sync::Arc;

use futures::StreamExt;
use tokio::task::JoinHandle;

use crate::measure::{self, Shape, Tally};
use crate::wire;

/// The consumers of one shape; dropping their tasks unsubscribes.
pub(crate) struct Consumers {
    pub(crate) tally: Arc<Tally>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Consumers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

pub(crate) async fn subscribe(
    client: &async_nats::Client,
    subject: &str,
    shape: Shape,
) -> Result<Consumers, String> {
    let tally = Tally::new(shape.subscribers);
    let mut tasks = Vec::new();
    for index in 0..shape.subscribers {
        let group = format!("raw-p{}s{}n{index}", shape.publishers, shape.subscribers);
        let mut sub = client
            .queue_subscribe(subject.to_owned(), group)
            .await
            .map_err(|e| format!("raw subscribe: {e}"))?;
        let tally = tally.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                match wire::decode(&msg.payload) {
                    Ok(seq) => tally.record(index, seq),
                    Err(e) => eprintln!("raw NATS consumer {index}: {e}"),
                }
            }
        }));
    }
    client.flush().await.map_err(|e| format!("flush: {e}"))?;
    Ok(Consumers { tally, tasks })
}

/// One run's publishers.
pub(crate) async fn publish(
    client: &async_nats::Client,
    subject: &str,
    tally: &Arc<Tally>,
    shape: Shape,
    events: u64,
) -> Result<(), String> {
    measure::publishers(shape, |p| {
        let (client, tally, subject) = (client.clone(), tally.clone(), subject.to_owned());
        async move {
            for seq in measure::sequence(shape, p, events) {
                tally.admit().await;
                let id = uuid::Uuid::new_v4().to_string();
                let body = wire::encode(&id, seq)?;
                client
                    .publish(subject.clone(), body.into())
                    .await
                    .map_err(|e| format!("raw publish: {e}"))?;
            }
            Ok(())
        }
    })
    .await
}
