//! A recurring job as this process holds it, and one run of it: in the
//! context of the plugin method it calls (identity `"<plugin>.<method>"`,
//! a parent id naming the fire), isolated from the others (an error or a
//! panic is recorded as `failed` and nothing else stops), and holding the
//! job's lease in the store while it runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use parking_lot::Mutex;
use tracing::Instrument;

use microcore_kernel::{CallContext, in_context, run_isolated};

use crate::clock::{from_ms, rfc3339};
use crate::options::JobOptions;
use crate::schedule::Schedule;
use crate::scheduler::Inner;
use crate::store::Outcome;

/// One fire of a recurring job, handed to its method.
#[microcore_kernel::contract(of = crate::Scheduler)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fire {
    /// The job's key.
    pub key: String,
    /// The scheduled time of this fire (the same on every replica).
    pub at: SystemTime,
    /// Earlier fires missed and folded into this run (misfire `RunOnce`).
    pub missed: u32,
}

/// A job's method with its plugin bound.
pub(crate) type JobFn = Arc<dyn Fn(Fire) -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

/// A recurring job registered in this process.
pub(crate) struct JobEntry {
    pub(crate) key: String,
    pub(crate) schedule: Schedule,
    pub(crate) options: JobOptions,
    /// The plugin that registered it.
    pub(crate) plugin: Arc<str>,
    /// `"<plugin>.<method>"`: the identity its runs have.
    pub(crate) runner: String,
    pub(crate) handler: JobFn,
    /// The next fire; `None` until the store has the job (first tick).
    pub(crate) next: Mutex<Option<Option<i64>>>,
    /// Runs of this job going on in this process.
    pub(crate) running: AtomicUsize,
}

impl Inner {
    /// Runs fire `at` of `job` on its own task.
    pub(crate) fn spawn_run(self: &Arc<Self>, job: Arc<JobEntry>, at: i64, missed: u32) {
        job.running.fetch_add(1, Ordering::AcqRel);
        self.running.fetch_add(1, Ordering::AcqRel);
        let inner = self.clone();
        // A new trace per run (`scheduled.run`, exported with OpenTelemetry);
        // the INFO span inside it names the fire in the logs.
        let run = microcore_kernel::scheduled_run_span(&job.key);
        let span =
            tracing::info_span!(parent: &run, "scheduler.job", job = %job.key, fire = %rfc3339(at));
        tokio::spawn(
            async move {
                let outcome = inner.run(&job, at, missed).await;
                if let Err(e) = inner.store.finish(&job.key, &inner.owner, &outcome).await {
                    tracing::warn!(job = %job.key, "scheduler: could not record the outcome: {e}");
                }
                job.running.fetch_sub(1, Ordering::AcqRel);
                inner.running.fetch_sub(1, Ordering::AcqRel);
            }
            .instrument(span),
        );
    }

    async fn run(&self, job: &JobEntry, at: i64, missed: u32) -> Outcome {
        let fire = Fire {
            key: job.key.clone(),
            at: from_ms(at),
            missed,
        };
        let ctx = CallContext::new(
            job.runner.as_str(),
            Some(Arc::from(format!("scheduler:{}@{}", job.key, rfc3339(at)))),
        );
        let work = run_isolated(in_context(ctx, (job.handler)(fire)));
        tokio::pin!(work);
        let renew_every = Duration::from_millis(
            u64::try_from(self.settings.lease_ms / 3)
                .unwrap_or(1000)
                .max(100),
        );
        let result = loop {
            tokio::select! {
                result = &mut work => break result,
                () = tokio::time::sleep(renew_every) => {
                    let until = self.clock.now_ms().saturating_add(self.settings.lease_ms);
                    if let Err(e) = self.store.renew(&job.key, &self.owner, until).await {
                        tracing::warn!(job = %job.key, "scheduler: could not extend the job's lease: {e}");
                    }
                }
            }
        };
        let now = self.clock.now_ms();
        let failed = |detail: String| {
            tracing::error!(job = %job.key, runner = %job.runner, "scheduler: job failed: {detail}");
            Outcome {
                status: "failed".into(),
                at: rfc3339(now),
                detail: Some(detail),
            }
        };
        match result {
            Ok(Ok(())) => {
                tracing::info!(job = %job.key, runner = %job.runner, "scheduler: job ran");
                Outcome {
                    status: "ok".into(),
                    at: rfc3339(now),
                    detail: None,
                }
            }
            Ok(Err(e)) => failed(format!("{e:#}")),
            Err(panic) => failed(panic.to_string()),
        }
    }
}

/// A method's name from its type: `…::Reports::send_report` → `send_report`;
/// a closure inside `on_boot` → `closure_in_on_boot`.
pub(crate) fn method_name<F>() -> String {
    let full = std::any::type_name::<F>();
    let mut plain = String::with_capacity(full.len());
    let mut depth = 0usize;
    for c in full.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            _ if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    let segments: Vec<&str> = plain.split("::").filter(|s| !s.is_empty()).collect();
    let closures = (segments.iter().rev())
        .take_while(|s| s.starts_with("{{"))
        .count();
    let named = segments[..segments.len() - closures]
        .last()
        .copied()
        .unwrap_or("job");
    if closures > 0 {
        format!("closure_in_{named}")
    } else {
        named.to_owned()
    }
}
