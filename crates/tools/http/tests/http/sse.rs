//! Server-Sent Events endpoints.

use crate::common;

use std::sync::Arc;

use common::TestAuth;
use futures::Stream;
use microcore_http::{Ctx, HttpResult, Route, SseEvent, TestRequest};
use schemars::JsonSchema;
use serde::Deserialize;
use validator::Validate;

struct Plug;

#[derive(Deserialize, JsonSchema, Validate)]
struct Count {
    n: u32,
}

#[derive(serde::Serialize)]
struct Tick {
    n: u32,
}

impl Plug {
    async fn shaped(
        self: Arc<Self>,
        _: (),
        _: Ctx,
    ) -> HttpResult<impl Stream<Item = SseEvent> + use<>> {
        Ok(futures::stream::iter([
            SseEvent::comment("hello"),
            SseEvent::json(&Tick { n: 1 }).event("tick").id("1"),
            SseEvent::data("a\nb")
                .event("multi\nline")
                .id("x\ny")
                .id("2"),
            SseEvent::data("later").retry(std::time::Duration::from_secs(3)),
        ]))
    }
    async fn channel(
        self: Arc<Self>,
        _: (),
        _: Ctx,
    ) -> HttpResult<impl Stream<Item = SseEvent> + use<>> {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            for i in 0..3 {
                let _ = tx.send(SseEvent::data(format!("m{i}"))).await;
            }
        });
        Ok(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|e| (e, rx))
        }))
    }
    async fn count(
        self: Arc<Self>,
        req: Count,
        _: Ctx,
    ) -> HttpResult<impl Stream<Item = SseEvent> + use<>> {
        Ok(futures::stream::iter(
            (1..=req.n).map(|i| SseEvent::data(i.to_string())),
        ))
    }
}

#[tokio::test]
async fn a_stream_is_sent_as_text_event_stream_with_its_query_typed() {
    let http = common::http().await;
    http.sse(
        Route::get("/count").tag("Live"),
        &Arc::new(Plug),
        Plug::count,
    )
    .unwrap();
    let res = http.call(TestRequest::get("/count?n=3")).await;
    assert_eq!(res.status, 200);
    assert!(
        res.header("content-type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert_eq!(res.header("cache-control").as_deref(), Some("no-cache"));
    assert_eq!(res.header("x-accel-buffering").as_deref(), Some("no"));
    assert_eq!(res.text, "data: 1\n\ndata: 2\n\ndata: 3\n\n");
    assert_eq!(http.call(TestRequest::get("/count?n=x")).await.status, 422);
    let doc = http.openapi();
    assert!(
        doc["paths"]["/count"]["get"]["responses"]["200"]["content"]["text/event-stream"]
            .is_object()
    );
}

#[tokio::test]
async fn an_sse_route_with_auth_refuses_a_missing_token() {
    let http = common::http().await;
    http.sse(
        Route::get("/count").auth_with(TestAuth),
        &Arc::new(Plug),
        Plug::count,
    )
    .unwrap();
    assert_eq!(http.call(TestRequest::get("/count?n=1")).await.status, 401);
    assert_eq!(
        http.call(TestRequest::get("/count?n=1").bearer("good"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn events_carry_names_ids_json_comments_and_retry_and_never_panic_on_newlines() {
    let http = common::http().await;
    let p = Arc::new(Plug);
    http.sse(Route::get("/shaped"), &p, Plug::shaped).unwrap();
    let res = http.call(TestRequest::get("/shaped")).await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.text,
        ": hello\n\n\
         event: tick\nid: 1\ndata: {\"n\":1}\n\n\
         event: multi line\nid: 2\ndata: a\ndata: b\n\n\
         retry: 3000\ndata: later\n\n"
    );
}

#[tokio::test]
async fn a_tokio_channel_becomes_a_stream_with_unfold() {
    let http = common::http().await;
    http.sse(Route::get("/channel"), &Arc::new(Plug), Plug::channel)
        .unwrap();
    let res = http.call(TestRequest::get("/channel")).await;
    assert_eq!(res.text, "data: m0\n\ndata: m1\n\ndata: m2\n\n");
}
