//! The connections a server is serving, so that shutdown can end every one
//! of them: first politely (no more keep-alive), then, when the grace runs
//! out, by dropping whatever is still running.
//!
//! Each connection runs as its own task (and so would each HTTP/2 stream,
//! through [`CutOffExecutor`]). A task left to itself would outlive the drain
//! and answer its request after the kernel has shut down the tools the
//! handler uses: a 500 for a client whose request was accepted long ago.
//! Here every task ends at the cut-off, and the drain waits until they have.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Longest wait, after the cut-off, for the dropped tasks to be gone. A task
/// is dropped at its next poll, which is at once unless a handler blocks
/// its thread (`std::thread::sleep`, a synchronous driver): that one cannot
/// be stopped, and the wait gives up on it rather than hang the shutdown.
const CUT_OFF_WINDOW: Duration = Duration::from_millis(250);

/// What was cut off when the grace ran out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CutOff {
    /// Requests whose handler had not answered yet.
    pub(crate) requests: usize,
    /// Connections still open, idle or busy (a streamed response, a half-sent body).
    pub(crate) connections: usize,
}

/// The connection tasks of one server.
///
/// The two tokens are shared by every connection, but no connection polls
/// them: each gets child tokens of its own ([`Connection`]). Polling a token
/// locks its node, and every connection polling the shared ones on every
/// wake-up made the workers fight over two locks on each request.
#[derive(Clone)]
pub(crate) struct Connections {
    tasks: TaskTracker,
    /// Asks each connection to finish its request and close (HTTP/1.1
    /// answers with `Connection: close`; an idle one closes at once).
    closing: CancellationToken,
    /// Drops every task still running.
    cut_off: CancellationToken,
    /// Requests dropped by the cut-off before they were answered.
    cut: Arc<AtomicUsize>,
}

/// One connection's children of the server's tokens.
pub(crate) struct Connection(Arc<ConnectionTokens>);

struct ConnectionTokens {
    closing: CancellationToken,
    cut_off: CancellationToken,
    cut: Arc<AtomicUsize>,
}

impl Connection {
    /// Resolves when the server asks its connections to close.
    pub(crate) fn closing(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.0.closing.clone().cancelled_owned()
    }

    /// A request of this connection, counted in [`CutOff::requests`] if the
    /// cut-off drops it before it is answered.
    pub(crate) fn request(&self) -> InFlight {
        InFlight(self.0.clone())
    }
}

impl Connections {
    pub(crate) fn new() -> Self {
        Self {
            tasks: TaskTracker::new(),
            closing: CancellationToken::new(),
            cut_off: CancellationToken::new(),
            cut: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Runs `task` until it ends or the cut-off, whichever comes first.
    pub(crate) fn spawn<F>(&self, task: F)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let cut_off = self.cut_off.child_token();
        self.tasks.spawn(async move {
            let _ = cut_off.run_until_cancelled_owned(task).await;
        });
    }

    /// Runs the connection `serve` makes until it ends or the cut-off.
    pub(crate) fn serve<F, Fut>(&self, serve: F)
    where
        F: FnOnce(Connection) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let tokens = Arc::new(ConnectionTokens {
            closing: self.closing.child_token(),
            cut_off: self.cut_off.child_token(),
            cut: self.cut.clone(),
        });
        let cut_off = tokens.cut_off.clone();
        let task = serve(Connection(tokens));
        self.tasks.spawn(async move {
            let _ = cut_off.run_until_cancelled_owned(task).await;
        });
    }

    /// `task`, to be run elsewhere (a task axum spawns), ending at the
    /// cut-off and counted among the connections meanwhile.
    pub(crate) fn track<F>(&self, task: F) -> impl Future<Output = ()> + Send + use<F>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let cut_off = self.cut_off.child_token();
        self.tasks.track_future(async move {
            let _ = cut_off.run_until_cancelled_owned(task).await;
        })
    }

    /// Asks every connection to close once its request is answered. Call it
    /// after the listener stopped: no connection is added after it.
    pub(crate) fn close(&self) {
        self.tasks.close();
        self.closing.cancel();
    }

    /// Waits until every connection has closed.
    pub(crate) async fn closed(&self) {
        self.tasks.wait().await;
    }

    /// Cuts off (without waiting) when the guard is dropped: a drain that is
    /// itself dropped mid-way leaves nothing running.
    pub(crate) fn cut_off_on_drop(&self) -> tokio_util::sync::DropGuard {
        self.cut_off.clone().drop_guard()
    }

    /// Drops every connection still open and waits (briefly) until their
    /// tasks are gone; returns what was cut off.
    pub(crate) async fn cut_off(&self) -> CutOff {
        self.tasks.close();
        let connections = self.tasks.len();
        self.cut_off.cancel();
        if tokio::time::timeout(CUT_OFF_WINDOW, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::error!(
                "http: {} connection task(s) did not stop within {CUT_OFF_WINDOW:?} of the cut-off: \
                 a handler is blocking its thread (use spawn_blocking for blocking work); \
                 it may still run while the tools shut down",
                self.tasks.len()
            );
        }
        CutOff {
            requests: self.cut.load(Ordering::Relaxed),
            connections,
        }
    }
}

/// A request being handled. Dropped unanswered by the cut-off, it counts in
/// [`CutOff::requests`]; answered, it touches nothing shared.
pub(crate) struct InFlight(Arc<ConnectionTokens>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.cut_off.is_cancelled() {
            self.0.cut.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Runs what hyper spawns for a connection (HTTP/2 streams) as connection
/// tasks, so the cut-off ends them too.
#[derive(Clone)]
pub(crate) struct CutOffExecutor(pub(crate) Connections);

impl<F> hyper::rt::Executor<F> for CutOffExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, task: F) {
        self.0.spawn(task);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_cut_off_drops_running_tasks_and_counts_their_requests() {
        let connections = Connections::new();
        let dropped = Arc::new(AtomicUsize::new(0));
        struct Flag(Arc<AtomicUsize>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        for _ in 0..2 {
            let flag = Flag(dropped.clone());
            connections.serve(|connection| async move {
                let request = connection.request();
                let _held = (flag, request, connection);
                std::future::pending::<()>().await;
            });
        }
        // A request answered before the cut-off is not counted.
        connections.serve(|connection| async move {
            drop(connection.request());
            std::future::pending::<()>().await;
        });
        tokio::task::yield_now().await;
        connections.close();
        let cut = connections.cut_off().await;
        assert_eq!(
            cut,
            CutOff {
                requests: 2,
                connections: 3
            }
        );
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            2,
            "both tasks are gone when cut_off returns"
        );
    }
}
