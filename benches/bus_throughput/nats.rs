//! The core NATS baseline: raw async-nats on its own connection, one queue
//! subscription per consumer (a distinct queue group each, as the bus's
//! groups are), publishing the envelope bytes the bus would.

use std::sync::Arc;

use futures::StreamExt;

use crate::measure::{Shape, Tally};
use crate::raw_nats::{self, Consumers};

pub(crate) async fn subscribe(
    client: &async_nats::Client,
    subject: &str,
    shape: Shape,
) -> Result<Consumers, String> {
    let mut consumers = Consumers::new(shape);
    for index in 0..shape.subscribers {
        let mut sub = client
            .queue_subscribe(subject.to_owned(), raw_nats::consumer_name(shape, index))
            .await
            .map_err(|e| format!("raw subscribe: {e}"))?;
        let tally = consumers.tally.clone();
        consumers.spawn(async move {
            while let Some(msg) = sub.next().await {
                raw_nats::count(&tally, index, &msg.payload, "NATS");
            }
        });
    }
    client.flush().await.map_err(|e| format!("flush: {e}"))?;
    Ok(consumers)
}

/// One run's publishers.
pub(crate) async fn publish(
    client: &async_nats::Client,
    subject: &str,
    tally: &Arc<Tally>,
    shape: Shape,
    events: u64,
) -> Result<(), String> {
    // Shared, so an event costs what it did inline: one copy of the subject.
    let target = Arc::new((client.clone(), subject.to_owned()));
    raw_nats::publish(tally, shape, events, move |_id, body| {
        let target = target.clone();
        async move {
            let (client, subject) = &*target;
            client
                .publish(subject.clone(), body.into())
                .await
                .map_err(|e| format!("raw publish: {e}"))
        }
    })
    .await
}
