//! A small fixed pool of threads for argon2id, behind a bounded queue.
//!
//! Each hash takes ~19 MiB and a core. On tokio's blocking pool, a burst of
//! sign-ups spread the work over many threads, each keeping its allocator
//! arena: measured, 200 sign-ups left 3.5 GiB resident (and 640 MiB with a
//! semaphore in front). A few long-lived workers reuse the same memory, so
//! resident memory stays at about one hash per worker.
//!
//! The queue in front of them is bounded (`AUTH_HASH_QUEUE_LIMIT`): a burst
//! beyond it is refused at once with `AuthError::Unavailable` (a 503 with
//! `Retry-After`) instead of piling up minutes of CPU work. A queued job whose
//! caller has gone (request cancelled, client disconnected) is skipped, so
//! abandoned logins cost nothing.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::error::AuthError;

/// A job returns whether it ran (false: its caller was gone).
type Job = Box<dyn FnOnce() -> bool + Send>;

/// Hashing jobs allowed to wait for a worker unless `AUTH_HASH_QUEUE_LIMIT` says otherwise.
pub(crate) const DEFAULT_QUEUE_LIMIT: usize = 64;

/// Runs blocking hashing jobs on `workers` dedicated threads.
pub(crate) struct HashPool {
    jobs: Mutex<mpsc::SyncSender<Job>>,
    limit: usize,
}

impl HashPool {
    /// One worker per core, at least one, with at most `limit` jobs waiting.
    /// Workers exit when the pool is dropped.
    pub(crate) fn new(limit: usize) -> Self {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::with_workers(workers, limit)
    }

    pub(crate) fn with_workers(workers: usize, limit: usize) -> Self {
        let (tx, rx) = mpsc::sync_channel::<Job>(limit);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..workers.max(1) {
            let rx = Arc::clone(&rx);
            let spawned = std::thread::Builder::new()
                .name(format!("microcore-argon2-{i}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            // A panicking job loses its answer (the caller gets an
                            // error), never the worker.
                            Ok(job) => {
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                            }
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password hashing thread");
            }
        }
        Self {
            jobs: Mutex::new(tx),
            limit,
        }
    }

    /// Runs `f` on a worker and waits for its result without blocking the
    /// caller's thread; `Unavailable` at once when the queue is full.
    pub(crate) async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, AuthError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            if tx.is_closed() {
                return false;
            }
            let _ = tx.send(f());
            true
        });
        let sent = match self.jobs.lock() {
            Ok(jobs) => jobs.try_send(job),
            Err(_) => return Err(stopped()),
        };
        match sent {
            Ok(()) => rx.await.map_err(|_| stopped()),
            Err(mpsc::TrySendError::Full(_)) => Err(AuthError::Unavailable {
                reason: format!(
                    "{} password hashes are already waiting (AUTH_HASH_QUEUE_LIMIT); retry shortly",
                    self.limit
                ),
            }),
            Err(mpsc::TrySendError::Disconnected(_)) => Err(stopped()),
        }
    }
}

fn stopped() -> AuthError {
    AuthError::Internal {
        reason: "the password hashing workers are not running".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    /// Occupies the pool's only worker until the returned sender is dropped.
    async fn occupy(
        pool: &Arc<HashPool>,
    ) -> (std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<()>) {
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = oneshot::channel();
        let busy = {
            let pool = Arc::clone(pool);
            tokio::spawn(async move {
                let _ = pool
                    .run(move || {
                        let _ = started_tx.send(());
                        let _ = gate.recv();
                    })
                    .await;
            })
        };
        started.await.unwrap();
        (release, busy)
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_as_unavailable() {
        let pool = Arc::new(HashPool::with_workers(1, 1));
        let (release, busy) = occupy(&pool).await;
        // The first poll queues the job: the one waiting slot is taken.
        let mut waiting = Box::pin(pool.run(|| 7));
        assert!(futures::poll!(&mut waiting).is_pending());
        let refused = pool.run(|| 8).await;
        assert!(
            matches!(&refused, Err(e) if e.is_unavailable()),
            "{refused:?}"
        );
        assert!(
            refused
                .unwrap_err()
                .to_string()
                .contains("AUTH_HASH_QUEUE_LIMIT")
        );
        drop(release);
        busy.await.unwrap();
        assert_eq!(waiting.await.unwrap(), 7, "the queued job still runs");
    }

    #[tokio::test]
    async fn a_job_whose_caller_is_gone_is_skipped() {
        let pool = Arc::new(HashPool::with_workers(1, 4));
        let (release, busy) = occupy(&pool).await;
        let ran = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&ran);
        // Queued behind the busy worker, then its caller goes away.
        let mut abandoned = Box::pin(pool.run(move || flag.store(true, Ordering::SeqCst)));
        assert!(futures::poll!(&mut abandoned).is_pending());
        drop(abandoned);
        drop(release);
        busy.await.unwrap();
        // The queue is first in, first out: this job runs after the abandoned one was taken.
        assert_eq!(pool.run(|| 1).await.unwrap(), 1);
        assert!(!ran.load(Ordering::SeqCst), "the abandoned job never ran");
    }
}
