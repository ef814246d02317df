//! The request pipeline, in-process: assembly, validation, envelopes,
//! failures, context and headers.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use microcore_http::{Ctx, Empty, HttpError, HttpResult, Route, RouteError, TestRequest};
use microcore_kernel::{current_event_id, current_identity};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use validator::Validate;

struct Plug {
    calls: AtomicU32,
}

fn plug() -> Arc<Plug> {
    Arc::new(Plug {
        calls: AtomicU32::new(0),
    })
}

#[derive(Deserialize, Serialize, JsonSchema, Validate)]
struct Item {
    id: i64,
    limit: Option<u32>,
    flag: Option<bool>,
    name: String,
}

#[derive(Deserialize, Serialize, JsonSchema, Validate)]
struct NewUser {
    #[validate(length(min = 1, max = 10))]
    name: String,
    #[validate(email)]
    email: String,
    #[validate(range(min = 18))]
    age: u32,
}

#[derive(Deserialize, Serialize, JsonSchema, Validate)]
struct Id {
    id: i64,
}

#[derive(Serialize, JsonSchema)]
struct Who {
    identity: String,
    event_id: Option<String>,
    request_id: String,
}

impl Plug {
    async fn echo(self: Arc<Self>, req: Item, _: Ctx) -> HttpResult<Item> {
        Ok(req)
    }
    async fn create(self: Arc<Self>, req: NewUser, _: Ctx) -> HttpResult<NewUser> {
        Ok(req)
    }
    async fn boom(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<()> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("secret panic detail");
        }
        Ok(())
    }
    async fn io_fail(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<()> {
        Err(std::io::Error::other("secret database password in error"))?
    }
    async fn refuse(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<()> {
        Err(HttpError::bad_request("nope"))
    }
    async fn me(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<&'static str> {
        Ok("me")
    }
    async fn by_id(self: Arc<Self>, req: Id, _: Ctx) -> HttpResult<i64> {
        Ok(req.id)
    }
    async fn who(self: Arc<Self>, _: Empty, ctx: Ctx) -> HttpResult<Who> {
        Ok(Who {
            identity: current_identity().to_string(),
            event_id: current_event_id().map(|e| e.to_string()),
            request_id: ctx.request_id().to_owned(),
        })
    }
    fn who_blocking(self: Arc<Self>, _: Empty, ctx: Ctx) -> HttpResult<Who> {
        Ok(Who {
            identity: current_identity().to_string(),
            event_id: current_event_id().map(|e| e.to_string()),
            request_id: ctx.request_id().to_owned(),
        })
    }
    fn panic_blocking(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<()> {
        panic!("blocking boom")
    }
    async fn shaped(self: Arc<Self>, _: Empty, ctx: Ctx) -> HttpResult<&'static str> {
        ctx.set_status(202);
        ctx.set_header("x-custom", "yes");
        ctx.set_cookie(microcore_http::Cookie::new("sid", "abc"));
        Ok("accepted")
    }
    async fn go(self: Arc<Self>, _: Empty, ctx: Ctx) -> HttpResult<()> {
        ctx.redirect("/elsewhere");
        Ok(())
    }
    async fn raw(self: Arc<Self>, _: Empty, ctx: Ctx) -> HttpResult<()> {
        ctx.binary(&b"raw-data"[..], "text/plain");
        Ok(())
    }
    async fn bad_header(self: Arc<Self>, _: Empty, ctx: Ctx) -> HttpResult<()> {
        ctx.set_header("bad header", "x");
        Ok(())
    }
}

#[tokio::test]
async fn a_get_reads_path_and_query_a_post_path_and_json_body_with_coercion_from_the_schema() {
    let http = common::http().await;
    http.route(Route::get("/items/{id}"), &plug(), Plug::echo)
        .unwrap();
    http.route(Route::post("/items/{id}"), &plug(), Plug::echo)
        .unwrap();
    let get = http
        .call(TestRequest::get("/items/42?limit=10&flag=true&name=query"))
        .await;
    assert_eq!(get.status, 200, "{}", get.text);
    assert_eq!(
        get.body,
        json!({"success": true, "data": {"id": 42, "limit": 10, "flag": true, "name": "query"}})
    );
    let post = http
        .call(TestRequest::post("/items/42").json(json!({"name": "body", "limit": 10})))
        .await;
    assert_eq!(
        post.body,
        json!({"success": true, "data": {"id": 42, "limit": 10, "flag": null, "name": "body"}})
    );
    let from_query = http.call(TestRequest::post("/items/1?name=q")).await;
    assert_eq!(from_query.status, 400, "{}", from_query.text);
    assert!(
        from_query.body["error"]
            .as_str()
            .unwrap()
            .contains("`name`"),
        "a write never reads its model from the URL: {}",
        from_query.text
    );
}

#[tokio::test]
async fn a_non_numeric_path_id_is_422_naming_the_field() {
    let http = common::http().await;
    http.route(Route::get("/things/{id}"), &plug(), Plug::by_id)
        .unwrap();
    let res = http.call(TestRequest::get("/things/abc")).await;
    assert_eq!(res.status, 422);
    assert_eq!(res.body["details"][0]["field"], "id", "{}", res.text);
    assert!(
        res.body["error"].as_str().unwrap().starts_with("id:"),
        "{}",
        res.text
    );
}

#[tokio::test]
async fn validation_failure_is_422_with_every_field_in_details() {
    let http = common::http().await;
    http.route(Route::post("/users").status(201), &plug(), Plug::create)
        .unwrap();
    let res = http
        .call(TestRequest::post("/users").json(json!({"name": "", "email": "nope", "age": 3})))
        .await;
    assert_eq!(res.status, 422, "{}", res.text);
    assert_eq!(res.body["success"], false);
    let fields: Vec<&str> = res.body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["age", "email", "name"]);
    assert_eq!(res.body["error"], "age: must be at least 18");
    let missing = http
        .call(TestRequest::post("/users").json(json!({"name": "a", "age": 20})))
        .await;
    assert_eq!(missing.status, 422);
    assert_eq!(
        missing.body["details"][0]["field"], "email",
        "{}",
        missing.text
    );
    let ok = http
        .call(
            TestRequest::post("/users").json(json!({"name": "Ana", "email": "a@b.co", "age": 30})),
        )
        .await;
    assert_eq!(ok.status, 201, "the route's success status applies");
}

