//! Where a request model's input may come from, over real HTTP on loopback:
//! path parameters cannot be overridden, a write takes its input from a JSON
//! body only (no login by a cross-site form or URL), and routes the router
//! cannot hold together are refused at registration, naming both owners.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use microcore_http::{Ctx, Http, HttpResult, Route, RouteError};
use microcore_kernel::Tool;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use validator::Validate;

#[derive(Deserialize, Serialize, JsonSchema, Validate)]
struct Item {
    id: i64,
    limit: Option<u32>,
}

#[derive(Deserialize, JsonSchema, Validate)]
struct Login {
    email: String,
    password: String,
}

#[derive(Deserialize, Serialize, JsonSchema, Validate)]
struct File {
    name: String,
}

#[derive(Default)]
struct Plug {
    logins: AtomicU32,
}

impl Plug {
    async fn item(self: Arc<Self>, req: Item, _: Ctx) -> HttpResult<Item> {
        Ok(req)
    }
    async fn login(self: Arc<Self>, req: Login, ctx: Ctx) -> HttpResult<&'static str> {
        if req.email == "ana@example.com" && req.password == "secret" {
            self.logins.fetch_add(1, Ordering::SeqCst);
            ctx.set_header("set-cookie", "access_token=t; HttpOnly");
            return Ok("logged in");
        }
        Err(microcore_http::HttpError::unauthorized(
            "Invalid credentials",
        ))
    }
}

/// Another plugin, so a clash names two owners.
struct Files;

impl Files {
    async fn file(self: Arc<Self>, req: File, _: Ctx) -> HttpResult<File> {
        Ok(req)
    }
}

async fn serving(plug: &Arc<Plug>) -> Http {
    let http = common::serving_http(&[]).await.expect("setup");
    http.route(Route::get("/items/{id}"), plug, Plug::item)
        .unwrap();
    http.route(Route::put("/items/{id}"), plug, Plug::item)
        .unwrap();
    http.route(Route::post("/auth/login"), plug, Plug::login)
        .unwrap();
    http.on_boot_complete().await.expect("binds a free port");
    http
}

async fn answer(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_query_or_body_key_never_overrides_a_path_parameter() {
    let plug = Arc::new(Plug::default());
    let http = serving(&plug).await;
    let base = format!("http://{}", http.local_addr().unwrap());
    let client = reqwest::Client::new();

    let (status, body) = answer(
        client
            .get(format!("{base}/items/42?id=1"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("`id`"), "{body}");

    let put = client
        .put(format!("{base}/items/42"))
        .json(&json!({"id": 1}))
        .send()
        .await
        .unwrap();
    let (status, body) = answer(put).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("`id`"), "{body}");

    let same = client
        .put(format!("{base}/items/42"))
        .json(&json!({"id": 42, "limit": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer(same).await,
        (
            200,
            json!({"success": true, "data": {"id": 42, "limit": 3}})
        )
    );
    http.drain(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_scalar_query_key_given_twice_is_400_naming_it() {
    let plug = Arc::new(Plug::default());
    let http = serving(&plug).await;
    let base = format!("http://{}", http.local_addr().unwrap());
    let res = reqwest::get(format!("{base}/items/1?limit=1&limit=2"))
        .await
        .unwrap();
    let (status, body) = answer(res).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("`limit`"),
        "{body}"
    );
    let once = reqwest::get(format!("{base}/items/1?limit=2"))
        .await
        .unwrap();
    assert_eq!(answer(once).await.1["data"]["limit"], 2);
    http.drain(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_cross_site_form_or_url_cannot_log_in() {
    let plug = Arc::new(Plug::default());
    let http = serving(&plug).await;
    let base = format!("http://{}", http.local_addr().unwrap());
    let client = reqwest::Client::new();
    let url = format!("{base}/auth/login?email=ana@example.com&password=secret");

    let form = client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://evil.example")
        .body("email=ana%40example.com&password=secret")
        .send()
        .await
        .unwrap();
    let (status, body) = answer(form).await;
    assert!(status == 400 || status == 415, "{status} {body}");
    assert_eq!(body["success"], false);

    let url_only = client
        .post(&url)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    let (status, body) = answer(url_only).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("JSON body"),
        "{body}"
    );

    let untyped = client
        .post(format!("{base}/auth/login"))
        .body(r#"{"email":"ana@example.com","password":"secret"}"#)
        .send()
        .await
        .unwrap();
    let (status, body) = answer(untyped).await;
    assert_eq!(
        status, 415,
        "a body without a content type is not JSON: {body}"
    );

    assert_eq!(
        plug.logins.load(Ordering::SeqCst),
        0,
        "no request above may log in"
    );
    let json = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"email": "ana@example.com", "password": "secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 200);
    assert_eq!(plug.logins.load(Ordering::SeqCst), 1);
    http.drain(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_catch_all_beside_a_parameter_is_refused_naming_both_owners_and_the_rest_serves() {
    let http = common::serving_http(&[]).await.expect("setup");
    let files = Arc::new(Files);
    let plug = Arc::new(Plug::default());
    http.route(Route::get("/files/{name}"), &files, Files::file)
        .unwrap();
    let clash = http
        .route(Route::get("/files/{*rest}"), &plug, Plug::item)
        .unwrap_err();
    assert!(matches!(clash, RouteError::CatchAllClash { .. }), "{clash}");
    let text = clash.to_string();
    assert!(
        text.contains("`Files`") && text.contains("`Plug`"),
        "{text}"
    );
    let misplaced = http
        .route(Route::get("/raw/{*rest}/tail"), &plug, Plug::item)
        .unwrap_err();
    assert!(
        misplaced.to_string().contains("last segment"),
        "{misplaced}"
    );
    let bare = http
        .route(Route::get("/raw/*rest"), &plug, Plug::item)
        .unwrap_err();
    assert!(bare.to_string().contains("{*rest}"), "{bare}");

    http.on_boot_complete()
        .await
        .expect("the routes that were accepted serve");
    let base = format!("http://{}", http.local_addr().unwrap());
    let res = reqwest::get(format!("{base}/files/a.txt")).await.unwrap();
    assert_eq!(answer(res).await.1["data"]["name"], "a.txt");
    http.drain(Duration::from_secs(1)).await;
}
