//! The `Scheduler` handle: registering jobs, one-shots, and the tick that
//! fires them.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use futures::FutureExt;
use parking_lot::Mutex;
use serde::Serialize;

use microcore_kernel::{Probe, current_event_id, current_identity};

use crate::clock::{Clock, rfc3339, to_ms};
use crate::error::SchedulerError;
use crate::job::{Fire, JobEntry, JobFn, method_name};
use crate::one_shot::{DueEvent, DueFn, DueHandler};
use crate::options::{JobOptions, Misfire, Overlap};
use crate::schedule::Schedule;
use crate::store::{Claim, OneShotRow, Outcome, Store};

/// Timing settings, read by the tool from `SCHEDULER_*`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    /// `SCHEDULER_TICK_MS`: how often due work is looked for.
    pub(crate) tick: Duration,
    /// `SCHEDULER_LEASE_SECS`, in ms: how long a run or a claimed one-shot
    /// is held before another replica may take over (renewed while running).
    pub(crate) lease_ms: i64,
    /// `SCHEDULER_MISFIRE_GRACE_SECS`, in ms: how late a fire may be and
    /// still count as on time.
    pub(crate) grace_ms: i64,
    /// One-shots claimed at once.
    pub(crate) batch: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            tick: Duration::from_millis(500),
            lease_ms: 60_000,
            grace_ms: 5_000,
            batch: 100,
        }
    }
}

pub(crate) struct Inner {
    pub(crate) probe: Probe,
    pub(crate) store: Box<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) settings: Settings,
    /// This process's name in leases.
    pub(crate) owner: String,
    pub(crate) jobs: Mutex<BTreeMap<String, Arc<JobEntry>>>,
    pub(crate) due: Mutex<Option<DueHandler>>,
    /// Runs going on in this process.
    pub(crate) running: AtomicUsize,
    closed: AtomicBool,
    ticker: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self.ticker.get_mut().take() {
            task.abort();
        }
    }
}

/// Runs plugin methods on a cron or an interval, once across the fleet, and
/// stores one-shot events that fire after a restart too. Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    pub(crate) inner: Arc<Inner>,
    pub(crate) plugin: Option<Arc<str>>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("store", &self.inner.store.describe())
            .field("plugin", &self.plugin)
            .finish()
    }
}

/// One job as `/system/scheduler` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JobInfo {
    /// The key.
    pub key: String,
    /// `cron`, `every` or `one_shot`.
    pub kind: &'static str,
    /// `0 9 * * 1-5 Europe/Madrid`, `every 300s`, or the one-shot's event.
    pub schedule: String,
    /// `"<plugin>.<method>"` it runs, or the plugin that scheduled the one-shot.
    pub runner: String,
    /// The next fire, RFC 3339 UTC (`None`: not yet known, or never).
    pub next_fire: Option<String>,
    /// How the last fire ended, on any replica.
    pub last: Option<Outcome>,
    /// True while a run goes on in this process.
    pub running: bool,
}

