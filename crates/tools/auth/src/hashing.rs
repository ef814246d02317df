//! A small fixed pool of threads for argon2id.
//!
//! Each hash takes ~19 MiB and a core. On tokio's blocking pool, a burst of
//! sign-ups spread the work over many threads, each keeping its allocator
//! arena: measured, 200 sign-ups left 3.5 GiB resident (and 640 MiB with a
//! semaphore in front). A few long-lived workers reuse the same memory, so
//! resident memory stays at about one hash per worker, and the queue in front
//! of them is the backpressure.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::error::AuthError;

type Job = Box<dyn FnOnce() + Send>;

/// Runs blocking hashing jobs on `workers` dedicated threads.
pub(crate) struct HashPool {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl HashPool {
    /// One worker per core, at least one. Workers exit when the pool is dropped.
    pub(crate) fn new() -> Self {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..workers {
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
        }
    }

    /// Runs `f` on a worker and waits for its result without blocking the caller's thread.
    pub(crate) async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, AuthError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        let sent = match self.jobs.lock() {
            Ok(jobs) => jobs.send(job).is_ok(),
            Err(_) => false,
        };
        if !sent {
            return Err(unavailable());
        }
        rx.await.map_err(|_| unavailable())
    }
}

fn unavailable() -> AuthError {
    AuthError::Internal {
        reason: "the password hashing workers are not running".to_owned(),
    }
}
