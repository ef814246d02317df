//! The in-process baseline: what a hand-written program does to hand a JSON
//! event to `S` consumers in one process. Each event is serialised once
//! (`serde_json::to_vec`), the bytes are shared (`Arc`) over one tokio
//! unbounded channel per consumer, and each consumer task deserialises them.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::Ticked;
use crate::measure::{self, Shape, Tally};

/// The consumers' senders; dropping them ends the consumer tasks.
pub(crate) type Senders = Arc<Vec<mpsc::UnboundedSender<Arc<Vec<u8>>>>>;

/// `shape.subscribers` consumer tasks, counted by the returned tally.
pub(crate) fn subscribe(shape: Shape) -> (Arc<Tally>, Senders) {
    let tally = Tally::new(shape.subscribers);
    let senders = (0..shape.subscribers)
        .map(|index| {
            let (tx, mut rx) = mpsc::unbounded_channel::<Arc<Vec<u8>>>();
            let tally = tally.clone();
            tokio::spawn(async move {
                while let Some(bytes) = rx.recv().await {
                    match serde_json::from_slice::<Ticked>(&bytes) {
                        Ok(event) => tally.record(index, event.seq),
                        Err(e) => eprintln!("baseline consumer {index}: undecodable event: {e}"),
                    }
                }
            });
            tx
        })
        .collect();
    (tally, Arc::new(senders))
}

/// One run's publishers.
pub(crate) async fn publish(
    senders: &Senders,
    tally: &Arc<Tally>,
    shape: Shape,
    events: u64,
) -> Result<(), String> {
    measure::publishers(shape, |p| {
        let (senders, tally) = (senders.clone(), tally.clone());
        async move {
            for seq in measure::sequence(shape, p, events) {
                tally.admit().await;
                let bytes = serde_json::to_vec(&Ticked::new(seq))
                    .map(Arc::new)
                    .map_err(|e| format!("encode: {e}"))?;
                for tx in senders.iter() {
                    tx.send(bytes.clone())
                        .map_err(|_| "a baseline consumer stopped".to_owned())?;
                }
            }
            Ok(())
        }
    })
    .await
}
