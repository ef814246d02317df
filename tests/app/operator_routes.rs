//! The `/system/*` routes over real HTTP: they show what the app does (which
//! plugin published and handled what, dead letters with their payloads) and
//! can replay events, so in production they answer only to
//! `HTTP_OPERATOR_TOKEN` and are closed without it; `/health/*` stays open
//! for orchestrators.

use crate::support;

const OPERATOR: &str = "an-operator-token-of-32-bytes-or-more-0001";

async fn get(client: &reqwest::Client, url: &str, token: Option<&str>) -> (u16, String) {
    let mut req = client.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("the server answers");
    (res.status().as_u16(), res.text().await.unwrap_or_default())
}

#[tokio::test]
async fn in_production_system_routes_are_closed_without_an_operator_token() {
    let db = support::TempDb::new("operator-closed");
    let (running, base) =
        support::serve_with(&[("DATABASE_URL", &db.url()), ("MICROCORE_ENV", "production")]).await;
    let c = reqwest::Client::new();
    support::sign_up(&c, &base, "ana@example.com").await;
    for path in [
        "/system/traces/tree",
        "/system/events",
        "/system/dead-letters",
        "/system/status",
    ] {
        let (status, body) = get(&c, &format!("{base}{path}"), None).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains("HTTP_OPERATOR_TOKEN"), "{path}: {body}");
        assert!(!body.contains("ana@example.com"), "{path} leaks: {body}");
    }
    let (live, _) = get(&c, &format!("{base}/health/live"), None).await;
    assert_eq!(live, 200);
    support::stop(running).await;
}

#[tokio::test]
async fn with_an_operator_token_only_the_operator_reads_the_event_traces() {
    let db = support::TempDb::new("operator-token");
    let (running, base) = support::serve_with(&[
        ("DATABASE_URL", &db.url()),
        ("MICROCORE_ENV", "production"),
        ("HTTP_OPERATOR_TOKEN", OPERATOR),
    ])
    .await;
    let c = reqwest::Client::new();
    support::sign_up(&c, &base, "bo@example.com").await;
    let user_token = support::log_in(&c, &base, "bo@example.com").await;
    let url = format!("{base}/system/traces/tree");
    for token in [None, Some(user_token.as_str())] {
        let (status, body) = get(&c, &url, token).await;
        assert_eq!(status, 401, "{body}");
        assert!(!body.contains("bo@example.com"), "leaks: {body}");
    }
    // The outbox relay publishes `user.created` just after the sign-up commits.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, body) = get(&c, &url, Some(OPERATOR)).await;
        assert_eq!(status, 200, "{body}");
        if body.contains("users.CreateUser.create") && body.contains("user.created") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the operator never saw user.created: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    support::stop(running).await;
}