#[tokio::test]
async fn malformed_json_is_400_and_a_non_json_body_is_415() {
    let http = common::http().await;
    http.route(Route::post("/users"), &plug(), Plug::create)
        .unwrap();
    let res = http
        .call(TestRequest::post("/users").raw("{not json", "application/json"))
        .await;
    assert_eq!(res.status, 400);
    assert!(
        res.body["error"]
            .as_str()
            .unwrap()
            .starts_with("malformed JSON body"),
        "{}",
        res.text
    );
    let form = http
        .call(TestRequest::post("/users").raw("a=b", "application/x-www-form-urlencoded"))
        .await;
    assert_eq!(form.status, 415);
    assert!(
        form.body["error"]
            .as_str()
            .unwrap()
            .contains("application/json"),
        "{}",
        form.text
    );
    let array = http
        .call(TestRequest::post("/users").json(json!([1, 2])))
        .await;
    assert_eq!(array.status, 422);
}

#[tokio::test]
async fn a_panic_is_500_with_a_generic_message_and_the_next_request_is_served() {
    let http = common::http().await;
    http.route(Route::get("/boom"), &plug(), Plug::boom)
        .unwrap();
    let first = http.call(TestRequest::get("/boom")).await;
    assert_eq!(first.status, 500);
    assert_eq!(
        first.body,
        json!({"success": false, "error": "Internal server error"})
    );
    assert!(!first.text.contains("secret"));
    assert_eq!(http.call(TestRequest::get("/boom")).await.status, 200);
}

