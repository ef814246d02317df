//! A write and the event that announces it are never separated: sign-ups
//! store `user.created` in their own transaction (the outbox), and a relay
//! publishes it afterwards. Proven with real processes: a replica killed
//! with SIGKILL right after the commit, a replica stopped with SIGTERM in the
//! middle of a burst of sign-ups, and a bus that is down, then up again.

use crate::support;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use microcore::params;
use microcore::tools::db::{Db, Sql};

/// The app's binary on `port` with these settings and nothing else.
/// The app binary on a port the OS picks, and that port, read from the
/// child's own boot report ("listening on http://127.0.0.1:N"): a port
/// chosen beforehand can be taken by another test's server in between, and
/// the test would then talk to that one.
fn spawn_app(settings: &[(&str, &str)]) -> (Child, u16) {
    use std::io::{BufRead, BufReader};
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_microcore-app"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HTTP_HOST", "127.0.0.1")
        .env("HTTP_PORT", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in settings {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the app binary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let (found, port) = std::sync::mpsc::channel();
    // Reads the report, then keeps draining so the child never blocks on a
    // full pipe.
    std::thread::spawn(move || {
        let mut found = Some(found);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on http://127.0.0.1:").nth(1) {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                if let (Some(tx), Ok(port)) = (found.take(), digits.parse::<u16>()) {
                    let _ = tx.send(port);
                }
            }
        }
    });
    let port = port
        .recv_timeout(Duration::from_secs(30))
        .expect("the app reports the port it listens on within 30 s");
    (child, port)
}

/// Signs `email` up and returns the status and, on 201, the new id.
async fn try_sign_up(http: &reqwest::Client, base: &str, email: &str) -> Option<(u16, i64)> {
    let res = http
        .post(format!("{base}/users"))
        .json(&serde_json::json!({"name": "Ana", "email": email, "password": "correct horse"}))
        .send()
        .await
        .ok()?;
    let status = res.status().as_u16();
    let body: serde_json::Value = res.json().await.unwrap_or_default();
    Some((status, body["data"]["id"].as_i64().unwrap_or(0)))
}

async fn pending(db: &Db) -> i64 {
    db.outbox().pending().await.expect("the outbox can be read")
}

/// Waits up to `limit` for `done`, polling.
async fn eventually(limit: Duration, mut done: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done().await
}

fn welcomed(running: &microcore::Running<microcore_app::Tools>) -> Vec<i64> {
    running
        .tools()
        .event_bus
        .get()
        .unwrap()
        .published_payloads("welcome.sent")
        .iter()
        .filter_map(|p| p["user_id"].as_i64())
        .collect()
}

/// Replica A commits a sign-up and is killed before its relay publishes
/// (`DB_OUTBOX_RELAY=false` holds it back); the user still gets a welcome
/// once, from the replica that starts next on the same database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_up_committed_before_a_kill_9_is_still_announced_once() {
    let file = support::TempDb::new("outbox-kill");
    let url = file.url();
    let (mut a, port) = spawn_app(&[("DATABASE_URL", url.as_str()), ("DB_OUTBOX_RELAY", "false")]);
    let http = reqwest::Client::new();
    let signed = try_sign_up(
        &http,
        &format!("http://127.0.0.1:{port}"),
        "ana@example.com",
    )
    .await;
    a.kill().expect("SIGKILL");
    let _ = a.wait();
    let (status, id) = signed.expect("replica A answered");
    assert_eq!(status, 201);
    let db = Db::connect(&url).await.unwrap();
    assert_eq!(
        pending(&db).await,
        1,
        "the event was committed with the user"
    );

    let (b, _) =
        support::serve_with(&[("DATABASE_URL", url.as_str()), ("DB_OUTBOX_POLL_MS", "50")]).await;
    assert!(
        eventually(Duration::from_secs(10), async || welcomed(&b) == vec![id]).await,
        "the user left behind by the killed replica is welcomed: {:?}",
        welcomed(&b)
    );
    // The relay deletes a row once its publish returned, so the welcome can
    // be seen a moment before the delete commits.
    assert!(
        eventually(Duration::from_secs(5), async || pending(&db).await == 0).await,
        "sent rows are deleted"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(welcomed(&b), vec![id], "exactly once");
    support::stop(b).await;
    db.close().await;
}

