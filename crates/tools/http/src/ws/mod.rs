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

pub use connection::{WsConnection, WsError, WsSender};
pub(crate) use endpoint::{SocketRoute, handle};

/// Tracks open sockets: each pump holds a receiver, drain flips the flag and
/// waits for every receiver to go.
#[derive(Clone)]
pub(crate) struct WsHub {
    shutdown: Arc<watch::Sender<bool>>,
}

impl WsHub {
    pub(crate) fn new() -> Self {
        let (tx, _) = watch::channel(false);
        Self {
            shutdown: Arc::new(tx),
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
