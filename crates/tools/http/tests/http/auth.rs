//! Per-route auth: bearer header, the `access_token` cookie, and the CSRF guard.

use crate::common;

use std::sync::Arc;

use common::TestAuth;
use microcore_http::{Ctx, Empty, HttpResult, Route, RouteError, TestRequest};
use serde_json::json;

struct Plug;

impl Plug {
    async fn whoami(self: Arc<Self>, _: Empty, ctx: Ctx) -> HttpResult<serde_json::Value> {
        let user = ctx.user()?;
        Ok(json!({"sub": user.sub, "token": ctx.token()}))
    }
    async fn open(self: Arc<Self>, _: Empty, ctx: Ctx) -> HttpResult<bool> {
        Ok(ctx.claims().is_some())
    }
}

async fn http() -> microcore_http::Http {
    let http = common::http().await;
    let p = Arc::new(Plug);
    http.route(Route::get("/me").auth_with(TestAuth), &p, Plug::whoami)
        .unwrap();
    http.route(Route::post("/me").auth_with(TestAuth), &p, Plug::whoami)
        .unwrap();
    http.route(Route::get("/open"), &p, Plug::open).unwrap();
    http
}

#[tokio::test]
async fn no_token_is_401_missing_and_a_bad_token_401_invalid() {
    let http = http().await;
    let none = http.call(TestRequest::get("/me")).await;
    assert_eq!(
        (none.status, none.body.clone()),
        (
            401,
            json!({"success": false, "error": "Missing authorization token"})
        )
    );
    let bad = http.call(TestRequest::get("/me").bearer("forged")).await;
    assert_eq!(
        (bad.status, bad.body["error"].clone()),
        (401, json!("Invalid or expired token"))
    );
}

#[tokio::test]
async fn a_bearer_header_gives_the_handler_the_claims_and_the_raw_token() {
    let http = http().await;
    let res = http.call(TestRequest::get("/me").bearer("good")).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["data"], json!({"sub": "7", "token": "good"}));
}

#[tokio::test]
async fn the_cookie_works_for_reads_and_for_writes_only_with_x_requested_with() {
    let http = http().await;
    let get = http
        .call(TestRequest::get("/me").cookie("access_token", "good"))
        .await;
    assert_eq!(get.status, 200);
    let csrf = http
        .call(TestRequest::post("/me").cookie("access_token", "good"))
        .await;
    assert_eq!(
        (csrf.status, csrf.body["error"].clone()),
        (401, json!("Missing authorization token"))
    );
    let ajax = http
        .call(
            TestRequest::post("/me")
                .cookie("access_token", "good")
                .header("x-requested-with", "fetch"),
        )
        .await;
    assert_eq!(ajax.status, 200, "{}", ajax.text);
}

#[tokio::test]
async fn open_routes_have_no_claims_and_routes_report_auth() {
    let http = http().await;
    assert_eq!(
        http.call(TestRequest::get("/open").bearer("good"))
            .await
            .body["data"],
        false
    );
    let auth: Vec<(String, bool)> = http
        .routes()
        .into_iter()
        .map(|r| (format!("{} {}", r.method, r.path), r.auth))
        .collect();
    assert_eq!(
        auth,
        [
            ("GET /me".into(), true),
            ("POST /me".into(), true),
            ("GET /open".into(), false)
        ]
    );
}

#[tokio::test]
async fn auth_without_a_validator_uses_the_one_the_kernel_holds() {
    let http = common::http_with_app_validator().await;
    let p = Arc::new(Plug);
    http.route(Route::get("/me").auth(), &p, Plug::whoami)
        .unwrap();
    http.websocket(Route::get("/ws").auth(), &p, |_: Arc<Plug>, _| async {
        Ok(())
    })
    .unwrap();
    let none = http.call(TestRequest::get("/me")).await;
    assert_eq!(none.status, 401);
    let bad = http.call(TestRequest::get("/me").bearer("forged")).await;
    assert_eq!(bad.status, 401);
    let ok = http.call(TestRequest::get("/me").bearer("good")).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.body["data"]["sub"], "7");
    assert!(http.routes().iter().all(|r| r.auth));
}

#[tokio::test]
async fn auth_in_an_app_without_an_auth_tool_fails_at_registration_naming_the_route_and_fix() {
    let http = common::http().await;
    let p = Arc::new(Plug);
    let err = http
        .route(Route::post("/orders").auth(), &p, Plug::whoami)
        .unwrap_err();
    assert!(matches!(err, RouteError::NoValidator { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("POST /orders") && text.contains("`Plug`"),
        "names the route and its owner: {text}"
    );
    assert!(
        text.contains("auth tool") && text.contains(".auth_with("),
        "says how to fix it: {text}"
    );
    assert!(http.routes().is_empty(), "nothing half-registered");
}
