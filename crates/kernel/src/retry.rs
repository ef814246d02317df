//! Retrying a setup step that fails only because someone else holds what it
//! needs for a moment.
//!
//! Tools are set up at the same time (the facade's `toolset!` joins their
//! setups), so two of them opening one resource (two pools switching one
//! fresh SQLite file to WAL) can meet, and the loser fails at once with an
//! error that means "try again shortly", not "this cannot work". Each tool
//! says which of its errors mean that; the waiting is written once, here.

use std::future::Future;
use std::time::Duration;

/// The first pause between two tries; it doubles up to [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(5);
/// The longest pause between two tries.
const LONGEST_PAUSE: Duration = Duration::from_millis(100);

/// Runs `attempt` until it succeeds, fails with an error `transient` does
/// not accept, or `within` has passed since the first try, and returns the
/// last outcome. Between tries it waits 5 ms, doubling up to 100 ms, never
/// past the deadline; a transient error at the deadline is returned as is,
/// for the caller to turn into a message that names the resource and the fix.
pub async fn retry_transient<T, E, Fut>(
    within: Duration,
    transient: impl Fn(&E) -> bool,
    mut attempt: impl FnMut() -> Fut,
) -> Result<T, E>
where
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = tokio::time::Instant::now() + within;
    let mut pause = FIRST_PAUSE;
    loop {
        let error = match attempt().await {
            Ok(done) => return Ok(done),
            Err(error) => error,
        };
        let now = tokio::time::Instant::now();
        if !transient(&error) || now >= deadline {
            return Err(error);
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[derive(Debug, PartialEq)]
    enum Failure {
        Busy,
        Broken,
    }

    fn busy(e: &Failure) -> bool {
        *e == Failure::Busy
    }

    #[tokio::test]
    async fn a_transient_failure_is_tried_again_until_it_succeeds() {
        let tries = AtomicU32::new(0);
        let outcome = retry_transient(Duration::from_secs(5), busy, || async {
            match tries.fetch_add(1, Ordering::Relaxed) {
                0..=2 => Err(Failure::Busy),
                n => Ok(n),
            }
        })
        .await;
        assert_eq!(outcome, Ok(3));
    }

    /// Tries that fail with `failure` every time, for up to `within`: the
    /// outcome, and how many tries there were.
    async fn always(failure: fn() -> Failure, within: Duration) -> (Result<(), Failure>, u32) {
        let tries = AtomicU32::new(0);
        let outcome = retry_transient(within, busy, || async {
            tries.fetch_add(1, Ordering::Relaxed);
            Err(failure())
        })
        .await;
        (outcome, tries.load(Ordering::Relaxed))
    }

    #[tokio::test]
    async fn any_other_failure_is_returned_at_once() {
        let (outcome, tries) = always(|| Failure::Broken, Duration::from_secs(5)).await;
        assert_eq!(outcome, Err(Failure::Broken));
        assert_eq!(tries, 1);
    }

    #[tokio::test]
    async fn a_failure_that_stays_transient_is_returned_once_the_time_is_up() {
        let start = tokio::time::Instant::now();
        let (outcome, tries) = always(|| Failure::Busy, Duration::from_millis(200)).await;
        assert_eq!(outcome, Err(Failure::Busy));
        assert!(start.elapsed() >= Duration::from_millis(200));
        assert!(tries > 1, "{tries}");
    }
}
