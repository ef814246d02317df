//! The listening socket: bind, accept and serve in the background, drain on
//! shutdown.
//!
//! The accept loop is ours rather than `axum::serve`'s so that the drain can
//! end every connection: `axum::serve` runs each connection as a detached
//! task, which aborting the server does not stop (see [`crate::connections`]).

use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto::Builder;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower::Service;

use crate::connections::{Connection, Connections, CutOffExecutor};

/// A server that is accepting connections.
pub(crate) struct Serving {
    pub(crate) addr: SocketAddr,
    stop: oneshot::Sender<()>,
    accepting: JoinHandle<()>,
    connections: Connections,
}

/// Binds `host:port` and serves `router` in a background task.
pub(crate) async fn start(router: Router, host: &str, port: u16) -> Result<Serving, String> {
    let listener = TcpListener::bind((host, port)).await.map_err(|e| {
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
    let connections = Connections::new();
    let accepting = tokio::spawn(accept(listener, router, connections.clone(), stopped));
    Ok(Serving {
        addr,
        stop,
        accepting,
        connections,
    })
}

/// Accepts until `stopped`, then drops the listener: new connects are refused from then on.
async fn accept(
    listener: TcpListener,
    router: Router,
    connections: Connections,
    mut stopped: oneshot::Receiver<()>,
) {
    let builder = Builder::new(CutOffExecutor(connections.clone()));
    loop {
        let stream = tokio::select! {
            biased;
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        let (router, builder) = (router.clone(), builder.clone());
        connections.serve(|connection| serve(stream, router, builder, connection));
    }
}

/// One connection, until it closes; asked to close (keep-alive off, idle
/// closed at once) when the server starts draining.
async fn serve(
    stream: TcpStream,
    router: Router,
    builder: Builder<CutOffExecutor>,
    connection: Connection,
) {
    // The connection's own handle on the router: cloning the shared one for
    // every request bumps a reference count that every worker writes. The
    // router is always ready, so it is called rather than driven through
    // `oneshot`; the borrow lasts only for that synchronous call (the
    // future it returns owns what it needs), so borrows never overlap.
    let router = RefCell::new(router);
    let requests = connection.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let in_flight = requests.request();
        let answer = router.borrow_mut().call(request.map(Body::new));
        async move {
            let response = answer.await;
            drop(in_flight);
            response
        }
    });
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(conn);
    // Asked to close, the connection finishes the request in hand (with
    // `Connection: close`) or closes at once when idle. The task is woken
    // when that is asked.
    let mut asked = false;
    let done = std::future::poll_fn(|cx| {
        if !asked && connection.closing() {
            asked = true;
            conn.as_mut().graceful_shutdown();
        }
        conn.as_mut().poll(cx)
    })
    .await;
    if let Err(e) = done {
        tracing::trace!("http: connection ended: {e}");
    }
}

/// An accept error: a connection reset before it was accepted is the
/// client's business; anything else (out of file descriptors) is logged and
/// retried after a pause rather than spinning.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(
        "http: accepting a connection failed: {e}; retrying in 1s (out of file descriptors? raise `ulimit -n`)"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
}

impl Serving {
    /// Stops accepting at once, lets in-flight requests finish within
    /// `grace` (keep-alive connections are told to close), then cuts off
    /// whatever is still running. When it returns, no request of this server
    /// runs any more, even when the drain itself is dropped mid-way.
    pub(crate) async fn drain(self, grace: Duration) {
        let Serving {
            stop,
            mut accepting,
            connections,
            ..
        } = self;
        let _ = stop.send(());
        // Cuts off on every way out, a drop of this future included (the
        // kernel abandons a drain that outlives its step).
        let _cut_off_on_drop = connections.cut_off_on_drop();
        let drained = tokio::time::timeout(grace, async {
            let _ = (&mut accepting).await;
            connections.close();
            connections.closed().await;
        })
        .await;
        if drained.is_ok() {
            return;
        }
        accepting.abort();
        let cut = connections.cut_off().await;
        tracing::warn!(
            requests_cut_off = cut.requests,
            connections_closed = cut.connections,
            "http: the shutdown grace ({grace:?}) ran out: {} request(s) still being handled were cut off \
             and {} connection(s) closed; their clients see the connection close without an answer \
             (raise SHUTDOWN_GRACE_SECS if requests need longer)",
            cut.requests,
            cut.connections,
        );
    }
}
