//! One lifecycle step (an `on_boot`, a drain, a shutdown) run as its own task.
//!
//! Awaiting a step inline cannot bound it: a step that blocks its thread
//! (`std::thread::sleep`, a synchronous driver) also blocks the timer that
//! should stop it. Spawned, the step occupies at most one worker thread while
//! the kernel, on another, times out its handle and moves on.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use crate::isolate::panic_message;

/// Why a step did not finish well.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StepError {
    /// It returned an error.
    Failed(String),
    /// It panicked.
    Panicked(String),
    /// It was still running when its time was up; it was abandoned.
    TimedOut(Duration),
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepError::Failed(e) => write!(f, "failed: {e}"),
            StepError::Panicked(p) => write!(f, "panicked: {p}"),
            StepError::TimedOut(d) => write!(f, "did not finish within {d:?}"),
        }
    }
}

/// Runs `step` as a task and waits at most `within` for it. A step that times
/// out is aborted (a task blocking its thread runs on, but nobody waits for it).
pub(crate) async fn run<F, E>(step: F, within: Duration) -> Result<(), StepError>
where
    F: Future<Output = Result<(), E>> + Send + 'static,
    E: fmt::Display + Send + 'static,
{
    let mut handle = tokio::spawn(async move { step.await.map_err(|e| e.to_string()) });
    match tokio::time::timeout(within, &mut handle).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(StepError::Failed(e)),
        Ok(Err(join)) if join.is_panic() => {
            Err(StepError::Panicked(panic_message(&*join.into_panic())))
        }
        Ok(Err(_)) => Err(StepError::Failed("it was cancelled".to_owned())),
        Err(_) => {
            handle.abort();
            Err(StepError::TimedOut(within))
        }
    }
}
