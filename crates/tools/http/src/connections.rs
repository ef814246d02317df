//! The connections a server is serving, so that shutdown can end every one
//! of them: first politely (no more keep-alive), then, when the grace runs
//! out, by dropping whatever is still running.
//!
//! Each connection runs as its own task (and so would each HTTP/2 stream,
//! through [`CutOffExecutor`]). A task left to itself would outlive the drain
//! and answer its request after the kernel has shut down the tools the
//! handler uses: a 500 for a client whose request was accepted long ago.
//! Here every task ends at the cut-off, and the drain waits until they have.
//!
//! Each task has a [`Signal`] of its own, two flags and its waker, which the
//! task checks on each wake-up: two atomic loads and a compare-and-swap on
//! memory only that task touches. (Polling a shared `CancellationToken`
//! instead locks its node: every connection, on every wake-up, on the same
//! two locks, which the workers fought over on each request.) Closing and
//! cutting off walk the registry of signals, once.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::task::AtomicWaker;
use parking_lot::Mutex;
use pin_project_lite::pin_project;
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
#[derive(Clone)]
pub(crate) struct Connections(Arc<Shared>);

struct Shared {
    tasks: TaskTracker,
    running: Mutex<Running>,
    /// Requests dropped by the cut-off before they were answered.
    cut: Arc<AtomicUsize>,
}

/// The signal of every task still running, and what was already asked of
/// all of them (a task that starts afterwards is told at once).
#[derive(Default)]
struct Running {
    next: u64,
    signals: HashMap<u64, Arc<Signal>>,
    closing: bool,
    cut_off: bool,
}

/// What shutdown asks of one task, and how to wake it.
struct Signal {
    /// Finish the request in hand and close (HTTP/1.1 answers with
    /// `Connection: close`; an idle connection closes at once).
    closing: AtomicBool,
    /// Stop now: the task is dropped at its next poll.
    cut_off: AtomicBool,
    waker: AtomicWaker,
    /// The server's count of requests cut off.
    cut: Arc<AtomicUsize>,
}

impl Signal {
    fn raise(&self, flag: &AtomicBool) {
        flag.store(true, Ordering::Release);
        self.waker.wake();
    }
}

impl Connections {
    pub(crate) fn new() -> Self {
        Self(Arc::new(Shared {
            tasks: TaskTracker::new(),
            running: Mutex::new(Running::default()),
            cut: Arc::new(AtomicUsize::new(0)),
        }))
    }

    /// The task `make` builds from its new signal, ending at the cut-off
    /// and registered (so close and cut-off reach it) until it is gone.
    fn guard<F: Future>(&self, make: impl FnOnce(&Arc<Signal>) -> F) -> Guarded<F> {
        let signal = Arc::new(Signal {
            closing: AtomicBool::new(false),
            cut_off: AtomicBool::new(false),
            waker: AtomicWaker::new(),
            cut: self.0.cut.clone(),
        });
        let key = {
            let mut running = self.0.running.lock();
            signal.closing.store(running.closing, Ordering::Relaxed);
            signal.cut_off.store(running.cut_off, Ordering::Relaxed);
            let key = running.next;
            running.next += 1;
            running.signals.insert(key, signal.clone());
            key
        };
        Guarded {
            task: make(&signal),
            signal,
            _registered: Registered {
                shared: self.0.clone(),
                key,
            },
        }
    }

    /// Runs `task` until it ends or the cut-off, whichever comes first.
    pub(crate) fn spawn<F>(&self, task: F)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.tasks.spawn(self.guard(|_| task));
    }

    /// Runs the connection `serve` makes until it ends or the cut-off.
    pub(crate) fn serve<F, Fut>(&self, serve: F)
    where
        F: FnOnce(Connection) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let task = self.guard(|signal| serve(Connection(signal.clone())));
        self.0.tasks.spawn(task);
    }

    /// `task`, to be run elsewhere (a task axum spawns), ending at the
    /// cut-off and counted among the connections meanwhile.
    pub(crate) fn track<F>(&self, task: F) -> impl Future<Output = ()> + Send + use<F>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.0.tasks.track_future(self.guard(|_| task))
    }

    /// Raises `flag` on every task running and on every one started later.
    fn raise_all(&self, flag: fn(&Signal) -> &AtomicBool, remember: fn(&mut Running)) {
        let mut running = self.0.running.lock();
        remember(&mut running);
        for signal in running.signals.values() {
            signal.raise(flag(signal));
        }
    }

    /// Asks every connection to close once its request is answered. Call it
    /// after the listener stopped: no connection is added after it.
    pub(crate) fn close(&self) {
        self.0.tasks.close();
        self.raise_all(|s| &s.closing, |r| r.closing = true);
    }

    /// Waits until every connection has closed.
    pub(crate) async fn closed(&self) {
        self.0.tasks.wait().await;
    }

    /// Cuts off (without waiting) when the guard is dropped: a drain that is
    /// itself dropped mid-way leaves nothing running.
    pub(crate) fn cut_off_on_drop(&self) -> CutOffOnDrop {
        CutOffOnDrop(self.clone())
    }

    fn signal_cut_off(&self) {
        self.raise_all(|s| &s.cut_off, |r| r.cut_off = true);
    }

    /// Drops every connection still open and waits (briefly) until their
    /// tasks are gone; returns what was cut off.
    pub(crate) async fn cut_off(&self) -> CutOff {
        self.0.tasks.close();
        let connections = self.0.tasks.len();
        self.signal_cut_off();
        if tokio::time::timeout(CUT_OFF_WINDOW, self.0.tasks.wait())
            .await
            .is_err()
        {
            tracing::error!(
                "http: {} connection task(s) did not stop within {CUT_OFF_WINDOW:?} of the cut-off: \
                 a handler is blocking its thread (use spawn_blocking for blocking work); \
                 it may still run while the tools shut down",
                self.0.tasks.len()
            );
        }
        CutOff {
            requests: self.0.cut.load(Ordering::Relaxed),
            connections,
        }
    }
}

/// Cuts every task off when dropped (see [`Connections::cut_off_on_drop`]).
pub(crate) struct CutOffOnDrop(Connections);

impl Drop for CutOffOnDrop {
    fn drop(&mut self) {
        self.0.signal_cut_off();
    }
}

/// Removes a task's signal from the registry when the task is gone.
struct Registered {
    shared: Arc<Shared>,
    key: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.shared.running.lock().signals.remove(&self.key);
    }
}

pin_project! {
    /// A task that ends at its first poll after the cut-off (and is then
    /// dropped, with whatever it was doing).
    struct Guarded<F> {
        #[pin]
        task: F,
        signal: Arc<Signal>,
        _registered: Registered,
    }
}

impl<F: Future> Future for Guarded<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        this.signal.waker.register(cx.waker());
        if this.signal.cut_off.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        this.task.poll(cx).map(drop)
    }
}

/// One connection's side of its signal. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Connection(Arc<Signal>);

impl Connection {
    /// Whether the server asked its connections to close. The connection's
    /// task is woken when it does.
    pub(crate) fn closing(&self) -> bool {
        self.0.closing.load(Ordering::Acquire)
    }

    /// A request of this connection, counted in [`CutOff::requests`] if the
    /// cut-off drops it before it is answered.
    pub(crate) fn request(&self) -> InFlight {
        InFlight(self.0.clone())
    }
}

/// A request being handled. Dropped unanswered by the cut-off, it counts in
/// [`CutOff::requests`]; answered, it touches nothing shared.
pub(crate) struct InFlight(Arc<Signal>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.cut_off.load(Ordering::Acquire) {
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
