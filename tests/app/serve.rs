//! The example app over real HTTP on a loopback port, as a client sees it.

use crate::support;

use serde_json::{Value, json};

#[tokio::test]
async fn sign_up_log_in_and_see_yourself_over_real_http() {
    let db = support::TempDb::new("serve");
    let (running, base) = support::serve(&db).await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();

    let ping: Value = client
        .get(format!("{base}/ping"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ping,
        json!({"success": true, "data": {"status": "ok", "message": "pong"}})
    );

    let id = support::sign_up(&client, &base, "ana@example.com").await;
    let token = support::log_in(&client, &base, "ana@example.com").await;

    let me = client
        .get(format!("{base}/users/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(
        me["data"],
        json!({"id": id, "name": "Ana", "email": "ana@example.com"})
    );

    // The cookie alone works for a GET; a cookie-only DELETE without X-Requested-With is refused (CSRF).
    let by_cookie = client.get(format!("{base}/users/me")).send().await.unwrap();
    assert_eq!(by_cookie.status(), 200);
    let csrf = client
        .delete(format!("{base}/users/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(csrf.status(), 401);

    // Logout revokes the token: it stops working at once.
    let logout = client.post(format!("{base}/auth/logout"));
    assert_eq!(support::status_with(logout, &token).await, 200);
    let after = client.get(format!("{base}/users/me"));
    assert_eq!(support::status_with(after, &token).await, 401);

    // The welcome plugin, in another domain, reacted to user.created.
    let bus = running.tools().event_bus.get().unwrap().clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while bus.published_payloads("welcome.sent").is_empty() && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        bus.published_payloads("welcome.sent"),
        vec![json!({"user_id": id, "email": "ana@example.com"})]
    );

    support::stop(running).await;
}

#[tokio::test]
async fn openapi_describes_every_route_and_docs_work_offline() {
    let db = support::TempDb::new("docs");
    let (running, base) = support::serve(&db).await;
    let routes = running.tools().http.get().unwrap().routes();
    let spec: Value = reqwest::get(format!("{base}/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    for route in &routes {
        let op = &spec["paths"][&route.path][route.method.to_lowercase()];
        assert!(
            op.is_object(),
            "{} {} is missing from /openapi.json",
            route.method,
            route.path
        );
    }
    assert!(routes.len() >= 9, "ping + 8 users routes: {routes:?}");

    let docs = reqwest::get(format!("{base}/docs/")).await.unwrap();
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.to_lowercase().contains("swagger"), "{html}");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no CDN: /docs must work offline"
    );

    let missing = reqwest::get(format!("{base}/nope")).await.unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["success"], false);
    support::stop(running).await;
}
