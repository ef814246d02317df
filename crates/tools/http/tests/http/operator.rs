//! Operator routes (`Route::operator()`, the framework's `/system/*`): only
//! the operator's token once `HTTP_OPERATOR_TOKEN` is set, closed in
//! production until it is, open in development without one.

use crate::common;

use std::sync::Arc;

use microcore_http::{Ctx, Empty, Http, HttpResult, Route, TestRequest};
use microcore_kernel::Tool;
use serde_json::json;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

struct Plug;

impl Plug {
    async fn status(self: Arc<Self>, _: Empty, ctx: Ctx) -> HttpResult<serde_json::Value> {
        Ok(json!({"caller": ctx.claims().map(|c| c.sub.clone())}))
    }
}

async fn with_operator_route(pairs: &[(&str, &str)]) -> Http {
    let http = common::http_with(pairs).await;
    let p = Arc::new(Plug);
    http.route(Route::get("/system/status").operator(), &p, Plug::status)
        .unwrap();
    http
}

#[tokio::test]
async fn with_a_token_set_only_that_token_is_admitted() {
    let http = with_operator_route(&[("HTTP_OPERATOR_TOKEN", TOKEN)]).await;
    let none = http.call(TestRequest::get("/system/status")).await;
    assert_eq!(
        (none.status, none.body["error"].clone()),
        (401, json!("Missing authorization token"))
    );
    let almost = format!("{}0", &TOKEN[..TOKEN.len() - 1]);
    for wrong in [almost.as_str(), "", "0123", &format!("{TOKEN}0")] {
        let res = http
            .call(TestRequest::get("/system/status").bearer(wrong))
            .await;
        assert_eq!(res.status, 401, "token {wrong:?}: {:?}", res.body);
    }
    let ok = http
        .call(TestRequest::get("/system/status").bearer(TOKEN))
        .await;
    assert_eq!(
        (ok.status, ok.body["data"].clone()),
        (200, json!({"caller": "operator"}))
    );
}

#[tokio::test]
async fn in_production_without_a_token_the_route_is_closed_and_says_what_to_set() {
    let http = with_operator_route(&[("MICROCORE_ENV", "production")]).await;
    for req in [
        TestRequest::get("/system/status"),
        TestRequest::get("/system/status").bearer("anything"),
    ] {
        let res = http.call(req).await;
        assert_eq!(res.status, 403, "{:?}", res.body);
        let msg = res.body["error"].as_str().unwrap();
        assert!(msg.contains("HTTP_OPERATOR_TOKEN"), "{msg}");
    }
}

#[tokio::test]
async fn in_development_without_a_token_the_route_is_open() {
    let http = with_operator_route(&[]).await;
    let res = http.call(TestRequest::get("/system/status")).await;
    assert_eq!(
        (res.status, res.body["data"].clone()),
        (200, json!({"caller": null}))
    );
}

#[tokio::test]
async fn a_short_token_is_refused_at_setup_naming_the_setting_and_the_fix() {
    let env = microcore_kernel::Env::from_pairs([("HTTP_OPERATOR_TOKEN", "short")]);
    let Err(err) = Http::setup_for_tests(microcore_kernel::ToolSetup {
        env,
        probe: microcore_kernel::Probe::detached("http"),
        registry: microcore_kernel::Registry::new(),
    })
    .await
    else {
        panic!("a 5-byte operator token is refused");
    };
    let err = err.to_string();
    assert!(
        err.contains("HTTP_OPERATOR_TOKEN") && err.contains("openssl rand"),
        "{err}"
    );
}

#[tokio::test]
async fn over_real_http_the_token_guards_the_route() {
    let http = common::serving_http(&[("HTTP_OPERATOR_TOKEN", TOKEN)])
        .await
        .expect("setup");
    let p = Arc::new(Plug);
    http.route(Route::get("/system/status").operator(), &p, Plug::status)
        .unwrap();
    http.on_boot_complete().await.expect("binds a free port");
    let url = format!("http://{}/system/status", http.local_addr().unwrap());
    let client = reqwest::Client::new();
    let anonymous = client.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let operator = client.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(operator.status(), 200);
    http.drain(std::time::Duration::from_secs(1)).await;
}
