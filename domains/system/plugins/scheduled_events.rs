//! Publishes the scheduler's durable one-shots when they are due.
//!
//! `scheduler.schedule_at(when, event, payload, key)` stores an event in the
//! scheduler's store; a tool never uses another tool, so this plugin, which
//! holds both, receives each due one-shot and publishes it on the event bus
//! under its stored id, emitter and parent. The scheduler deletes it only
//! after the publish succeeded (an error leaves it stored and retried), so
//! it is published at least once, after a restart too; its id is the same
//! every time, so JetStream's duplicate window and idempotent subscribers
//! see one event.

use microcore::prelude::*;
use microcore::tools::event_bus::RawEnvelope;
use microcore::tools::scheduler::DueEvent;

/// Publishes due one-shots.
#[plugin]
pub struct ScheduledEvents {
    scheduler: Scheduler,
    event_bus: EventBus,
}

impl Plugin for ScheduledEvents {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        self.scheduler.on_due(&self, Self::publish_due)?;
        Ok(())
    }
}

impl ScheduledEvents {
    async fn publish_due(self: Arc<Self>, due: DueEvent) -> HandlerResult {
        let envelope = RawEnvelope::stored(
            due.id,
            due.event,
            due.payload,
            due.emitter,
            due.scheduled_at,
            due.parent_id,
        );
        self.event_bus.publish_stored(envelope).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore::testing;
    use std::time::SystemTime;

    #[tokio::test]
    async fn a_due_one_shot_is_published_once_under_its_scheduler() {
        let app = testing::boot::<ScheduledEvents>().await;
        let scheduler: Scheduler = app.tool();
        let when = SystemTime::now();
        scheduler
            .schedule_at(when, "invoice.due", json!({"id": 7}), "invoice-7")
            .await
            .unwrap();
        scheduler.tick().await;
        let published = app.wait_for("invoice.due", Duration::from_secs(2)).await;
        assert_eq!(published, [json!({"id": 7})]);
        scheduler.tick().await;
        assert_eq!(
            app.published("invoice.due").len(),
            1,
            "deleted once published"
        );
        assert!(scheduler.jobs().await.unwrap().is_empty());
    }
}
