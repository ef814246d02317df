//! GET /ping over a real loopback socket, as a client sees it: the app's
//! router served by hyper against a bare axum server answering the same
//! envelope, each driven by a keep-alive HTTP client. One request at a time
//! (latency) and 32 in flight over a connection pool (throughput per request).
//!
//! Both servers and the client share one current-thread runtime, so each
//! figure is the whole CPU cost of a request: client, kernel, hyper, router.
//!
//! `cargo bench --bench http_socket -- --warm-up-time 1 --measurement-time 3`

mod support;

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::SystemTime;

use axum::Router;
use axum::routing::get;
use criterion::Criterion;
use futures::future::join_all;
use microcore::prelude::*;

use support::Pair;
use support::bare::bare_ping;

/// Requests in flight at once in the concurrent comparison.
const IN_FLIGHT: usize = 32;

/// Serves `router` on an ephemeral loopback port, on the current runtime.
async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port for the benchmark");
    let addr = listener.local_addr().expect("a bound address");
    tokio::spawn(async move {
        axum::serve(listener, router)
            .await
            .expect("the benchmark server runs");
    });
    addr
}

/// One GET /ping with its whole body read.
async fn ping(client: &reqwest::Client, url: &str) -> serde_json::Value {
    let res = client.get(url).send().await.expect("the server answers");
    assert_eq!(res.status(), 200);
    res.json().await.expect("a JSON body")
}

fn main() {
    let started = SystemTime::now();
    let mut c: Criterion = support::criterion();
    let rt = support::runtime();

    let running = rt.block_on(support::boot_app(&["ping.Ping"]));
    let microcore = support::tool::<Http>(&running).router();
    let (mc_url, bare_url) = rt.block_on(async {
        let mc = serve(microcore).await;
        let bare = serve(Router::new().route("/ping", get(bare_ping))).await;
        (format!("http://{mc}/ping"), format!("http://{bare}/ping"))
    });
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(IN_FLIGHT)
        .build()
        .expect("an HTTP client");
    rt.block_on(async {
        assert_eq!(
            ping(&client, &mc_url).await,
            ping(&client, &bare_url).await,
            "benchmark setup: MicroCore and the baseline answer differently"
        );
    });

    let mut group = c.benchmark_group("socket_get_ping");
    for (id, url) in [("microcore", &mc_url), ("axum_baseline", &bare_url)] {
        group.bench_function(id, |b| {
            b.to_async(&rt)
                .iter(|| async { black_box(ping(&client, url).await) })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("socket_get_ping_32_in_flight");
    for (id, url) in [("microcore", &mc_url), ("axum_baseline", &bare_url)] {
        group.bench_function(id, |b| {
            b.to_async(&rt).iter(|| async {
                black_box(join_all((0..IN_FLIGHT).map(|_| ping(&client, url))).await)
            })
        });
    }
    group.finish();

    c.final_summary();
    support::report(
        "http_socket",
        started,
        &[
            Pair {
                label: "GET /ping over loopback, one at a time, vs bare axum",
                group: "socket_get_ping",
                microcore: "microcore",
                baseline: "axum_baseline",
            },
            Pair {
                label: "32 GET /ping in flight over loopback (per batch) vs bare axum",
                group: "socket_get_ping_32_in_flight",
                microcore: "microcore",
                baseline: "axum_baseline",
            },
        ],
        &[],
    );
    drop(running);
}
