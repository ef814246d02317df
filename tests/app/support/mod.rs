//! Shared helpers for the app's integration tests.

#![allow(dead_code)]

pub(crate) mod wire;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use microcore::Running;
use microcore_app::Tools;

#[path = "../../common/app.rs"]
mod app;

pub(crate) use app::{TempDb, stop};

/// Boots the whole example app for real: SQLite file, HTTP on a free loopback port.
pub(crate) async fn serve(db: &TempDb) -> (Running<Tools>, String) {
    serve_with(&[("DATABASE_URL", &db.url())]).await
}

/// Boots the whole example app on a free loopback port with these settings.
pub(crate) async fn serve_with(settings: &[(&str, &str)]) -> (Running<Tools>, String) {
    app::serve_app(None, settings).await
}

/// True when a TCP service answers on 127.0.0.1:`port`. Under `CI=true` an
/// absent service fails the test; elsewhere the caller skips with the reason.
pub(crate) fn service_up(name: &str, port: u16) -> bool {
    if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{name} is required under CI=true (127.0.0.1:{port}); run bash .ci/services.sh");
    }
    eprintln!(
        "skipping: {name} is not running on 127.0.0.1:{port} (bash .ci/services.sh starts it)"
    );
    false
}

/// Signs `email` up (password `correct horse`) and returns the new id.
pub(crate) async fn sign_up(client: &reqwest::Client, base: &str, email: &str) -> i64 {
    let res = client
        .post(format!("{base}/users"))
        .json(&serde_json::json!({"name": "Ana", "email": email, "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "sign-up of {email}");
    let body: serde_json::Value = res.json().await.unwrap();
    body["data"]["id"].as_i64().expect("the new user's id")
}

/// Logs `email` in (password `correct horse`) and returns the access token.
pub(crate) async fn log_in(client: &reqwest::Client, base: &str, email: &str) -> String {
    let res = client
        .post(format!("{base}/auth/login"))
        .json(&serde_json::json!({"email": email, "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "login of {email}");
    let body: serde_json::Value = res.json().await.unwrap();
    body["data"]["access_token"]
        .as_str()
        .expect("a token")
        .to_owned()
}

/// The status of a request sent with `token` as bearer.
pub(crate) async fn status_with(req: reqwest::RequestBuilder, token: &str) -> u16 {
    req.bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A free loopback port (free when asked; the app binds it soon after).
///
/// Drawn below the kernel's ephemeral range (32768-60999 on Linux): a port
/// the OS hands out for `:0` is one the in-process apps of other tests also
/// get from it, so between this call and the child's bind another test's
/// server could take it and answer in the child's place.
pub(crate) fn free_port() -> u16 {
    loop {
        let port = 20_000 + (uuid::Uuid::new_v4().as_u128() % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The app binary on `port` and `db`, with an otherwise empty environment.
pub(crate) fn app(port: u16, db: &TempDb) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_microcore-app"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HTTP_PORT", port.to_string())
        .env("DATABASE_URL", db.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Waits (up to 20 s) until something accepts connections on `port`.
pub(crate) fn wait_until_serving(port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// The PostgreSQL server the fleet tests use.
pub(crate) const PG: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A fresh PostgreSQL schema named `<prefix>_<uuid>` for one test's replicas:
/// an admin connection (to inspect and finally `DROP SCHEMA .. CASCADE`), the
/// schema's name and the `DATABASE_URL` that selects it.
pub(crate) async fn fresh_pg_schema(prefix: &str) -> (microcore::tools::db::Db, String, String) {
    use microcore::tools::db::{Db, Sql};
    let tag = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let admin = Db::connect(PG)
        .await
        .expect("PostgreSQL accepts connections");
    admin
        .execute(
            Sql::trusted(format!("CREATE SCHEMA {tag}")),
            microcore::params![],
        )
        .await
        .unwrap();
    let url = format!("{PG}?options[search_path]={tag}");
    (admin, tag, url)
}
