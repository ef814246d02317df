//! MicroCore's side, the same for every driver: `S` subscriptions, each in
//! its own group (what `subscribe` gives two different handlers), and `P`
//! tasks calling `bus.publish`.

use std::sync::Arc;

use microcore::prelude::*;

use crate::Ticked;
use crate::measure::{self, Shape, Tally};

/// One subscriber: counts what it receives.
struct Counter {
    tally: Arc<Tally>,
    index: usize,
}

impl Counter {
    async fn on_ticked(self: Arc<Self>, event: Envelope<Ticked>) -> HandlerResult {
        self.tally.record(self.index, event.payload.seq);
        Ok(())
    }
}

/// `shape.subscribers` subscriptions on `bus`, counted by the returned tally.
pub(crate) async fn subscribe(
    bus: &EventBus,
    shape: Shape,
) -> Result<(Arc<Tally>, Vec<Subscription>), String> {
    let tally = Tally::new(shape.subscribers);
    let mut subs = Vec::new();
    for index in 0..shape.subscribers {
        let counter = Arc::new(Counter {
            tally: tally.clone(),
            index,
        });
        let group = format!("p{}s{}n{index}", shape.publishers, shape.subscribers);
        let sub = bus
            .subscribe_with(
                &counter,
                Counter::on_ticked,
                SubOptions::default().group(group),
            )
            .await
            .map_err(|e| format!("subscribe: {e}"))?;
        subs.push(sub);
    }
    Ok((tally, subs))
}

/// Ends the subscriptions of one shape.
pub(crate) async fn unsubscribe(bus: &EventBus, subs: Vec<Subscription>) {
    for sub in subs {
        let _ = bus.unsubscribe(&sub).await;
    }
}

/// One run's publishers: `P` tasks sharing `events` sequence numbers.
pub(crate) async fn publish(
    bus: &EventBus,
    tally: &Arc<Tally>,
    shape: Shape,
    events: u64,
) -> Result<(), String> {
    measure::publishers(shape, |p| {
        let (bus, tally) = (bus.clone(), tally.clone());
        async move {
            for seq in measure::sequence(shape, p, events) {
                tally.admit().await;
                bus.publish(Ticked::new(seq))
                    .await
                    .map_err(|e| format!("publish: {e}"))?;
            }
            Ok(())
        }
    })
    .await
}