#[tokio::test]
async fn std_errors_are_500_without_their_text_and_http_errors_keep_theirs() {
    let http = common::http().await;
    let p = plug();
    http.route(Route::get("/io"), &p, Plug::io_fail).unwrap();
    http.route(Route::get("/refuse"), &p, Plug::refuse).unwrap();
    let io = http.call(TestRequest::get("/io")).await;
    assert_eq!(io.status, 500);
    assert!(!io.text.contains("secret"), "{}", io.text);
    let refused = http.call(TestRequest::get("/refuse")).await;
    assert_eq!(
        (refused.status, refused.body.clone()),
        (400, json!({"success": false, "error": "nope"}))
    );
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_in_the_envelope() {
    let http = common::http().await;
    http.route(Route::get("/me"), &plug(), Plug::me).unwrap();
    let missing = http.call(TestRequest::get("/nowhere")).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["success"], false);
    assert!(missing.body["error"].as_str().unwrap().contains("/nowhere"));
    let wrong = http.call(TestRequest::delete("/me")).await;
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.body["success"], false, "{}", wrong.text);
}

#[tokio::test]
async fn static_segments_win_over_parameters_whatever_the_registration_order() {
    let http = common::http().await;
    let p = plug();
    http.route(Route::get("/users/{id}"), &p, Plug::by_id)
        .unwrap();
    http.route(Route::get("/users/me"), &p, Plug::me).unwrap();
    assert_eq!(
        http.call(TestRequest::get("/users/me")).await.body["data"],
        "me"
    );
    assert_eq!(
        http.call(TestRequest::get("/users/5")).await.body["data"],
        5
    );
}

#[tokio::test]
async fn duplicate_and_ambiguous_routes_are_refused_naming_both_owners() {
    let http = common::http().await;
    let p = plug();
    http.route(Route::get("/users/{id}"), &p, Plug::by_id)
        .unwrap();
    let dup = http
        .route(Route::get("/users/{id}"), &p, Plug::by_id)
        .unwrap_err();
    assert!(matches!(dup, RouteError::Duplicate { .. }));
    assert!(
        dup.to_string().contains("`Plug`") && dup.to_string().contains("registered twice"),
        "{dup}"
    );
    let clash = http
        .route(Route::post("/users/{user_id}"), &p, Plug::by_id)
        .unwrap_err();
    assert!(matches!(clash, RouteError::Ambiguous { .. }), "{clash}");
    let colon = http
        .route(Route::get("/x/:id"), &p, Plug::by_id)
        .unwrap_err();
    assert!(colon.to_string().contains("{id}"), "{colon}");
    let reserved = http.route(Route::get("/docs"), &p, Plug::me).unwrap_err();
    assert!(
        reserved.to_string().contains("served by the http tool"),
        "{reserved}"
    );
    http.route(Route::put("/users/{id}"), &p, Plug::by_id)
        .expect("another method on the same path is fine");
}

#[tokio::test]
async fn the_request_id_is_echoed_and_is_the_parent_of_work_done_in_the_handler() {
    let http = common::http().await;
    let p = plug();
    http.route(Route::get("/who"), &p, Plug::who).unwrap();
    http.route_blocking(Route::get("/who-blocking"), &p, Plug::who_blocking)
        .unwrap();
    let res = http
        .call(TestRequest::get("/who").header("x-request-id", "req-123"))
        .await;
    assert_eq!(res.header("x-request-id").as_deref(), Some("req-123"));
    assert_eq!(
        res.body["data"],
        json!({"identity": "Plug.who", "event_id": "req-123", "request_id": "req-123"})
    );
    let blocking = http
        .call(TestRequest::get("/who-blocking").header("x-request-id", "r<9>"))
        .await;
    assert_eq!(blocking.body["data"]["identity"], "Plug.who_blocking");
    assert_eq!(
        blocking.body["data"]["event_id"], "r9",
        "the id is sanitised"
    );
    let generated = http.call(TestRequest::get("/who")).await;
    let id = generated.header("x-request-id").unwrap();
    assert_eq!(id.len(), 36, "a uuid is generated: {id}");
    assert_eq!(generated.body["data"]["event_id"], Value::String(id));
}

