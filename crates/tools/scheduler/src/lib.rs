//! The scheduler tool: run plugin methods on a cron or an interval, once
//! across a fleet, and store one-shot events that fire after a restart.
//!
//! ```ignore
//! self.scheduler.cron("report", "0 9 * * 1-5", "Europe/Madrid", &self, Self::send_report)?;
//! self.scheduler.every("cleanup", Duration::from_secs(300), &self, Self::cleanup)?;
//! self.scheduler.schedule_at(when, "invoice.due", json!({"id": 7}), "invoice-7").await?;
//! ```
//!
//! A job's method runs like an event subscriber: in the plugin's context
//! (identity `"<plugin>.<method>"`, its logs and traces), isolated (an error
//! or a panic is logged and recorded as `failed`; other jobs go on).
//!
//! **Fleet-safe without a "beat" replica.** Jobs, their last fire and a
//! lease live in a store (`SCHEDULER_DATABASE_URL`, default `DATABASE_URL`):
//! every replica ticks, and a conditional update on the job's row
//! (`last_fire < fire`) lets exactly one of them claim each fire. Interval
//! fires are aligned to the Unix epoch so every replica computes the same
//! times. On the embedded defaults (SQLite, or `memory`) one process is the
//! fleet.
//!
//! **Overlap and misfires.** A fire that comes while the job's previous run
//! holds its lease is skipped (`JobOptions::allow_overlap` runs it anyway).
//! Fires missed by more than `SCHEDULER_MISFIRE_GRACE_SECS` (downtime, a
//! stall) run once (`Misfire::RunOnce`, the default) or are skipped
//! (`JobOptions::skip_misfires`); either way they are logged.
//!
//! **Durable one-shots.** `schedule_at` stores an event to publish at a time
//! under a key (replacing an earlier one with that key; `cancel` removes it).
//! When due, the scheduler hands it to the one handler registered with
//! `on_due` (the `system.ScheduledEvents` plugin, which publishes it on the
//! event bus: a tool never uses another tool) and deletes it only after that
//! succeeded: at least once, after a restart too on a SQL store.

mod clock;
mod error;
mod job;
mod one_shot;
mod options;
mod schedule;
mod scheduler;
mod store;
mod tool;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::SchedulerError;
pub use job::Fire;
pub use one_shot::DueEvent;
pub use options::{JobOptions, Misfire, Overlap};
pub use scheduler::{JobInfo, Scheduler};
pub use store::Outcome;