#[microcore_kernel::contract(
    backends = "memory | SQLite | PostgreSQL; one run per fire fleet-wide",
    env = "SCHEDULER_DATABASE_URL (default DATABASE_URL), SCHEDULER_* timing",
    errors = "SchedulerError; a job's Err is logged"
)]
impl Scheduler {
    /// Runs `job` (`async fn(self: Arc<Self>, fire: Fire) -> HandlerResult`) on 5-field cron `expr` in zone `tz`.
    ///
    /// `job` is a method of the plugin, e.g. `Self::send_report`, run in
    /// its context. Each fire runs once across replicas; a fire during a run
    /// is skipped (see `cron_with` for the options).
    pub fn cron<P, F, Fut>(
        &self,
        key: &str,
        expr: &str,
        tz: &str,
        plugin: &Arc<P>,
        job: F,
    ) -> Result<(), SchedulerError>
    where
        P: Send + Sync + 'static,
        F: Fn(Arc<P>, Fire) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.cron_with(key, expr, tz, plugin, job, JobOptions::default())
    }

    /// `cron` with `options`, e.g. `JobOptions::default().skip_misfires()`.
    #[not_in_manifest]
    pub fn cron_with<P, F, Fut>(
        &self,
        key: &str,
        expr: &str,
        tz: &str,
        plugin: &Arc<P>,
        job: F,
        options: JobOptions,
    ) -> Result<(), SchedulerError>
    where
        P: Send + Sync + 'static,
        F: Fn(Arc<P>, Fire) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let schedule = Schedule::cron(key, expr, tz);
        self.register("cron", key, schedule, plugin, job, options)
    }

    /// Runs `job` (as in `cron`) every `period`, in whole seconds counted from the Unix epoch.
    pub fn every<P, F, Fut>(
        &self,
        key: &str,
        period: Duration,
        plugin: &Arc<P>,
        job: F,
    ) -> Result<(), SchedulerError>
    where
        P: Send + Sync + 'static,
        F: Fn(Arc<P>, Fire) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.every_with(key, period, plugin, job, JobOptions::default())
    }

    /// `every` with `options`, e.g. `JobOptions::default().allow_overlap()`.
    #[not_in_manifest]
    pub fn every_with<P, F, Fut>(
        &self,
        key: &str,
        period: Duration,
        plugin: &Arc<P>,
        job: F,
        options: JobOptions,
    ) -> Result<(), SchedulerError>
    where
        P: Send + Sync + 'static,
        F: Fn(Arc<P>, Fire) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let schedule = Schedule::every(key, period);
        self.register("every", key, schedule, plugin, job, options)
    }

    /// Stops recurring job `key` in this process; true if it was there.
    #[not_in_manifest]
    pub fn remove(&self, key: &str) -> bool {
        self.inner
            .probe
            .observe_sync::<bool, SchedulerError>("remove", || {
                Ok(self.inner.jobs.lock().remove(key).is_some())
            })
            .unwrap_or(false)
    }

    /// Publishes `event` at `when`, stored under `key` (replaces one, survives restarts).
    ///
    /// Replaces a pending one-shot with the same key. Delivered at least once
    /// (within `SCHEDULER_TICK_MS`), also if `when` is past.
    pub async fn schedule_at(
        &self,
        when: SystemTime,
        event: &str,
        payload: serde_json::Value,
        key: &str,
    ) -> Result<(), SchedulerError> {
        let emitter = self.emitter().to_string();
        self.inner
            .probe
            .observe("schedule_at", async {
                check_key(key)?;
                check_event(key, event)?;
                let row = OneShotRow {
                    key: key.to_owned(),
                    id: uuid::Uuid::new_v4().to_string(),
                    due: to_ms(when),
                    event: event.to_owned(),
                    payload: payload.to_string(),
                    emitter,
                    parent_id: current_event_id().map(|id| id.to_string()),
                    created_at: self.inner.clock.now_ms(),
                    attempts: 0,
                    last_error: None,
                };
                self.inner.store.put(&row).await
            })
            .await
    }

    /// Cancels one-shot `key`; true if there was one.
    pub async fn cancel(&self, key: &str) -> Result<bool, SchedulerError> {
        self.inner
            .probe
            .observe("cancel", self.inner.store.cancel(key))
            .await
    }

    /// Receives every due one-shot (`system.ScheduledEvents` publishes them); one per app.
    ///
    /// An `Err` or a panic leaves the one-shot stored and retries it later.
    #[not_in_manifest]
    pub fn on_due<P, F, Fut>(&self, plugin: &Arc<P>, handler: F) -> Result<(), SchedulerError>
    where
        P: Send + Sync + 'static,
        F: Fn(Arc<P>, DueEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let identity = self.identity();
        let runner = format!("{identity}.{}", method_name::<F>());
        let plugin = plugin.clone();
        let handler: DueFn = Arc::new(move |due| handler(plugin.clone(), due).boxed());
        let mut slot = self.inner.due.lock();
        if let Some(held) = slot.as_ref().filter(|h| h.runner != runner) {
            return Err(SchedulerError::KeyTaken {
                key: "<due one-shots>".into(),
                owner: held.runner.clone(),
            });
        }
        *slot = Some(DueHandler {
            plugin: identity,
            runner,
            handler,
        });
        Ok(())
    }
}