#[tokio::test]
async fn a_blocking_handler_panic_is_500_too() {
    let http = common::http().await;
    http.route_blocking(Route::get("/bp"), &plug(), Plug::panic_blocking)
        .unwrap();
    let res = http.call(TestRequest::get("/bp")).await;
    assert_eq!(res.status, 500);
    assert_eq!(res.body["error"], "Internal server error");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let http = common::http().await;
    http.route(Route::get("/me"), &plug(), Plug::me).unwrap();
    for path in ["/me", "/nowhere", "/openapi.json"] {
        let res = http.call(TestRequest::get(path)).await;
        assert_eq!(
            res.header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            res.header("x-frame-options").as_deref(),
            Some("DENY"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_in_the_envelope() {
    let http = common::http_with(&[("HTTP_MAX_BODY_BYTES", "64")]).await;
    http.route(Route::post("/users"), &plug(), Plug::create)
        .unwrap();
    let big = json!({"name": "x".repeat(200), "email": "a@b.co", "age": 20});
    let res = http.call(TestRequest::post("/users").json(big)).await;
    assert_eq!(res.status, 413, "{}", res.text);
    assert_eq!(res.body["success"], false);
    assert!(
        res.body["error"]
            .as_str()
            .unwrap()
            .contains("HTTP_MAX_BODY_BYTES")
    );
}

#[tokio::test]
async fn the_context_sets_status_headers_cookies_redirects_and_binary_bodies() {
    let http = common::http().await;
    let p = plug();
    http.route(Route::get("/shaped"), &p, Plug::shaped).unwrap();
    http.route(Route::get("/go"), &p, Plug::go).unwrap();
    http.route(Route::get("/raw"), &p, Plug::raw).unwrap();
    http.route(Route::get("/bad-header"), &p, Plug::bad_header)
        .unwrap();
    let shaped = http.call(TestRequest::get("/shaped")).await;
    assert_eq!(shaped.status, 202);
    assert_eq!(shaped.header("x-custom").as_deref(), Some("yes"));
    let cookie = shaped.header("set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Secure") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let go = http.call(TestRequest::get("/go")).await;
    assert_eq!(
        (go.status, go.header("location").as_deref()),
        (302, Some("/elsewhere"))
    );
    let raw = http.call(TestRequest::get("/raw")).await;
    assert_eq!((raw.status, raw.bytes.as_slice()), (200, &b"raw-data"[..]));
    assert_eq!(raw.header("content-type").as_deref(), Some("text/plain"));
    let bad = http.call(TestRequest::get("/bad-header")).await;
    assert_eq!(
        bad.status, 500,
        "misusing the context is not silently dropped"
    );
}

struct NoInput;

impl NoInput {
    async fn ping(self: Arc<Self>, _: (), _: Ctx) -> HttpResult<&'static str> {
        Ok("pong")
    }
    fn ping_blocking(self: Arc<Self>, (): (), _: Ctx) -> HttpResult<&'static str> {
        Ok("pong")
    }
}

#[tokio::test]
async fn unit_is_a_request_type_that_takes_no_input_like_empty() {
    let http = common::http().await;
    let p = Arc::new(NoInput);
    http.route(Route::post("/ping"), &p, NoInput::ping).unwrap();
    http.route_blocking(Route::get("/ping-blocking"), &p, NoInput::ping_blocking)
        .unwrap();
    let res = http
        .call(TestRequest::post("/ping").json(json!({"ignored": 1})))
        .await;
    assert_eq!(
        res.body,
        json!({"success": true, "data": "pong"}),
        "{}",
        res.text
    );
    let res = http.call(TestRequest::get("/ping-blocking?x=1")).await;
    assert_eq!(res.body["data"], "pong", "{}", res.text);
    let doc = http.openapi();
    assert!(
        doc["paths"]["/ping"]["post"].get("requestBody").is_none(),
        "no input, nothing documented: {}",
        doc["paths"]["/ping"]
    );
}
