//! Real HTTP on a loopback port: serving, bind errors, graceful drain,
//! timeouts, CORS settings.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use microcore_http::{Ctx, Empty, HttpResult, Route};
use microcore_kernel::Tool;
use serde_json::{Value, json};

struct Plug;

impl Plug {
    async fn ping(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<&'static str> {
        Ok("pong")
    }
    async fn slow(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<&'static str> {
        tokio::time::sleep(Duration::from_millis(600)).await;
        Ok("finished")
    }
}

async fn serving(pairs: &[(&str, &str)]) -> microcore_http::Http {
    let http = common::serving_http(pairs).await.expect("setup");
    let p = Arc::new(Plug);
    http.route(Route::get("/ping"), &p, Plug::ping).unwrap();
    http.route(Route::get("/slow"), &p, Plug::slow).unwrap();
    http.on_boot_complete().await.expect("binds a free port");
    http
}

#[tokio::test]
async fn it_serves_over_real_http_after_boot_and_reports_its_routes() {
    let http = serving(&[]).await;
    let addr = http.local_addr().expect("bound");
    let res = reqwest::get(format!("http://{addr}/ping")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"success": true, "data": "pong"})
    );
    let report = http.report();
    assert!(
        report
            .iter()
            .any(|l| l.starts_with("GET /ping") && l.contains("Plug.ping")),
        "{report:?}"
    );
    assert!(
        report.last().unwrap().contains(&addr.to_string()),
        "{report:?}"
    );
    let late = http
        .route(Route::get("/late"), &Arc::new(Plug), Plug::ping)
        .unwrap_err();
    assert!(late.to_string().contains("on_boot"), "{late}");
    http.drain(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_port_in_use_fails_naming_the_address_and_the_fix() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let http = common::serving_http(&[("HTTP_PORT", &port)]).await.unwrap();
    let err = http.on_boot_complete().await.unwrap_err().to_string();
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(
        err.contains("already in use") && err.contains("HTTP_PORT"),
        "{err}"
    );
}

#[tokio::test]
async fn drain_stops_accepting_but_lets_an_in_flight_request_finish() {
    let http = serving(&[]).await;
    let addr = http.local_addr().unwrap();
    let in_flight = tokio::spawn(async move { reqwest::get(format!("http://{addr}/slow")).await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    http.drain(Duration::from_secs(5)).await;
    let res = in_flight
        .await
        .unwrap()
        .expect("the in-flight request got its answer");
    assert_eq!(res.json::<Value>().await.unwrap()["data"], "finished");
    let after = reqwest::Client::new()
        .get(format!("http://{addr}/ping"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(after.is_err(), "no new connections after drain");
}

#[tokio::test]
async fn a_handler_slower_than_the_timeout_gets_a_503_envelope() {
    let http = common::http_with(&[("HTTP_REQUEST_TIMEOUT_SECS", "1")]).await;
    struct Slow;
    impl Slow {
        async fn run(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<()> {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Ok(())
        }
    }
    http.route(Route::get("/slow"), &Arc::new(Slow), Slow::run)
        .unwrap();
    let res = http.call(microcore_http::TestRequest::get("/slow")).await;
    assert_eq!(res.status, 503);
    assert!(
        res.body["error"]
            .as_str()
            .unwrap()
            .contains("HTTP_REQUEST_TIMEOUT_SECS"),
        "{}",
        res.text
    );
}

#[tokio::test]
async fn cors_credentials_with_any_origin_fail_setup_and_listed_origins_are_allowed() {
    let err = common::serving_http(&[
        ("HTTP_CORS_ORIGINS", "*"),
        ("HTTP_CORS_CREDENTIALS", "true"),
    ])
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("HTTP_CORS_CREDENTIALS") && err.contains("HTTP_CORS_ORIGINS"),
        "{err}"
    );
    let http = common::http_with(&[("HTTP_CORS_ORIGINS", "https://app.example.com")]).await;
    http.route(Route::get("/ping"), &Arc::new(Plug), Plug::ping)
        .unwrap();
    let allowed = http
        .call(microcore_http::TestRequest::get("/ping").header("origin", "https://app.example.com"))
        .await;
    assert_eq!(
        allowed.header("access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
    let other = http
        .call(microcore_http::TestRequest::get("/ping").header("origin", "https://evil.example"))
        .await;
    assert_eq!(other.header("access-control-allow-origin"), None);
    let default = common::http().await;
    default
        .route(Route::get("/ping"), &Arc::new(Plug), Plug::ping)
        .unwrap();
    let none = default
        .call(microcore_http::TestRequest::get("/ping").header("origin", "https://app.example.com"))
        .await;
    assert_eq!(
        none.header("access-control-allow-origin"),
        None,
        "no CORS unless configured"
    );
}
