//! The outbox relay: publishes the events that transactions stored with
//! `tx.publish(..)`, so a write and the event announcing it are never
//! separated by a crash, a timeout or a shutdown.
//!
//! The db tool stores and leases the rows, the event bus publishes them; a
//! tool never depends on another, so this plugin composes the two. It wakes
//! right after a commit of this process that stored events, and polls every
//! `DB_OUTBOX_POLL_MS` for rows left by a process that died or was stopped
//! before it could publish them (any replica's relay takes them). Each row is
//! published under its stored id, then deleted: at least once end to end.
//! While the bus is unavailable, rows are retried with exponential backoff;
//! once the bus of this process drains (shutdown), the relay hands its rows
//! back at once for another replica or the next boot and stops.

use microcore::prelude::*;
use microcore::tools::db::{Outbox, StoredEvent};
use microcore::tools::event_bus::RawEnvelope;

/// Publishes the events transactions stored in the outbox.
#[plugin]
pub struct OutboxRelay {
    db: Db,
    event_bus: EventBus,
    logger: Logger,
    #[state]
    stop: Stop,
}

/// Ends the relay's loop at shutdown.
#[derive(Default)]
struct Stop {
    signal: tokio::sync::Notify,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// The longest wait between two attempts at one event while the bus is unavailable.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

impl Plugin for OutboxRelay {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let outbox = self.db.outbox();
        // Creates the table on a replica that skips migrations.
        outbox.ensure().await?;
        if !outbox.settings().relay {
            self.logger
                .info("outbox relay off (DB_OUTBOX_RELAY=false): other replicas publish");
            return Ok(());
        }
        let task = tokio::spawn(self.clone().run(outbox));
        *self.stop.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
        Ok(())
    }

    async fn shutdown(self: Arc<Self>) -> BootResult {
        self.stop.signal.notify_one();
        let task = self
            .stop
            .task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
        Ok(())
    }
}

/// What one pass over the due rows ended with.
enum Pass {
    /// A full batch: more may be due at once.
    More,
    /// Nothing more is due now.
    Idle,
    /// The bus of this process is closing: stop.
    Closed,
}

impl OutboxRelay {
    async fn run(self: Arc<Self>, outbox: Outbox) {
        let settings = outbox.settings();
        loop {
            match self.pass(&outbox).await {
                Ok(Pass::More) => continue,
                Ok(Pass::Idle) => {}
                Ok(Pass::Closed) => return,
                Err(e) => self.logger.warn(format!(
                    "outbox relay: cannot read the outbox: {e}; retrying"
                )),
            }
            tokio::select! {
                () = outbox.committed() => {}
                () = tokio::time::sleep(settings.poll) => {}
                () = self.stop.signal.notified() => return,
            }
        }
    }

    /// Claims the due rows and publishes them in order.
    async fn pass(&self, outbox: &Outbox) -> Result<Pass, DbError> {
        let settings = outbox.settings();
        let rows = outbox.claim(settings.batch, settings.lease).await?;
        let full = rows.len() >= settings.batch as usize;
        let mut rows = rows.into_iter();
        while let Some(row) = rows.next() {
            let id = row.id.clone();
            let event = row.event.clone();
            let attempts = row.attempts;
            match self.event_bus.publish_stored(envelope(row)).await {
                Ok(_) => outbox.sent(&id).await?,
                Err(BusError::Closed { .. }) => {
                    // Due again at once, for a replica whose bus is open.
                    outbox
                        .retry_later(&id, Duration::ZERO, "bus closing")
                        .await?;
                    for rest in rows {
                        outbox
                            .retry_later(&rest.id, Duration::ZERO, "bus closing")
                            .await?;
                    }
                    return Ok(Pass::Closed);
                }
                Err(e) => {
                    let wait = backoff(attempts);
                    self.logger.warn(format!(
                        "outbox relay: `{event}` ({id}) not published: {e}; retrying in {wait:?}"
                    ));
                    let error = e.to_string();
                    outbox.retry_later(&id, wait, &error).await?;
                    // The rest of this batch would meet the same bus: put it back too.
                    for rest in rows {
                        outbox
                            .retry_later(&rest.id, backoff(rest.attempts), &error)
                            .await?;
                    }
                    return Ok(Pass::Idle);
                }
            }
        }
        Ok(if full { Pass::More } else { Pass::Idle })
    }
}

