//! One HTTP request through MicroCore's whole in-process pipeline (router,
//! layers, request assembly, validation, envelope) against a bare axum
//! router doing the same work, both driven with tower's `oneshot`.
//!
//! `cargo bench --bench http_pipeline -- --warm-up-time 1 --measurement-time 3`

mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use criterion::Criterion;
use http::{Request, StatusCode};
use microcore::prelude::*;
use serde::{Deserialize, Serialize};
use tower::ServiceExt;
use validator::Validate;

use support::Pair;
use support::bare::{Envelope, bare_ping};

/// Echoes a validated item back: the POST path of the benchmark.
#[plugin(tools = microcore_app::Tools)]
pub struct BenchEcho {
    http: Http,
}

/// What the client sends.
#[model]
pub struct NewItem {
    /// Item name.
    #[validate(length(min = 1, max = 100))]
    pub name: String,
    /// How many.
    #[validate(range(min = 1, max = 1000))]
    pub quantity: i64,
}

/// What the server answers.
#[model]
pub struct Item {
    /// Item name.
    pub name: String,
    /// How many.
    pub quantity: i64,
}

impl Plugin for BenchEcho {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        self.http
            .route(Route::post("/items").status(201), &self, Self::create)?;
        Ok(())
    }
}

impl BenchEcho {
    async fn create(self: Arc<Self>, req: NewItem, _: Ctx) -> HttpResult<Item> {
        Ok(Item {
            name: req.name,
            quantity: req.quantity,
        })
    }
}

/// The baseline's request body: serde plus validator, as hand-written axum would.
#[derive(Deserialize, Validate)]
struct BareNewItem {
    #[validate(length(min = 1, max = 100))]
    name: String,
    #[validate(range(min = 1, max = 1000))]
    quantity: i64,
}

#[derive(Serialize)]
struct BareItem {
    name: String,
    quantity: i64,
}

async fn bare_create(Json(req): Json<BareNewItem>) -> Response {
    if let Err(e) = req.validate() {
        let body = serde_json::json!({"success": false, "error": "validation failed", "details": e.to_string()});
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
    }
    let data = BareItem {
        name: req.name,
        quantity: req.quantity,
    };
    (
        StatusCode::CREATED,
        Json(Envelope {
            success: true,
            data,
        }),
    )
        .into_response()
}

fn bare_router() -> Router {
    Router::new()
        .route("/ping", get(bare_ping))
        .route("/items", post(bare_create))
}

const ITEM: &str = r#"{"name":"widget","quantity":3}"#;

fn get_ping() -> Request<Body> {
    Request::get("/ping")
        .body(Body::empty())
        .expect("a valid request")
}

fn post_item() -> Request<Body> {
    Request::post("/items")
        .header("content-type", "application/json")
        .body(Body::from(ITEM))
        .expect("a valid request")
}

/// Sends one request and reads the whole body, as a client would.
async fn send(router: &Router, req: Request<Body>) -> (StatusCode, axum::body::Bytes) {
    let res = router
        .clone()
        .oneshot(req)
        .await
        .expect("routers are infallible");
    let status = res.status();
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .expect("an in-memory body");
    (status, body)
}

/// Both sides must answer the same thing, or the comparison means nothing.
async fn check_same(microcore: &Router, bare: &Router, make: fn() -> Request<Body>) {
    let (s1, b1) = send(microcore, make()).await;
    let (s2, b2) = send(bare, make()).await;
    let j1: serde_json::Value = serde_json::from_slice(&b1).expect("MicroCore answers JSON");
    let j2: serde_json::Value = serde_json::from_slice(&b2).expect("the baseline answers JSON");
    assert_eq!(
        (s1, &j1),
        (s2, &j2),
        "benchmark setup: MicroCore and the baseline answer differently"
    );
}

fn main() {
    let started = SystemTime::now();
    let mut c: Criterion = support::criterion();
    let rt = support::runtime();

    let echo = support::plugin_identity("BenchEcho");
    let running = rt.block_on(support::boot_app(&["ping.Ping", &echo]));
    let microcore: Router = support::tool::<Http>(&running).router();
    let bare = bare_router();
    rt.block_on(check_same(&microcore, &bare, get_ping));
    rt.block_on(check_same(&microcore, &bare, post_item));

    let mut group = c.benchmark_group("http_get_ping");
    group.bench_function("microcore", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(send(&microcore, get_ping()).await) })
    });
    group.bench_function("axum_baseline", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(send(&bare, get_ping()).await) })
    });
    group.finish();

    let mut group = c.benchmark_group("http_post_validated");
    group.bench_function("microcore", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(send(&microcore, post_item()).await) })
    });
    group.bench_function("axum_baseline", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(send(&bare, post_item()).await) })
    });
    group.finish();

    c.final_summary();
    support::report(
        "http_pipeline",
        started,
        &[
            Pair {
                label: "GET /ping, full pipeline vs bare axum",
                group: "http_get_ping",
                microcore: "microcore",
                baseline: "axum_baseline",
            },
            Pair {
                label: "POST /items (JSON body + validation) vs bare axum Json<T> + validator",
                group: "http_post_validated",
                microcore: "microcore",
                baseline: "axum_baseline",
            },
        ],
        &[],
    );
    drop(running);
}