/// A NATS server with JetStream of the test's own, on a fixed port and
/// store, that the test stops and starts again.
struct OwnNats {
    child: Option<Child>,
    port: u16,
    store: std::path::PathBuf,
}

impl OwnNats {
    fn start() -> Option<Self> {
        let store = std::env::temp_dir().join(format!("mc-outbox-js-{}", uuid::Uuid::new_v4()));
        let mut server = Self {
            child: None,
            port: support::free_port(),
            store,
        };
        server.up().then_some(server)
    }

    fn up(&mut self) -> bool {
        let bin =
            std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "/usr/sbin/nats-server".into());
        let spawned = Command::new(&bin)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match spawned {
            Ok(child) => self.child = Some(child),
            Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("nats-server is required under CI=true (set NATS_SERVER_BIN): {e}")
            }
            Err(e) => {
                eprintln!("skipping: cannot start nats-server ({e}); set NATS_SERVER_BIN");
                return false;
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnNats {
    fn drop(&mut self) {
        self.down();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

/// The bus goes down: sign-ups still succeed, their events wait in the
/// outbox and are retried; when the bus is back, each is published once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_wait_out_a_bus_outage_and_are_published_once_it_is_back() {
    let Some(mut nats) = OwnNats::start() else {
        return;
    };
    let file = support::TempDb::new("outbox-outage");
    let url = file.url();
    let nats_url = nats.url();
    let (app, base) = support::serve_with(&[
        ("DATABASE_URL", url.as_str()),
        ("EVENT_BUS_DRIVER", "jetstream"),
        ("NATS_URL", nats_url.as_str()),
        ("DB_OUTBOX_POLL_MS", "50"),
    ])
    .await;
    let db = app.tools().db.get().unwrap().clone();
    let http = reqwest::Client::new();

    nats.down();
    let (status, id) = try_sign_up(&http, &base, "ana@example.com")
        .await
        .expect("the app answers");
    assert_eq!(status, 201, "a sign-up does not need the bus");
    let tried = eventually(Duration::from_secs(30), async || {
        let rows: Vec<serde_json::Value> = db
            .query("SELECT attempts, last_error FROM _outbox", params![])
            .await
            .unwrap();
        rows.first().is_some_and(|r| !r["last_error"].is_null())
    })
    .await;
    assert!(tried, "the relay tried, failed and kept the event");
    assert!(welcomed(&app).is_empty());

    assert!(nats.up(), "nats-server restarts");
    assert!(
        eventually(Duration::from_secs(60), async || welcomed(&app) == vec![id]).await,
        "published once the bus is back: {:?}",
        welcomed(&app)
    );
    // A publish the client buffered while the server was away may land
    // before the relay's next retry, which JetStream then takes for the
    // duplicate it is (same id); either way the row goes.
    assert!(
        eventually(Duration::from_secs(60), async || pending(&db).await == 0).await,
        "the row is deleted once sent"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(welcomed(&app), vec![id], "exactly once");
    support::stop(app).await;
}

/// Two replicas share PostgreSQL and JetStream; replica A gets SIGTERM in the
/// middle of a burst of sign-ups. No sign-up that saved a user answers 500,
/// and every saved user is welcomed exactly once across the fleet.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_in_a_burst_of_sign_ups_loses_no_welcome_and_answers_no_500() {
    if !(support::service_up("PostgreSQL", 5432) && support::service_up("NATS", 4222)) {
        return;
    }
    let (admin, tag, url) = support::fresh_pg_schema("mc_outbox").await;
    let prefix = format!("{tag}.");
    let settings = [
        ("DATABASE_URL", url.as_str()),
        ("EVENT_BUS_DRIVER", "jetstream"),
        ("EVENT_BUS_NATS_PREFIX", prefix.as_str()),
        ("DB_OUTBOX_POLL_MS", "100"),
        ("DB_OUTBOX_LEASE_MS", "3000"),
    ];
    let (a, port_a) = spawn_app(&settings);
    let mut replica = settings.to_vec();
    replica.push(("DB_AUTO_MIGRATE", "false"));
    let (mut b, port_b) = spawn_app(&replica);

    let http = reqwest::Client::new();
    let mut burst = Vec::new();
    for n in 0..60u64 {
        let http = http.clone();
        let port = if n % 2 == 0 { port_a } else { port_b };
        let email = format!("u{n}.{tag}@example.com");
        burst.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(n * 5)).await;
            (
                port,
                try_sign_up(&http, &format!("http://127.0.0.1:{port}"), &email).await,
            )
        }));
    }
    tokio::time::sleep(Duration::from_millis(250)).await;
    let term = Command::new("kill")
        .args(["-TERM", &a.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let mut answers = Vec::new();
    for task in burst {
        answers.push(task.await.unwrap());
    }
    let a_exit = tokio::task::spawn_blocking(move || a.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(a_exit.status.success(), "A stops gracefully: {a_exit:?}");

    let failed: Vec<_> = answers
        .iter()
        .filter(|(_, a)| a.is_some_and(|(status, _)| status >= 500))
        .collect();
    assert!(failed.is_empty(), "no sign-up answers 5xx: {failed:?}");
    let on_a = answers
        .iter()
        .filter(|(p, a)| *p == port_a && a.is_some_and(|(s, _)| s == 201))
        .count();
    assert!(
        on_a > 0,
        "the burst reached A before it stopped: {answers:?}"
    );

    let db = Db::connect(&url).await.unwrap();
    let saved: Vec<serde_json::Value> = db
        .query("SELECT id FROM users ORDER BY id", params![])
        .await
        .unwrap();
    let saved: Vec<i64> = saved.iter().filter_map(|r| r["id"].as_i64()).collect();
    for (_, answer) in &answers {
        if let Some((201, id)) = answer {
            assert!(saved.contains(id), "a 201 means the user {id} is saved");
        }
    }
    let stream = format!("MICROCORE_{}", tag.to_ascii_uppercase());
    let mut welcomes = BTreeMap::new();
    let all_welcomed = eventually(Duration::from_secs(30), async || {
        welcomes = welcomes_in(&stream).await;
        pending(&db).await == 0 && saved.iter().all(|id| welcomes.contains_key(id))
    })
    .await;
    assert!(
        all_welcomed,
        "every saved user is welcomed: saved {saved:?}, welcomed {welcomes:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let welcomes = welcomes_in(&stream).await;
    let twice: Vec<_> = welcomes.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "exactly one welcome per user: {twice:?}");
    assert_eq!(welcomes.len(), saved.len());

    let _ = b.kill();
    let _ = b.wait();
    db.close().await;
    admin
        .execute(
            Sql::trusted(format!("DROP SCHEMA {tag} CASCADE")),
            params![],
        )
        .await
        .unwrap();
    admin.close().await;
    let client = async_nats::connect("nats://127.0.0.1:4222").await.unwrap();
    let _ = async_nats::jetstream::new(client)
        .delete_stream(&stream)
        .await;
}

/// `welcome.sent` messages in the stream, counted per user id.
async fn welcomes_in(stream: &str) -> BTreeMap<i64, u32> {
    let client = async_nats::connect("nats://127.0.0.1:4222").await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut counts = BTreeMap::new();
    let Ok(mut stream) = js.get_stream(stream).await else {
        return counts;
    };
    let last = stream
        .info()
        .await
        .map(|i| i.state.last_sequence)
        .unwrap_or(0);
    for seq in 1..=last {
        let Ok(message) = stream.get_raw_message(seq).await else {
            continue;
        };
        let envelope: serde_json::Value =
            serde_json::from_slice(&message.payload).unwrap_or_default();
        if envelope["event"] == "welcome.sent"
            && let Some(id) = envelope["payload"]["user_id"].as_i64()
        {
            *counts.entry(id).or_default() += 1;
        }
    }
    counts
}
