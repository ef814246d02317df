//! Shutdown under one deadline: drain in-flight work, stop plugins in reverse
//! order, then tools in reverse order.
//!
//! The grace is the deadline of the whole shutdown, not of each step (with a
//! per-step grace, twenty plugins and eight tools could take 29 × the grace).
//! A tool's drain cuts off its own work when the grace runs out; it then gets
//! [`RELEASE_WINDOW`] more to have that work gone (the http tool drops its
//! connections and waits for their tasks), so no request still runs when the
//! tools shut down. When the grace is used up, each stop phase still gets
//! [`RELEASE_WINDOW`] so pools and connections are closed rather than
//! dropped. Every step runs as its own task, so one that blocks its thread is
//! abandoned, not waited for.

use std::convert::Infallible;
use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use crate::context::{CallContext, in_context};
use crate::kernel::Running;
use crate::step;
use crate::tool::ToolSet;

/// Time each phase (drains, plugins' stops, tools' stops) still gets once the
/// grace is used up, so a forced shutdown still ends in-flight work and then
/// releases pools and connections: a shutdown takes at most the grace plus
/// three times this.
pub const RELEASE_WINDOW: Duration = Duration::from_millis(500);

/// What shutdown did: what drained, what was cut off, which steps failed.
#[derive(Clone, Debug, Default)]
pub struct ShutdownReport {
    /// Tools whose in-flight work finished within the grace.
    pub drained: Vec<&'static str>,
    /// Tools still busy when the grace ran out: their in-flight work was cut off.
    pub not_drained: Vec<&'static str>,
    /// Plugin and tool stop steps that failed, panicked or timed out, with why.
    pub failed: Vec<String>,
    /// How long the whole shutdown took.
    pub elapsed: Duration,
}

impl ShutdownReport {
    /// True when everything drained in time and every stop step succeeded.
    pub fn clean(&self) -> bool {
        self.not_drained.is_empty() && self.failed.is_empty()
    }
}

impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |names: &[&str]| {
            if names.is_empty() {
                "nothing".to_owned()
            } else {
                names.join(", ")
            }
        };
        write!(
            f,
            "shutdown complete in {:.1}s: drained {}",
            self.elapsed.as_secs_f64(),
            list(&self.drained)
        )?;
        if !self.not_drained.is_empty() {
            write!(
                f,
                "; did not drain in time (in-flight work cut off): {}",
                list(&self.not_drained)
            )?;
        }
        for failure in &self.failed {
            write!(f, "; {failure}")?;
        }
        Ok(())
    }
}

impl<T: ToolSet> Running<T> {
    /// Drains in-flight work, stops plugins then tools, within `grace` (see [`RELEASE_WINDOW`]).
    ///
    /// A failing, panicking or stuck step is reported and the rest still run.
    pub async fn shutdown(self, grace: Duration) -> ShutdownReport {
        let started = Instant::now();
        let deadline = started + grace;
        let mut report = ShutdownReport::default();

        // Tools that never set up have nothing to drain or release.
        let ready: Vec<(usize, &'static str)> = (self.tools.slots().iter().enumerate())
            .filter(|(_, s)| s.is_ready())
            .map(|(i, s)| (i, s.name()))
            .collect();
        let drains = ready.iter().map(|&(i, _)| {
            let tools = self.tools.clone();
            let drain = async move {
                tools.slots()[i].drain(grace).await;
                Ok::<(), Infallible>(())
            };
            async move {
                // The drain ends its own work at the deadline; the window is
                // for that cut-off to complete before anything stops.
                let outcome = step::run(drain, remaining(deadline) + RELEASE_WINDOW).await;
                // A tool cuts its own in-flight work off when its grace runs
                // out and then returns: using the whole grace means it did.
                outcome.is_ok() && Instant::now() < deadline
            }
        });
        for ((_, name), in_time) in ready.iter().zip(futures::future::join_all(drains).await) {
            if in_time {
                report.drained.push(name);
            } else {
                report.not_drained.push(name);
            }
        }
        if !report.not_drained.is_empty() {
            tracing::warn!(
                ?grace,
                tools = %report.not_drained.join(", "),
                "in-flight work did not drain in time; stopping anyway"
            );
        }

        // Plugins, then tools: within each phase the steps are independent
        // (plugins share nothing but events, tools never use each other), so
        // they run side by side and one that hangs costs no other its time.
        let phase_deadline = deadline.max(Instant::now() + RELEASE_WINDOW);
        let stops = self.plugins.iter().rev().map(|(id, plugin)| {
            let ctx = CallContext::new(format!("{}.shutdown", id.name), None);
            let fut = in_context(ctx, plugin.clone().stop());
            async move { (id, step::run(fut, remaining(phase_deadline)).await) }
        });
        for (id, outcome) in futures::future::join_all(stops).await {
            if let Err(e) = outcome {
                tracing::error!(plugin = %id.name, error = %e, "plugin shutdown");
                report
                    .failed
                    .push(format!("plugin {} shutdown {e}", id.name));
            }
        }
        let phase_deadline = deadline.max(Instant::now() + RELEASE_WINDOW);
        let stops = ready.iter().rev().map(|&(i, name)| {
            let tools = self.tools.clone();
            let fut = async move { tools.slots()[i].shutdown().await };
            async move { (name, step::run(fut, remaining(phase_deadline)).await) }
        });
        for (name, outcome) in futures::future::join_all(stops).await {
            if let Err(e) = outcome {
                tracing::error!(tool = name, error = %e, "tool shutdown");
                report.failed.push(format!("tool {name} shutdown {e}"));
            }
        }
        report.elapsed = started.elapsed();
        tracing::info!("{report}");
        report
    }
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}
