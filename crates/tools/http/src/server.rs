//! The listening socket: bind, serve in the background, drain on shutdown.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server that is accepting connections.
pub(crate) struct Serving {
    pub(crate) addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// Binds `host:port` and serves `router` in a background task.
pub(crate) async fn start(router: Router, host: &str, port: u16) -> Result<Serving, String> {
    let listener = tokio::net::TcpListener::bind((host, port)).await.map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::AddrInUse => "the address is already in use by another process".to_owned(),
            std::io::ErrorKind::PermissionDenied => "permission denied (ports below 1024 need privileges)".to_owned(),
            _ => e.to_string(),
        };
        format!(
            "http cannot listen on {host}:{port}: {why} ({e}); set HTTP_PORT to a free port (0 picks any) \
             or HTTP_HOST to a local address, or stop the process using {host}:{port}"
        )
    })?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("http bound {host}:{port} but cannot read its address: {e}"))?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!("http server on {addr} stopped: {e}");
        }
    });
    Ok(Serving { addr, stop, task })
}

impl Serving {
    /// Stops accepting, lets in-flight requests finish within `grace`, then
    /// drops whatever is left.
    pub(crate) async fn drain(self, grace: Duration) {
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(grace, &mut task).await.is_err() {
            tracing::warn!(
                "http: requests still running after the {grace:?} grace period were cut off"
            );
            task.abort();
        }
    }
}
