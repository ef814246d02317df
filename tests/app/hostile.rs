//! Hostile and broken input over real HTTP: every answer is a clear 4xx in the
//! envelope, never a 500 or a stack trace, and the server keeps serving.

use crate::support;

use serde_json::{Value, json};

async fn send(client: &reqwest::Client, req: reqwest::RequestBuilder) -> (u16, String) {
    let _ = client;
    let res = req.send().await.expect("the server answers");
    let status = res.status().as_u16();
    (status, res.text().await.unwrap_or_default())
}

#[tokio::test]
async fn malformed_oversized_and_nonsense_requests_get_clear_errors() {
    let db = support::TempDb::new("hostile");
    let (running, base) = support::serve(&db).await;
    let c = reqwest::Client::new();
    let users = format!("{base}/users");

    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    let cases: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
        (
            "truncated JSON",
            c.post(&users)
                .header("content-type", "application/json")
                .body("{\"name\":"),
            400,
        ),
        (
            "invalid UTF-8",
            c.post(&users)
                .header("content-type", "application/json")
                .body(vec![0xff, 0xfe, 0x00]),
            400,
        ),
        (
            "deeply nested JSON",
            c.post(&users)
                .header("content-type", "application/json")
                .body(deep),
            400,
        ),
        (
            "a JSON array instead of an object",
            c.post(&users).json(&json!([1, 2, 3])),
            422,
        ),
        (
            "wrong field types",
            c.post(&users)
                .json(&json!({"name": 1, "email": [], "password": null})),
            422,
        ),
        (
            "a non-JSON content type",
            c.post(&users)
                .header("content-type", "text/plain")
                .body("hi"),
            415,
        ),
        (
            "a body over the limit",
            c.post(&users)
                .header("content-type", "application/json")
                .body(vec![b' '; 2 << 20]),
            413,
        ),
        (
            "a non-numeric id",
            c.get(format!("{base}/users/abc")).bearer_auth("x"),
            401,
        ),
        (
            "a forged token",
            c.get(format!("{base}/users/me"))
                .bearer_auth("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."),
            401,
        ),
        (
            "an unknown route",
            c.get(format!("{base}/../../etc/passwd")),
            404,
        ),
        ("a wrong method", c.patch(format!("{base}/ping")), 405),
        (
            "a huge query string",
            c.get(format!("{base}/ping?{}", "a=b&".repeat(2000))),
            200,
        ),
    ];
    for (what, req, expected) in cases {
        let (status, body) = send(&c, req).await;
        assert_eq!(status, expected, "{what}: {body}");
        if status != 200 {
            let parsed: Value = serde_json::from_str(&body)
                .unwrap_or_else(|_| panic!("{what}: not the envelope: {body}"));
            assert_eq!(parsed["success"], false, "{what}: {body}");
            assert!(
                parsed["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{what}: {body}"
            );
            for leak in ["panicked", "src/", "sqlx", "SQLITE", "stack backtrace"] {
                assert!(
                    !body.contains(leak),
                    "{what} leaks internals ({leak}): {body}"
                );
            }
        }
    }
    let ping = c.get(format!("{base}/ping")).send().await.unwrap();
    assert_eq!(ping.status(), 200, "still serving after all of that");
    support::stop(running).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sign_ups_lose_nothing_and_duplicates_are_409() {
    let db = support::TempDb::new("load");
    let (running, base) = support::serve(&db).await;
    let c = reqwest::Client::new();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (c, base) = (c.clone(), base.clone());
        // Every email twice: exactly one of each pair must win.
        let email = format!("user{}@example.com", i % 20);
        tasks.push(tokio::spawn(async move {
            let res = c
                .post(format!("{base}/users"))
                .json(&json!({"name": "U", "email": email, "password": "correct horse"}))
                .send()
                .await
                .unwrap();
            res.status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        20,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        20,
        "{statuses:?}"
    );
    let db_tool = running.tools().db.get().unwrap().clone();
    let rows: Vec<Value> = db_tool
        .query("SELECT id FROM users", microcore::params![])
        .await
        .unwrap();
    assert_eq!(rows.len(), 20);
    support::stop(running).await;
}