/// Framework-facing: used by the tool's lifecycle, `/system/scheduler` and
/// tests. Not part of the plugin contract, so AI_CONTEXT.md leaves it out.
impl Scheduler {
    pub(crate) fn new(
        store: Box<dyn Store>,
        probe: Probe,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                probe,
                store,
                clock,
                settings,
                owner: uuid::Uuid::new_v4().to_string(),
                jobs: Mutex::new(BTreeMap::new()),
                due: Mutex::new(None),
                running: AtomicUsize::new(0),
                closed: AtomicBool::new(false),
                ticker: Mutex::new(None),
            }),
            plugin: None,
        }
    }

    /// Starts firing every `SCHEDULER_TICK_MS` (the tool does it once boot is complete).
    pub fn start(&self) {
        let mut ticker = self.inner.ticker.lock();
        if ticker.is_some() {
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        let every = self.inner.settings.tick;
        *ticker = Some(tokio::spawn(tick_forever(weak, every)));
    }

    /// Fires what is due now, once; `start` calls it every tick.
    pub async fn tick(&self) {
        self.inner.tick().await;
    }

    /// Runs going on in this process.
    pub fn running(&self) -> usize {
        self.inner.running.load(Ordering::Acquire)
    }

    /// Every job of this process and every pending one-shot, for `/system/scheduler`.
    pub async fn jobs(&self) -> Result<Vec<JobInfo>, SchedulerError> {
        self.inner
            .probe
            .observe("jobs", async {
                let rows = self.inner.store.jobs().await?;
                let stored: BTreeMap<String, _> =
                    rows.into_iter().map(|r| (r.key.clone(), r)).collect();
                let jobs: Vec<Arc<JobEntry>> = self.inner.jobs.lock().values().cloned().collect();
                let now = self.inner.clock.now_ms();
                let mut out: Vec<JobInfo> = jobs
                    .iter()
                    .map(|job| {
                        let row = stored.get(&job.key);
                        let next = match *job.next.lock() {
                            Some(next) => next,
                            None => {
                                let after = row.map_or(0, |r| r.last_fire).max(now);
                                job.schedule.next_after(after)
                            }
                        };
                        JobInfo {
                            key: job.key.clone(),
                            kind: job.schedule.kind(),
                            schedule: job.schedule.describe(),
                            runner: job.runner.clone(),
                            next_fire: next.map(rfc3339),
                            last: row.and_then(|r| r.outcome.clone()),
                            running: job.running.load(Ordering::Acquire) > 0,
                        }
                    })
                    .collect();
                for shot in self.inner.store.one_shots().await? {
                    out.push(JobInfo {
                        key: shot.key,
                        kind: "one_shot",
                        schedule: shot.event,
                        runner: shot.emitter,
                        next_fire: Some(rfc3339(shot.due)),
                        last: shot.last_error.map(|e| Outcome {
                            status: "failed".into(),
                            at: rfc3339(now),
                            detail: Some(e),
                        }),
                        running: false,
                    });
                }
                Ok(out)
            })
            .await
    }

    /// The store, for the boot report.
    pub fn store_description(&self) -> String {
        self.inner.store.describe()
    }

    /// The plugin registering: this handle's, else the running code's.
    fn identity(&self) -> Arc<str> {
        self.plugin.clone().unwrap_or_else(current_identity)
    }

    /// The identity scheduling a one-shot: the running code's, else this handle's plugin.
    fn emitter(&self) -> Arc<str> {
        let current = current_identity();
        match &self.plugin {
            Some(plugin) if &*current == "system" => plugin.clone(),
            _ => current,
        }
    }

    fn register<P, F, Fut>(
        &self,
        method: &'static str,
        key: &str,
        schedule: Result<Schedule, SchedulerError>,
        plugin: &Arc<P>,
        job: F,
        options: JobOptions,
    ) -> Result<(), SchedulerError>
    where
        P: Send + Sync + 'static,
        F: Fn(Arc<P>, Fire) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let identity = self.identity();
        let runner = format!("{identity}.{}", method_name::<F>());
        let plugin = plugin.clone();
        let handler: JobFn = Arc::new(move |fire| job(plugin.clone(), fire).boxed());
        self.inner.probe.observe_sync(method, || {
            check_key(key)?;
            let schedule = schedule?;
            let mut jobs = self.inner.jobs.lock();
            if let Some(held) = jobs.get(key).filter(|j| j.runner != runner) {
                return Err(SchedulerError::KeyTaken {
                    key: key.to_owned(),
                    owner: held.runner.clone(),
                });
            }
            jobs.insert(
                key.to_owned(),
                Arc::new(JobEntry {
                    key: key.to_owned(),
                    schedule,
                    options,
                    plugin: identity,
                    runner,
                    handler,
                    next: Mutex::new(None),
                    running: AtomicUsize::new(0),
                }),
            );
            Ok(())
        })
    }
}

async fn tick_forever(inner: Weak<Inner>, every: Duration) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        if inner.closed() {
            return;
        }
        inner.tick().await;
    }
}

impl Inner {
    pub(crate) fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Stops the ticker task.
    pub(crate) fn stop_ticking(&self) {
        self.close();
        if let Some(task) = self.ticker.lock().take() {
            task.abort();
        }
    }

