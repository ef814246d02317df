//! WebSocket endpoints: the same route declaration and auth as JSON
//! endpoints, refused before the upgrade when the token is missing or bad,
//! then a handler that owns the connection until it returns.
//!
//! One task per socket (the pump) owns the socket itself: it enforces the
//! message limit, answers pings and closes, and sends the close frame on
//! drain even while the handler is busy elsewhere. The handler talks to it
//! through [`WsConnection`] over two bounded channels, so a slow handler
//! slows the peer down instead of buffering without limit.

mod connection;
mod endpoint;
mod pump;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::connections::Connections;

pub use connection::{WsConnection, WsError, WsSender};
pub(crate) use endpoint::{SocketRoute, handle};

/// Tracks open sockets: each pump holds a receiver, drain flips the flag and
/// waits for every receiver to go. Handlers run under the hub's cut-off, so
/// one that ignores its closed socket does not outlive the drain.
#[derive(Clone)]
pub(crate) struct WsHub {
    shutdown: Arc<watch::Sender<bool>>,
    handlers: Connections,
}

impl WsHub {
    pub(crate) fn new() -> Self {
        let (tx, _) = watch::channel(false);
        Self {
            shutdown: Arc::new(tx),
            handlers: Connections::new(),
        }
    }

    /// Runs one socket's handler (and its pump) until it returns or the cut-off.
    pub(crate) fn run<F>(&self, socket: F) -> impl std::future::Future<Output = ()> + Send + use<F>
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.handlers.track(socket)
    }

    /// Cuts the handlers off (without waiting) when the guard is dropped.
    pub(crate) fn cut_off_on_drop(&self) -> crate::connections::CutOffOnDrop {
        self.handlers.cut_off_on_drop()
    }

    /// Drops every socket handler still running, and waits (briefly) until
    /// they are gone: called at the end of the http drain, before the
    /// kernel shuts down the tools the handlers use.
    pub(crate) async fn cut_off(&self) {
        let cut = self.handlers.cut_off().await;
        if cut.connections > 0 {
            tracing::warn!(
                "http: {} WebSocket handler(s) still running at the end of the drain were cut off",
                cut.connections
            );
        }
    }

    /// A socket's view of the shutdown flag; the socket counts as open while it holds it.
    pub(crate) fn join(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Asks every open socket to close with 1001 and waits up to `grace` for them.
    pub(crate) async fn drain(&self, grace: Duration) {
        self.shutdown.send_replace(true);
        let open = self.shutdown.receiver_count();
        if open == 0 {
            return;
        }
        if tokio::time::timeout(grace, self.shutdown.closed())
            .await
            .is_err()
        {
            tracing::warn!(
                "http: {} WebSocket(s) still open after the {grace:?} grace period were cut off",
                self.shutdown.receiver_count()
            );
        }
    }
}
