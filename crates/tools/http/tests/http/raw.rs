//! `Raw` responses: CSV, text and bytes with their own content type and
//! headers, the route's status, errors still in the envelope, and the OpenAPI
//! document naming the declared content type.

use crate::common;

use std::sync::Arc;

use microcore_http::{Ctx, Empty, HttpError, HttpResult, Raw, Route, TestRequest};
use serde_json::json;

struct Plug;

impl Plug {
    async fn csv(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<Raw> {
        Ok(Raw::csv("id,name\n1,Ana\n").attachment("users.csv"))
    }
    async fn text(self: Arc<Self>, _: Empty, ctx: Ctx) -> HttpResult<Raw> {
        ctx.set_header("x-extra", "1");
        Ok(Raw::text("created"))
    }
    async fn png(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<Raw> {
        Ok(Raw::bytes("image/png", vec![0x89u8, b'P', b'N', b'G'])
            .header("cache-control", "max-age=60"))
    }
    async fn refused(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<Raw> {
        Err(HttpError::forbidden("not yours"))
    }
    async fn bad_header(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<Raw> {
        Ok(Raw::text("x").header("bad header", "v"))
    }
}

async fn http() -> microcore_http::Http {
    let http = common::http().await;
    let p = Arc::new(Plug);
    http.route(Route::get("/export").produces("text/csv"), &p, Plug::csv)
        .unwrap();
    http.route(Route::post("/notes").status(201), &p, Plug::text)
        .unwrap();
    http.route(Route::get("/logo"), &p, Plug::png).unwrap();
    http.route(Route::get("/secret"), &p, Plug::refused)
        .unwrap();
    http.route(Route::get("/bad"), &p, Plug::bad_header)
        .unwrap();
    http
}

#[tokio::test]
async fn a_raw_body_is_sent_as_is_with_its_content_type_and_headers() {
    let http = http().await;
    let csv = http.call(TestRequest::get("/export")).await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.text, "id,name\n1,Ana\n");
    assert_eq!(
        csv.header("content-type").as_deref(),
        Some("text/csv; charset=utf-8")
    );
    assert_eq!(
        csv.header("content-disposition").as_deref(),
        Some("attachment; filename=\"users.csv\"")
    );
    let text = http.call(TestRequest::post("/notes")).await;
    assert_eq!((text.status, text.text.as_str()), (201, "created"));
    assert_eq!(
        text.header("x-extra").as_deref(),
        Some("1"),
        "Ctx headers apply too"
    );
    let png = http.call(TestRequest::get("/logo")).await;
    assert_eq!(png.header("content-type").as_deref(), Some("image/png"));
    assert_eq!(png.header("cache-control").as_deref(), Some("max-age=60"));
}

#[tokio::test]
async fn errors_stay_json_and_a_bad_header_is_a_500_without_details() {
    let http = http().await;
    let refused = http.call(TestRequest::get("/secret")).await;
    assert_eq!(
        (refused.status, refused.body.clone()),
        (403, json!({"success": false, "error": "not yours"}))
    );
    let bad = http.call(TestRequest::get("/bad")).await;
    assert_eq!(bad.status, 500);
    assert_eq!(bad.body["error"], "Internal server error");
}

#[tokio::test]
async fn openapi_shows_the_declared_content_type_or_any() {
    let http = http().await;
    let doc = http.openapi();
    let export = &doc["paths"]["/export"]["get"]["responses"]["200"]["content"];
    assert!(export.get("text/csv").is_some(), "{export}");
    let logo = &doc["paths"]["/logo"]["get"]["responses"]["200"]["content"];
    assert!(logo.get("*/*").is_some(), "{logo}");
}
