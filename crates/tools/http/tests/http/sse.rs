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

impl Plug {
    async fn count(
        self: Arc<Self>,
        req: Count,
        _: Ctx,
    ) -> HttpResult<impl Stream<Item = SseEvent> + use<>> {
        Ok(futures::stream::iter(
            (1..=req.n).map(|i| SseEvent::default().data(i.to_string())),
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