    async fn tick(self: &Arc<Self>) {
        if self.closed() {
            return;
        }
        let now = self.clock.now_ms();
        let jobs: Vec<Arc<JobEntry>> = self.jobs.lock().values().cloned().collect();
        for job in jobs {
            if let Err(e) = self.tick_job(&job, now).await {
                tracing::warn!(job = %job.key, "scheduler: cannot fire the job now: {e}");
            }
        }
        if let Err(e) = self.fire_one_shots(now).await {
            tracing::warn!("scheduler: cannot fire due one-shots now: {e}");
        }
    }

    /// Fires `job` if it is due at `now`, applying its misfire and overlap
    /// policies; the store decides which replica runs it.
    async fn tick_job(
        self: &Arc<Self>,
        job: &Arc<JobEntry>,
        now: i64,
    ) -> Result<(), SchedulerError> {
        let known = *job.next.lock();
        let next = match known {
            Some(next) => next,
            None => {
                let (kind, text) = (job.schedule.kind(), job.schedule.describe());
                let last = (self.probe)
                    .observe("register", self.store.register(&job.key, kind, &text))
                    .await?;
                // A job fired before (by this fleet) resumes after its last
                // fire, so fires missed during downtime are seen.
                let next = job.schedule.next_after(if last > 0 { last } else { now });
                *job.next.lock() = Some(next);
                next
            }
        };
        let Some((latest, count)) = next.and_then(|n| job.schedule.due(n, now)) else {
            return Ok(());
        };
        *job.next.lock() = Some(job.schedule.next_after(now));
        let late = now - latest > self.settings.grace_ms;
        let earlier = count - 1;
        if late && job.options.misfire == Misfire::Skip {
            let why = format!(
                "{count} fire(s) missed, the latest at {}; misfire policy: skip",
                rfc3339(latest)
            );
            return self.skip(job, latest, now, &why).await;
        }
        let overlap = job.options.overlap == Overlap::Allow;
        if !overlap && job.running.load(Ordering::Acquire) > 0 {
            return self
                .skip(job, latest, now, "the previous run is still going")
                .await;
        }
        let lease_until = now.saturating_add(self.settings.lease_ms);
        let claim = (self.probe)
            .observe(
                "claim",
                self.store
                    .claim(&job.key, latest, &self.owner, now, lease_until, overlap),
            )
            .await?;
        match claim {
            Claim::Won => {
                if late || earlier > 0 {
                    let missed = if late { count } else { earlier };
                    tracing::warn!(
                        job = %job.key,
                        "scheduler: {missed} fire(s) missed, the latest at {}; running once for \
                         them (misfire policy: run once)", rfc3339(latest)
                    );
                }
                self.spawn_run(job.clone(), latest, earlier);
                Ok(())
            }
            Claim::Taken => Ok(()),
            Claim::Busy => {
                self.skip(
                    job,
                    latest,
                    now,
                    "the previous run is still going on another replica",
                )
                .await
            }
        }
    }

    /// Records fire `fire` of `job` as skipped, logged by the one replica that recorded it.
    async fn skip(
        &self,
        job: &JobEntry,
        fire: i64,
        now: i64,
        why: &str,
    ) -> Result<(), SchedulerError> {
        let recorded = (self.probe)
            .observe("skip", self.store.skip(&job.key, fire, now, why))
            .await?;
        if recorded {
            tracing::warn!(job = %job.key, fire = %rfc3339(fire), "scheduler: fire skipped: {why}");
        }
        Ok(())
    }
}

/// A key: 1 to 200 characters, no whitespace.
fn check_key(key: &str) -> Result<(), SchedulerError> {
    if key.is_empty() || key.len() > 200 || key.chars().any(char::is_whitespace) {
        return Err(SchedulerError::Invalid {
            key: key.to_owned(),
            reason: "a key must be 1 to 200 characters without whitespace, e.g. \"daily-report\""
                .to_owned(),
        });
    }
    Ok(())
}

/// An event name a one-shot can publish.
fn check_event(key: &str, event: &str) -> Result<(), SchedulerError> {
    if event.is_empty() || event.starts_with('_') || event.chars().any(char::is_whitespace) {
        return Err(SchedulerError::Invalid {
            key: key.to_owned(),
            reason: format!(
                "event {event:?} cannot be scheduled; name an event such as \"invoice.due\" \
                 (not empty, no whitespace, not starting with `_`)"
            ),
        });
    }
    Ok(())
}
