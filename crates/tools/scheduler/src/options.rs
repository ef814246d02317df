//! Per-job choices: what to do when the previous run is still going, and
//! what to do with fires missed while no replica was running.

use serde::Serialize;

/// A fire that comes while the previous run of the job still runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// Skip this fire, log it, and record it as `skipped` (the default).
    #[default]
    Skip,
    /// Run it anyway, alongside the previous run.
    Allow,
}

/// Fires missed by more than `SCHEDULER_MISFIRE_GRACE_SECS` (downtime, a stall).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Misfire {
    /// Run once for all of them, as soon as possible (the default).
    #[default]
    RunOnce,
    /// Skip them and wait for the next fire.
    Skip,
}

/// How one recurring job runs: `JobOptions::default().skip_misfires()`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobOptions {
    pub(crate) overlap: Overlap,
    pub(crate) misfire: Misfire,
}

#[microcore_kernel::contract(of = crate::Scheduler)]
impl JobOptions {
    /// Runs a fire even while the previous run goes, for `cron_with`/`every_with` (arguments of `cron`/`every`, then options).
    pub fn allow_overlap(mut self) -> Self {
        self.overlap = Overlap::Allow;
        self
    }

    /// Skips fires missed during downtime instead of running once for them.
    pub fn skip_misfires(mut self) -> Self {
        self.misfire = Misfire::Skip;
        self
    }
}
