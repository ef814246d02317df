//! The drain on shutdown over real sockets: keep-alive connections are told
//! to close, requests in flight finish within the grace, and what outlives
//! the grace is cut off before the drain returns (the kernel shuts down the
//! tools the handlers use right after it).

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use microcore_http::{Ctx, Empty, HttpResult, Route};
use microcore_kernel::Tool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// Longest any step here may take: a hang is a failure, not a slow answer.
const PATIENCE: Duration = Duration::from_secs(10);

/// Routes whose handlers say when they run and when they are dropped.
#[derive(Default)]
struct Plug {
    started: Notify,
    dropped: Arc<AtomicBool>,
}

/// Sets its flag when the handler holding it is dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Plug {
    async fn ping(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<&'static str> {
        Ok("pong")
    }

    async fn slow(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<&'static str> {
        self.started.notify_one();
        tokio::time::sleep(Duration::from_millis(400)).await;
        Ok("finished")
    }

    /// Longer than any grace here: it only ends by being cut off.
    async fn endless(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<&'static str> {
        let _flag = DropFlag(self.dropped.clone());
        self.started.notify_one();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok("never")
    }
}

async fn serving() -> (microcore_http::Http, Arc<Plug>) {
    let http = common::serving_http(&[]).await.expect("setup");
    let p = Arc::new(Plug::default());
    http.route(Route::get("/ping"), &p, Plug::ping).unwrap();
    http.route(Route::get("/slow"), &p, Plug::slow).unwrap();
    http.route(Route::get("/endless"), &p, Plug::endless)
        .unwrap();
    http.on_boot_complete().await.expect("binds a free port");
    (http, p)
}

/// A keep-alive connection that sent `GET path`.
async fn send_get(http: &microcore_http::Http, path: &str) -> TcpStream {
    let addr = http.local_addr().expect("listening");
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
        .await
        .unwrap();
    conn
}

/// Reads until the connection closes (or fails): what the client got.
async fn read_to_close(conn: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, conn.read_to_end(&mut got))
        .await
        .expect("the server closes the connection");
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_and_one_in_flight_answered_with_connection_close()
{
    let (http, p) = serving().await;
    let mut idle = send_get(&http, "/ping").await;
    let mut first = Vec::new();
    while !String::from_utf8_lossy(&first).contains("pong") {
        let mut chunk = [0u8; 1024];
        let n = tokio::time::timeout(PATIENCE, idle.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(
            n > 0,
            "the keep-alive connection stays open after its answer"
        );
        first.extend_from_slice(&chunk[..n]);
    }
    let mut busy = send_get(&http, "/slow").await;
    tokio::time::timeout(PATIENCE, p.started.notified())
        .await
        .unwrap();
    let drained = {
        let http = http.clone();
        tokio::spawn(async move { http.drain(Duration::from_secs(5)).await })
    };
    assert_eq!(
        read_to_close(&mut idle).await,
        "",
        "the idle connection is closed, nothing sent"
    );
    let last = read_to_close(&mut busy).await.to_ascii_lowercase();
    assert!(
        last.starts_with("http/1.1 200") && last.contains("connection: close"),
        "the request in flight is answered and told the connection closes: {last}"
    );
    tokio::time::timeout(PATIENCE, drained)
        .await
        .expect("the drain returns once both are closed")
        .unwrap();
}

#[tokio::test]
async fn a_request_longer_than_the_grace_is_cut_off_before_the_drain_returns() {
    let (http, p) = serving().await;
    let mut conn = send_get(&http, "/endless").await;
    tokio::time::timeout(PATIENCE, p.started.notified())
        .await
        .unwrap();
    tokio::time::timeout(PATIENCE, http.drain(Duration::from_millis(300)))
        .await
        .expect("the drain ends at its grace");
    assert!(
        p.dropped.load(Ordering::SeqCst),
        "the handler is gone when the drain returns, before any tool shuts down"
    );
    assert_eq!(
        read_to_close(&mut conn).await,
        "",
        "the client sees the connection close, never an answer (a 500 from a shut-down tool)"
    );
}

#[tokio::test]
async fn a_drain_dropped_at_its_grace_still_cuts_off_what_runs() {
    let (http, p) = serving().await;
    let mut conn = send_get(&http, "/endless").await;
    tokio::time::timeout(PATIENCE, p.started.notified())
        .await
        .unwrap();
    // As the kernel does with a drain that outlives its step.
    let abandoned = tokio::time::timeout(Duration::from_millis(200), http.drain(PATIENCE)).await;
    assert!(abandoned.is_err(), "the drain was still waiting");
    assert_eq!(read_to_close(&mut conn).await, "");
    assert!(p.dropped.load(Ordering::SeqCst));
}
