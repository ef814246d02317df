//! Static mounts: allowlist, dotfiles, index pages, never shadowing the API.

use crate::common;

use std::sync::Arc;

use microcore_http::{Ctx, Empty, HttpResult, Route, RouteError, StaticOptions, TestRequest};

struct Plug;

impl Plug {
    async fn api(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<&'static str> {
        Ok("api")
    }
}

fn site() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("microcore-http-static-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join(".well-known")).unwrap();
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>home</h1>").unwrap();
    std::fs::write(dir.join("app.js"), "console.log(1)").unwrap();
    std::fs::write(dir.join("secret.env"), "KEY=1").unwrap();
    std::fs::write(dir.join(".env"), "KEY=1").unwrap();
    std::fs::write(dir.join("sub/.hidden.txt"), "no").unwrap();
    std::fs::write(dir.join(".well-known/security.txt"), "contact").unwrap();
    dir
}

#[tokio::test]
async fn allowed_files_are_served_and_blocked_ones_look_missing() {
    let http = common::http().await;
    let dir = site();
    http.mount_static("/", &dir, StaticOptions::new().html(true))
        .unwrap();
    http.route(Route::get("/api"), &Arc::new(Plug), Plug::api)
        .unwrap();
    let js = http.call(TestRequest::get("/app.js")).await;
    assert_eq!((js.status, js.text.as_str()), (200, "console.log(1)"));
    assert!(js.header("content-type").unwrap().contains("javascript"));
    assert_eq!(http.call(TestRequest::get("/")).await.text, "<h1>home</h1>");
    assert_eq!(
        http.call(TestRequest::get("/.well-known/security.txt"))
            .await
            .status,
        200
    );
    let missing = http.call(TestRequest::get("/nope.js")).await;
    for blocked in [
        "/secret.env",
        "/.env",
        "/sub/.hidden.txt",
        "/sub/../.env",
        "/%2e%2e/etc/passwd",
    ] {
        let res = http.call(TestRequest::get(blocked)).await;
        assert_eq!(res.status, 404, "{blocked}");
        assert_eq!(res.body["success"], missing.body["success"], "{blocked}");
    }
    assert_eq!(
        http.call(TestRequest::get("/api")).await.body["data"],
        "api",
        "a mount at / never shadows a route"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn a_chosen_allowlist_replaces_the_default_and_a_missing_dir_is_an_error() {
    let http = common::http().await;
    let dir = site();
    http.mount_static("/files", &dir, StaticOptions::new().extensions(["env"]))
        .unwrap();
    assert_eq!(
        http.call(TestRequest::get("/files/secret.env"))
            .await
            .status,
        200
    );
    assert_eq!(
        http.call(TestRequest::get("/files/app.js")).await.status,
        404
    );
    assert_eq!(
        http.call(TestRequest::get("/files/")).await.status,
        404,
        "no index without html(true)"
    );
    let err = http
        .mount_static("/x", dir.join("absent"), StaticOptions::new())
        .unwrap_err();
    assert!(
        matches!(err, RouteError::StaticDir { .. }) && err.to_string().contains("absent"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).ok();
}