/// The envelope of a stored event: its id, emitter, parent, time and trace
/// context as stored.
fn envelope(row: StoredEvent) -> RawEnvelope {
    RawEnvelope::stored(
        row.id,
        row.event,
        row.payload,
        row.emitter,
        row.timestamp,
        row.parent_id,
    )
    .with_trace(row.trace)
}

/// 100 ms after the first failed attempt, doubling, at most [`MAX_BACKOFF`].
fn backoff(attempts: u32) -> Duration {
    let exponent = attempts.saturating_sub(1).min(16);
    (Duration::from_millis(100) * 2u32.pow(exponent)).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore::testing;

    #[event("test.outbox_stored")]
    struct Stored {
        n: i64,
    }

    fn app() -> testing::TestAppBuilder<crate::Tools> {
        testing::TestApp::<crate::Tools>::builder()
            .plugin::<OutboxRelay>()
            .env("DB_OUTBOX_POLL_MS", "20")
    }

    #[tokio::test]
    async fn a_committed_event_is_published_once_under_its_stored_id() {
        let app = app().boot().await;
        let id = app
            .db()
            .transaction(|tx| async move { tx.publish(Stored { n: 1 }).await })
            .await
            .unwrap();
        let seen = app
            .wait_for("test.outbox_stored", Duration::from_secs(5))
            .await;
        assert_eq!(seen, vec![json!({"n": 1})]);
        let published: Vec<_> = app
            .bus()
            .trace_history()
            .into_iter()
            .filter(|n| n.envelope.event == "test.outbox_stored")
            .map(|n| n.envelope.id)
            .collect();
        assert_eq!(published, vec![id]);
        wait_until_empty(&app.db().outbox()).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(app.published("test.outbox_stored").len(), 1, "only once");
    }

    #[tokio::test]
    async fn a_rolled_back_event_is_never_published() {
        let app = app().boot().await;
        let failed: Result<(), DbError> = app
            .db()
            .transaction(|tx| async move {
                tx.publish(Stored { n: 2 }).await?;
                tx.execute("SELECT nope FROM nowhere", params![]).await?;
                Ok(())
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(app.db().outbox().pending().await.unwrap(), 0);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(app.published("test.outbox_stored").is_empty());
    }

    #[tokio::test]
    async fn an_idle_relay_leaves_the_metrics_to_real_calls() {
        let app = app().boot().await;
        let claims = || {
            app.tool::<SystemRegistry>()
                .recent_calls()
                .iter()
                .filter(|c| c.tool == "db" && c.method == "outbox_claim")
                .count()
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(claims(), 0, "polls that find nothing are not recorded");
        app.db()
            .transaction(|tx| async move { tx.publish(Stored { n: 3 }).await })
            .await
            .unwrap();
        app.wait_for("test.outbox_stored", Duration::from_secs(5))
            .await;
        assert_eq!(claims(), 1, "a claim that found events is");
    }

    /// Commits an event, then takes longer than the request may.
    #[plugin]
    struct SlowWriter {
        http: Http,
        db: Db,
    }

    impl Plugin for SlowWriter {
        async fn on_boot(self: Arc<Self>) -> BootResult {
            self.http
                .route(Route::post("/test/slow-write"), &self, Self::write)?;
            Ok(())
        }
    }

    impl SlowWriter {
        async fn write(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<()> {
            self.db
                .transaction(|tx| async move { tx.publish(Stored { n: 4 }).await })
                .await?;
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_request_cut_by_its_timeout_after_the_commit_still_announces_the_write() {
        let app = app()
            .plugin::<SlowWriter>()
            .env("HTTP_REQUEST_TIMEOUT_SECS", "1")
            .boot()
            .await;
        let res = app
            .http()
            .call(microcore::testing::TestRequest::post("/test/slow-write"))
            .await;
        assert_eq!(res.status, 503, "{}", res.text);
        let seen = app
            .wait_for("test.outbox_stored", Duration::from_secs(5))
            .await;
        assert_eq!(seen, vec![json!({"n": 4})]);
    }

    #[test]
    fn backoff_doubles_from_100ms_up_to_30s() {
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(2), Duration::from_millis(200));
        assert_eq!(backoff(4), Duration::from_millis(800));
        assert_eq!(backoff(40), MAX_BACKOFF);
    }

    async fn wait_until_empty(outbox: &Outbox) {
        for _ in 0..500 {
            if outbox.pending().await.unwrap() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the outbox never emptied");
    }
}
