//! The chaos controls over real HTTP on a loopback port: absent unless
//! `CHAOS_ENABLED=true`, refused in production, and injected faults meet the
//! same DEAD/recovery policy as a real outage (`/system/status` shows it).

use std::time::{Duration, Instant};

use microcore::{Env, KernelSettings};
use microcore_kernel::DEAD_THRESHOLD;
use serde_json::{Value, json};

use crate::support;

/// The app with the chaos controls on. The outbox relay is off so that the
/// only db calls are the requests' (a background poll would count too).
async fn chaos_app() -> (
    microcore::Running<microcore_app::Tools>,
    String,
    support::TempDb,
) {
    let db = support::TempDb::new("chaos");
    let (running, base) = support::serve_with(&[
        ("DATABASE_URL", &db.url()),
        ("CHAOS_ENABLED", "true"),
        ("DB_OUTBOX_RELAY", "false"),
    ])
    .await;
    (running, base, db)
}

async fn post(base: &str, path: &str, body: Value) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

async fn get(base: &str, path: &str) -> (u16, Value) {
    let res = reqwest::get(format!("{base}{path}")).await.unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

/// `db`'s entry in `/system/status`.
async fn db_status(base: &str) -> Value {
    let (_, body) = get(base, "/system/status").await;
    let tools = body["data"]["tools"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    tools.into_iter().find(|t| t["name"] == "db").unwrap()
}

/// `POST /users` (a db write by `users.CreateUser`), returning the status.
async fn sign_up(base: &str, n: u32) -> u16 {
    let user =
        json!({"name": "Ana", "email": format!("ana{n}@example.com"), "password": "correct horse"});
    post(base, "/users", user).await.0
}

#[tokio::test]
async fn without_chaos_enabled_the_endpoints_do_not_exist() {
    let db = support::TempDb::new("chaos-off");
    let (running, base) = support::serve(&db).await;
    assert_eq!(get(&base, "/system/chaos").await.0, 404);
    let (status, _) = post(
        &base,
        "/system/chaos/tool",
        json!({"name": "db", "mode": "down"}),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(get(&base, "/system/status").await.0, 200);
    support::stop(running).await;
}

#[test]
fn production_refuses_chaos_naming_the_setting() {
    let env = Env::from_pairs([("CHAOS_ENABLED", "true"), ("MICROCORE_ENV", "production")]);
    let errors = KernelSettings::from_env(&env).unwrap_err();
    assert!(
        errors.iter().any(|e| e.contains("CHAOS_ENABLED")),
        "{errors:?}"
    );
}

#[test]
fn the_binary_refuses_to_boot_with_chaos_in_production() {
    let db = support::TempDb::new("chaos-prod");
    let out = support::app(support::free_port(), &db)
        .env("CHAOS_ENABLED", "true")
        .env("MICROCORE_ENV", "production")
        .env(
            "AUTH_SECRET_KEY",
            "a-production-secret-of-at-least-32-bytes!",
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("MicroCore cannot serve") && stderr.contains("CHAOS_ENABLED=true"),
        "{stderr}"
    );
}

#[tokio::test]
async fn down_is_dead_at_once_flaky_after_the_threshold_and_off_recovers() {
    let (running, base, _db) = chaos_app().await;
    let bus = running.tools().event_bus.get().unwrap().clone();

    let (status, body) = post(
        &base,
        "/system/chaos/tool",
        json!({"name": "db", "mode": "down"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["tools"],
        json!([{"tool": "db", "mode": "down"}])
    );
    assert_eq!(sign_up(&base, 1).await, 500, "the next db call fails");
    let db = db_status(&base).await;
    assert_eq!(db["status"], "DEAD", "{db}");
    assert!(
        db["message"].as_str().unwrap().contains("unavailable"),
        "{db}"
    );

    post(
        &base,
        "/system/chaos/tool",
        json!({"name": "db", "mode": "off"}),
    )
    .await;
    assert_eq!(sign_up(&base, 2).await, 201);
    assert_eq!(db_status(&base).await["status"], "OK");
    assert_eq!(db_status(&base).await["message"], "Recovered");

    let flaky = json!({"name": "db", "mode": "flaky", "rate": 1.0});
    assert_eq!(post(&base, "/system/chaos/tool", flaky).await.0, 200);
    for n in 1..DEAD_THRESHOLD {
        assert_eq!(sign_up(&base, 10 + n).await, 500);
        assert_eq!(db_status(&base).await["status"], "OK", "after {n} failures");
    }
    assert_eq!(sign_up(&base, 99).await, 500);
    let db = db_status(&base).await;
    assert_eq!(db["status"], "DEAD", "{db}");
    assert!(
        db["message"]
            .as_str()
            .unwrap()
            .contains(&format!("{DEAD_THRESHOLD} consecutive")),
        "{db}"
    );

    post(
        &base,
        "/system/chaos/tool",
        json!({"name": "db", "mode": "off"}),
    )
    .await;
    assert_eq!(sign_up(&base, 100).await, 201);
    assert_eq!(db_status(&base).await["message"], "Recovered");

    let armed = bus.published_payloads("system.chaos.tool_fault_armed");
    let modes: Vec<&str> = armed.iter().map(|p| p["mode"].as_str().unwrap()).collect();
    assert_eq!(modes, ["down", "off", "flaky", "off"]);
    assert_eq!(armed[2]["rate"], 1.0);
    support::stop(running).await;
}

#[tokio::test]
async fn a_caller_fault_fails_only_that_plugins_calls_and_latency_delays_them() {
    let (running, base, _db) = chaos_app().await;
    let bus = running.tools().event_bus.get().unwrap().clone();
    assert_eq!(sign_up(&base, 1).await, 201);

    let fail = json!({"plugin": "users.CreateUser", "tool": "db", "rate": 1.0});
    assert_eq!(post(&base, "/system/chaos/fail", fail).await.0, 200);
    assert_eq!(
        sign_up(&base, 2).await,
        500,
        "users.CreateUser's db call fails"
    );
    let login = json!({"email": "ana1@example.com", "password": "correct horse"});
    let (status, body) = post(&base, "/auth/login", login).await;
    assert_eq!(status, 200, "users.Login's db calls are untouched: {body}");
    assert_eq!(
        bus.published_payloads("system.chaos.fail_armed"),
        [json!({"plugin": "users.CreateUser", "tool": "db", "rate": 1.0})]
    );

    assert_eq!(post(&base, "/system/chaos/reset", json!({})).await.0, 200);
    assert_eq!(sign_up(&base, 3).await, 201, "reset lifts it");
    assert_eq!(bus.published_payloads("system.chaos.reset").len(), 1);

    let delay = 0.3;
    let latency = json!({"plugin": "users", "tool": "db", "seconds": delay});
    assert_eq!(post(&base, "/system/chaos/latency", latency).await.0, 200);
    let started = Instant::now();
    assert_eq!(sign_up(&base, 4).await, 201);
    assert!(
        started.elapsed() >= Duration::from_secs_f64(delay),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        bus.published_payloads("system.chaos.latency_armed").len(),
        1
    );
    let (_, shown) = get(&base, "/system/chaos").await;
    assert_eq!(
        shown["data"]["latency"],
        json!([{"plugin": "users", "tool": "db", "seconds": delay}])
    );
    support::stop(running).await;
}

#[tokio::test]
async fn a_paused_domain_answers_503_until_resumed_and_reset_restores_all() {
    let (running, base, _db) = chaos_app().await;
    let bus = running.tools().event_bus.get().unwrap().clone();

    assert_eq!(
        post(&base, "/system/chaos/off", json!({"plugin": "ping"}))
            .await
            .0,
        200
    );
    let res = reqwest::get(format!("{base}/ping")).await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "5");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert!(
        body["error"].as_str().unwrap().ends_with("(paused)"),
        "{body}"
    );
    assert_eq!(
        get(&base, "/system/status").await.0,
        200,
        "other domains serve"
    );

    assert_eq!(
        post(&base, "/system/chaos/on", json!({"plugin": "ping"}))
            .await
            .0,
        200
    );
    assert_eq!(get(&base, "/ping").await.0, 200);

    post(&base, "/system/chaos/off", json!({"plugin": "ping.Ping"})).await;
    post(
        &base,
        "/system/chaos/tool",
        json!({"name": "state", "mode": "slow", "seconds": 1}),
    )
    .await;
    assert_eq!(get(&base, "/ping").await.0, 503);
    let (status, body) = post(&base, "/system/chaos/reset", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        (&body["data"]["paused"], &body["data"]["tools"]),
        (&json!([]), &json!([]))
    );
    assert_eq!(get(&base, "/ping").await.0, 200);
    assert_eq!(
        bus.published_payloads("system.chaos.plugin_paused").len(),
        2
    );
    assert_eq!(
        bus.published_payloads("system.chaos.plugin_resumed"),
        [json!({"plugin": "ping"})]
    );
    assert_eq!(
        bus.published_payloads("system.chaos.reset"),
        [json!({"resumed": ["ping.Ping"]})]
    );
    support::stop(running).await;
}

#[tokio::test]
async fn bad_input_is_a_422_naming_the_field_never_a_500() {
    let (running, base, _db) = chaos_app().await;
    let cases = [
        (
            "/system/chaos/tool",
            json!({"name": "dbx", "mode": "down"}),
            "name",
        ),
        (
            "/system/chaos/tool",
            json!({"name": "db", "mode": "melt"}),
            "mode",
        ),
        (
            "/system/chaos/tool",
            json!({"name": "db", "mode": "flaky", "rate": 1.5}),
            "rate",
        ),
        (
            "/system/chaos/tool",
            json!({"name": "db", "mode": "slow", "seconds": -1}),
            "seconds",
        ),
        (
            "/system/chaos/tool",
            json!({"name": "logger", "mode": "down"}),
            "name",
        ),
        (
            "/system/chaos/fail",
            json!({"plugin": "nobody.Nothing", "rate": 1.0}),
            "plugin",
        ),
        (
            "/system/chaos/fail",
            json!({"plugin": "users", "rate": -0.1}),
            "rate",
        ),
        (
            "/system/chaos/latency",
            json!({"tool": "dbx", "seconds": 1}),
            "tool",
        ),
        ("/system/chaos/off", json!({"plugin": "nobody"}), "plugin"),
        ("/system/chaos/off", json!({"plugin": "system"}), "plugin"),
        ("/system/chaos/on", json!({"plugin": "ping"}), "plugin"),
    ];
    for (path, body, field) in cases {
        let (status, answer) = post(&base, path, body.clone()).await;
        assert_eq!(status, 422, "{path} {body}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(
            error.contains(field),
            "{path} {body}: `{error}` names `{field}`"
        );
    }
    let (_, shown) = get(&base, "/system/chaos").await;
    assert_eq!(shown["data"]["tools"], json!([]), "nothing was armed");
    assert_eq!(shown["data"]["paused"], json!([]));
    support::stop(running).await;
}
