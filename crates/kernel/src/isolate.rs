//! Running a piece of plugin code so that a panic in it is an outcome the
//! caller records, not the end of the task that runs it.
//!
//! Every place that runs plugin code on its behalf (a tool's setup, a
//! scheduled job's run, an event handler's delivery) wants the same three
//! things: the code's own result when it finishes, the panic's message when
//! it panics, and the task it ran on alive either way.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;

/// A panic [`run_isolated`] caught. Shown as `panicked: <message>`, so a
/// caller prefixes what panicked: `format!("handler {panic}")` reads
/// `handler panicked: <message>`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("panicked: {message}")]
pub struct Panicked {
    message: String,
}

impl Panicked {
    /// What the panic said (`panic!("...")`'s text), or `a non-text panic`.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Runs `work` to its end and returns its output, or the [`Panicked`] it
/// ended with. The future is polled in place (no task is spawned), so it
/// keeps the caller's task-local context.
///
/// A plain function returning a future, not an `async fn`: an `async fn`
/// keeps its argument `work` beside the future it awaits, so every caller's
/// future would hold `work` twice (an event delivery's grew past 1 KiB).
pub fn run_isolated<F: Future>(work: F) -> impl Future<Output = Result<F::Output, Panicked>> {
    AssertUnwindSafe(work).catch_unwind().map(|outcome| {
        outcome.map_err(|panic| Panicked {
            message: panic_message(&*panic),
        })
    })
}

/// The text of a panic's payload: `panic!` with a literal gives a `&str`,
/// with arguments a `String`; anything else (`panic_any`) has no text.
pub fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-text panic".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_outcome_of_work_that_does_not_panic_is_handed_back() {
        assert_eq!(run_isolated(async { 7 }).await, Ok(7));
        let failed: Result<(), &str> = Err("refused");
        assert_eq!(run_isolated(async { failed }).await, Ok(Err("refused")));
    }

    #[tokio::test]
    async fn a_panic_becomes_its_message() {
        let literal: Result<(), Panicked> = run_isolated(async { panic!("kaboom") }).await;
        let literal = literal.unwrap_err();
        assert_eq!(literal.message(), "kaboom");
        assert_eq!(format!("handler {literal}"), "handler panicked: kaboom");

        let n = 3;
        let formatted = run_isolated(async move {
            if n > 2 {
                panic!("job {n} failed");
            }
        })
        .await;
        assert_eq!(formatted.unwrap_err().message(), "job 3 failed");
    }

    #[tokio::test]
    async fn a_panic_without_text_says_so() {
        let caught: Result<(), Panicked> =
            run_isolated(async { std::panic::panic_any(42_u8) }).await;
        let caught = caught.unwrap_err();
        assert_eq!(caught.to_string(), "panicked: a non-text panic");
    }
}
