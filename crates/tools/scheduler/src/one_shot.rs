//! Durable one-shots: stored by `schedule_at`, handed when due to the one
//! handler a plugin registered (`on_due`), deleted only once it succeeded,
//! so each fires at least once, after a restart too. The scheduler never
//! publishes events itself: a tool never uses another tool, so the
//! `system.ScheduledEvents` plugin publishes them on the event bus.

use std::sync::Arc;
use std::time::SystemTime;

use futures::future::BoxFuture;

use microcore_kernel::{CallContext, in_context, run_isolated};

use crate::clock::{from_ms, rfc3339};
use crate::error::SchedulerError;
use crate::scheduler::Inner;
use crate::store::OneShotRow;

/// A one-shot whose time has come, as the due handler receives it.
#[derive(Clone, Debug, PartialEq)]
pub struct DueEvent {
    /// The key it was scheduled under.
    pub key: String,
    /// Unique per `schedule_at`: use it as the event id (duplicates collapse).
    pub id: String,
    /// The event name.
    pub event: String,
    /// The payload.
    pub payload: serde_json::Value,
    /// Who scheduled it (`"<domain>.<Plugin>"`).
    pub emitter: String,
    /// The event or request being handled when it was scheduled.
    pub parent_id: Option<String>,
    /// When it was scheduled, in seconds since the epoch.
    pub scheduled_at: f64,
    /// When it was due.
    pub due: SystemTime,
    /// Attempts so far, this one included.
    pub attempts: u32,
}

/// The handler with its plugin bound.
pub(crate) type DueFn =
    Arc<dyn Fn(DueEvent) -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

/// The registered due handler.
#[derive(Clone)]
pub(crate) struct DueHandler {
    pub(crate) plugin: Arc<str>,
    pub(crate) runner: String,
    pub(crate) handler: DueFn,
}

/// The longest wait before a failed one-shot is tried again.
const MAX_RETRY_MS: i64 = 60_000;

impl Inner {
    /// Hands every due one-shot to the handler, batch after batch.
    pub(crate) async fn fire_one_shots(&self, now: i64) -> Result<(), SchedulerError> {
        let Some(handler) = self.due.lock().clone() else {
            return Ok(());
        };
        loop {
            let until = now.saturating_add(self.settings.lease_ms);
            let batch = self.settings.batch;
            let shots = match self.store.claim_due(now, until, batch).await {
                // An idle poll is not measured: it would crowd real calls out
                // of the metrics ring.
                Ok(shots) if shots.is_empty() => return Ok(()),
                result => self.probe.observe("claim_due", async { result }).await?,
            };
            let full = i64::try_from(shots.len()).unwrap_or(i64::MAX) >= batch;
            for shot in shots {
                self.hand_over(&handler, shot, now).await?;
            }
            if !full || self.closed() {
                return Ok(());
            }
        }
    }

    async fn hand_over(
        &self,
        handler: &DueHandler,
        shot: OneShotRow,
        now: i64,
    ) -> Result<(), SchedulerError> {
        let payload = serde_json::from_str(&shot.payload).unwrap_or(serde_json::Value::Null);
        let due = DueEvent {
            key: shot.key.clone(),
            id: shot.id.clone(),
            event: shot.event.clone(),
            payload,
            emitter: shot.emitter.clone(),
            parent_id: shot.parent_id.clone(),
            scheduled_at: shot.created_at as f64 / 1000.0,
            due: from_ms(shot.due),
            attempts: u32::try_from(shot.attempts).unwrap_or(u32::MAX),
        };
        let ctx = CallContext::new(handler.runner.as_str(), None);
        let failure = match run_isolated(in_context(ctx, (handler.handler)(due))).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("{e:#}")),
            Err(panic) => Some(panic.to_string()),
        };
        match failure {
            None => self.store.done(&shot.key, &shot.id).await,
            Some(why) => {
                let wait = 1000i64
                    .saturating_mul(1 << shot.attempts.clamp(0, 6))
                    .min(MAX_RETRY_MS);
                let at = now.saturating_add(wait);
                tracing::warn!(
                    key = %shot.key, event = %shot.event, attempts = shot.attempts,
                    "scheduler: one-shot not delivered ({why}); trying again at {}", rfc3339(at)
                );
                self.store.retry(&shot.key, &shot.id, at, &why).await
            }
        }
    }
}
