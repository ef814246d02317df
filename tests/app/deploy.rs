//! Zero lost requests on deploy: SIGTERM while 32 keep-alive connections
//! drive the real binary as fast as it answers, sign-ups run and uploads
//! are half sent. Every request the server read gets a whole response, the
//! only failures are the kinds a client can safely retry, and the process
//! exits 0 within `SHUTDOWN_GRACE_SECS`.
//!
//! Two ledgers are compared: the client's (raw TCP, `support::wire`, which
//! tells a connection closed before any response byte from a response cut
//! short) and the server's access log, written before a response is sent.
//! Each request the server logged must have reached the client whole, with
//! the same status, and no request the client saw unanswered was logged.
//!
//! Bus deliveries in flight at SIGTERM are proven where the bus is:
//! `crates/tools/event-bus/tests/parity/drain.rs` (on every driver, a running
//! delivery finishes, even publishing its follow-up, before the drain
//! returns) and `parity/handover.rs` (JetStream hands back what it has not
//! started, to another replica, and finishes the rest).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::support::wire::{self, Cut};
use crate::support::{self, app, free_port, wait_until_serving};

/// Keep-alive connections looping on `GET /ping` and the authenticated read.
const READERS: usize = 32;
/// Connections looping on `POST /users` (argon2id, a SQLite write, an outbox row).
const SIGN_UPS: usize = 2;
/// Uploads whose body is half sent at SIGTERM and finished after it.
const UPLOADS: usize = 4;
const GRACE_SECS: u64 = 5;
/// Full load before the signal.
const LOAD: Duration = Duration::from_millis(1500);
/// No exchange may take longer: a hang is a defect, not a slow answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// What one kind of request asks and what its answer must be.
#[derive(Clone, Copy)]
enum Kind {
    Ping,
    ReadUser,
    SignUp,
}

/// The signed-in user the authenticated reads use.
#[derive(Clone)]
struct Account {
    id: i64,
    token: String,
}

impl Kind {
    fn request(self, id: &str, account: &Account) -> Vec<u8> {
        let common = format!("Host: 127.0.0.1\r\nx-request-id: {id}\r\n");
        match self {
            Kind::Ping => format!("GET /ping HTTP/1.1\r\n{common}\r\n").into_bytes(),
            Kind::ReadUser => format!(
                "GET /users/{} HTTP/1.1\r\n{common}authorization: Bearer {}\r\n\r\n",
                account.id, account.token
            )
            .into_bytes(),
            Kind::SignUp => {
                let body = sign_up_body(id);
                format!(
                    "POST /users HTTP/1.1\r\n{common}content-type: application/json\r\n\
                     content-length: {}\r\n\r\n{body}",
                    body.len()
                )
                .into_bytes()
            }
        }
    }

    /// The answer is the right one, not just any whole response.
    fn check(self, answer: &wire::Answer, account: &Account) -> Result<(), String> {
        let expected = if matches!(self, Kind::SignUp) {
            201
        } else {
            200
        };
        let body: serde_json::Value = serde_json::from_slice(&answer.body)
            .map_err(|e| format!("status {}, body not JSON ({e})", answer.status))?;
        let right = answer.status == expected
            && match self {
                Kind::Ping => body["data"]["message"] == "pong",
                Kind::ReadUser => body["data"]["id"] == account.id,
                Kind::SignUp => body["data"]["id"].is_i64(),
            };
        if right {
            Ok(())
        } else {
            Err(format!("status {}, body {body}", answer.status))
        }
    }
}

fn sign_up_body(id: &str) -> String {
    serde_json::json!({"name": "Load", "email": format!("{id}@example.com"), "password": "correct horse"})
        .to_string()
}

/// One client's view: what it sent and what became of it.
#[derive(Default)]
struct Ledger {
    /// Requests written (or attempted) on a connection.
    sent: usize,
    /// Request id -> status of every whole, right answer.
    answered: HashMap<String, u16>,
    /// Requests whose connection closed before any response byte.
    unanswered: Vec<String>,
    /// Connects refused: the listener is closed.
    refused: usize,
    first_refusal: Option<Instant>,
    /// Everything that must not happen, with the request id.
    defects: Vec<String>,
}

impl Ledger {
    fn merge(&mut self, other: Ledger) {
        self.sent += other.sent;
        self.answered.extend(other.answered);
        self.unanswered.extend(other.unanswered);
        self.refused += other.refused;
        self.first_refusal = match (self.first_refusal, other.first_refusal) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.defects.extend(other.defects);
    }
}

/// Loops `kinds` (round robin) over one keep-alive connection, reconnecting
/// when the server closes it, until a connect is refused or `until`.
async fn drive(
    addr: SocketAddr,
    tag: String,
    kinds: Vec<Kind>,
    account: Account,
    until: Instant,
) -> Ledger {
    let mut ledger = Ledger::default();
    let mut conn: Option<TcpStream> = None;
    let mut n = 0usize;
    while Instant::now() < until {
        let mut stream = match conn.take() {
            Some(stream) => stream,
            None => match TcpStream::connect(addr).await {
                Ok(stream) => stream,
                // A connect still in the listener's backlog when it closes
                // is reset rather than refused: no request byte was sent
                // either, so it is the same clean refusal.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset
                    ) =>
                {
                    ledger.refused += 1;
                    ledger.first_refusal = Some(Instant::now());
                    break;
                }
                Err(e) => {
                    ledger.defects.push(format!("{tag}: connect failed: {e}"));
                    break;
                }
            },
        };
        let kind = kinds[n % kinds.len()];
        n += 1;
        let id = format!("load-{tag}-{n}");
        ledger.sent += 1;
        match wire::exchange(&mut stream, &kind.request(&id, &account), ANSWER_WITHIN).await {
            Ok(answer) => {
                match kind.check(&answer, &account) {
                    Ok(()) => {
                        ledger.answered.insert(id, answer.status);
                    }
                    Err(why) => ledger.defects.push(format!("{id}: {why}")),
                }
                if !answer.close {
                    conn = Some(stream);
                }
            }
            Err(Cut::Unanswered) => ledger.unanswered.push(id),
            Err(Cut::Defect(why)) => ledger.defects.push(format!("{id}: {why}")),
        }
    }
    ledger
}

/// A sign-up whose handler is reading its body when SIGTERM arrives: the
/// server asked for the body (`100 Continue`), half of it is sent, `ready`
/// says so; the rest goes 200 ms after the signal. Must answer 201.
async fn upload(
    addr: SocketAddr,
    tag: String,
    ready: tokio::sync::mpsc::Sender<()>,
    mut signalled: watch::Receiver<bool>,
) -> Ledger {
    let mut ledger = Ledger::default();
    let id = format!("load-{tag}");
    let body = sign_up_body(&id);
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    let outcome = async {
        let mut conn = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let head = format!(
            "POST /users HTTP/1.1\r\nHost: 127.0.0.1\r\nx-request-id: {id}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\nexpect: 100-continue\r\n\r\n",
            body.len()
        );
        conn.write_all(head.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        wire::read_continue(&mut conn, ANSWER_WITHIN)
            .await
            .map_err(|c| format!("{c:?}"))?;
        conn.write_all(first).await.map_err(|e| e.to_string())?;
        let _ = ready.send(()).await;
        let _ = signalled.wait_for(|sent| *sent).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        conn.write_all(rest)
            .await
            .map_err(|e| format!("the rest of the body: {e}"))?;
        wire::read_answer(&mut conn, ANSWER_WITHIN)
            .await
            .map_err(|c| format!("{c:?}"))
    };
    ledger.sent = 1;
    match outcome.await {
        Ok(answer) if answer.status == 201 => {
            ledger.answered.insert(id, 201);
        }
        Ok(answer) => ledger.defects.push(format!(
            "{id}: status {}, body {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        )),
        Err(why) => ledger
            .defects
            .push(format!("{id} (in flight at SIGTERM): {why}")),
    }
    ledger
}

/// The server's ledger: request id -> status of every `load-` request in
/// the access log, plus every other stdout line (for messages).
fn read_access_log(stdout: impl Read) -> (HashMap<String, u16>, Vec<String>) {
    let (mut served, mut other) = (HashMap::new(), Vec::new());
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let fields = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .map(|v| v["fields"].clone());
        let access = fields.as_ref().and_then(|f| {
            let id = f["request_id"].as_str()?.strip_prefix("load-")?;
            Some((format!("load-{id}"), f["status"].as_u64()? as u16))
        });
        match access {
            Some((id, status)) => {
                served.insert(id, status);
            }
            None => other.push(line),
        }
    }
    (served, other)
}

#[test]
fn sigterm_under_full_load_loses_no_accepted_request_and_exits_0_within_the_grace() {
    let db = support::TempDb::new("deploy");
    let port = free_port();
    let mut cmd = app(port, &db);
    cmd.env("SHUTDOWN_GRACE_SECS", GRACE_SECS.to_string())
        .env("HTTP_ACCESS_LOG", "true")
        .env("LOG_FORMAT", "json")
        .env(
            "AUTH_SECRET_KEY",
            "a-deploy-test-secret-of-32-bytes-or-more",
        );
    let mut child = cmd.spawn().unwrap();
    // Read as it is written: a full pipe would block the app.
    let stdout = child.stdout.take().unwrap();
    let server_log = std::thread::spawn(move || read_access_log(stdout));
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    if !wait_until_serving(port) {
        let _ = child.kill();
        panic!(
            "the app did not listen: {}",
            stderr.join().unwrap_or_default()
        );
    }
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    let (client, (signal_at, exited)) = rt.block_on(async {
        let http = reqwest::Client::new();
        let base = format!("http://{addr}");
        let id = support::sign_up(&http, &base, "deploy@example.com").await;
        let token = support::log_in(&http, &base, "deploy@example.com").await;
        let account = Account { id, token };
        let until = Instant::now() + LOAD + Duration::from_secs(GRACE_SECS + 10);

        let mut tasks = Vec::new();
        for i in 0..READERS {
            let kinds = vec![Kind::Ping, Kind::ReadUser];
            tasks.push(tokio::spawn(drive(
                addr,
                format!("r{i}"),
                kinds,
                account.clone(),
                until,
            )));
        }
        for i in 0..SIGN_UPS {
            tasks.push(tokio::spawn(drive(
                addr,
                format!("s{i}"),
                vec![Kind::SignUp],
                account.clone(),
                until,
            )));
        }
        let (ready_tx, mut ready) = tokio::sync::mpsc::channel(UPLOADS);
        let (signalled_tx, signalled) = watch::channel(false);
        for i in 0..UPLOADS {
            tasks.push(tokio::spawn(upload(
                addr,
                format!("u{i}"),
                ready_tx.clone(),
                signalled.clone(),
            )));
        }
        drop(ready_tx);
        for _ in 0..UPLOADS {
            ready
                .recv()
                .await
                .expect("every upload is in flight before SIGTERM");
        }
        tokio::time::sleep(LOAD).await;

        // Taken before `kill` runs: the app may close its listener before
        // the command returns.
        let signal_at = Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let _ = signalled_tx.send(true);
        // Bounded: an app that hangs past the grace is killed and fails below.
        let waiter = tokio::task::spawn_blocking(move || {
            let deadline = signal_at + Duration::from_secs(GRACE_SECS + 5);
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    return (status, Instant::now());
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    return (child.wait().unwrap(), Instant::now());
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let mut client = Ledger::default();
        for task in tasks {
            client.merge(task.await.unwrap());
        }
        (client, (signal_at, waiter.await.unwrap()))
    });
    let (status, exit_at) = exited;
    let (served, stdout) = server_log.join().unwrap();
    let stderr = stderr.join().unwrap_or_default();
    let took = exit_at - signal_at;
    println!(
        "deploy under load: sent {}, completed {}, failed {} (closed before any response byte, \
         not read by the server), defects {}; {} connects refused after the listener closed; \
         exit {:?} {:.2}s after SIGTERM; server logged {} of the requests",
        client.sent,
        client.answered.len(),
        client.unanswered.len(),
        client.defects.len(),
        client.refused,
        status.code(),
        took.as_secs_f64(),
        served.len(),
    );
    let report = stdout
        .iter()
        .rev()
        .find(|l| l.contains("shutdown complete"));
    let shown = || format!("exit {status:?}; shutdown: {report:?}\nstderr: {stderr}");

    assert!(
        client.defects.is_empty(),
        "requests lost or wrong ({} of them): {:#?}\n{}",
        client.defects.len(),
        &client.defects[..client.defects.len().min(20)],
        shown()
    );
    assert!(status.success(), "a clean drain exits 0: {}", shown());
    assert!(
        took < Duration::from_secs(GRACE_SECS + 1),
        "exited {took:?} after SIGTERM, beyond SHUTDOWN_GRACE_SECS={GRACE_SECS}: {}",
        shown()
    );
    assert!(
        report.is_some_and(|r| !r.contains("did not drain")),
        "every tool drained: {}",
        shown()
    );
    // The two ledgers agree: whatever the server answered arrived whole.
    for (id, status) in &served {
        assert_eq!(
            client.answered.get(id),
            Some(status),
            "the server answered {id} with {status}, the client did not get that whole"
        );
    }
    for id in client.answered.keys() {
        assert!(
            served.contains_key(id),
            "{id} answered but not in the access log"
        );
    }
    for id in &client.unanswered {
        assert!(
            !served.contains_key(id),
            "{id} was served yet the client got no byte"
        );
    }
    // The load was real, and the signal found work in flight.
    assert!(
        client.answered.len() > 200,
        "too little load to prove anything"
    );
    let uploads = (0..UPLOADS).filter(|i| client.answered.contains_key(&format!("load-u{i}")));
    assert_eq!(
        uploads.count(),
        UPLOADS,
        "uploads in flight at SIGTERM are answered"
    );
    // New connections were refused (not hung, not reset) while the drain
    // was still finishing the uploads.
    assert_eq!(
        client.refused,
        READERS + SIGN_UPS,
        "every looping client ends refused"
    );
    let refused_at = client.first_refusal.expect("a refusal");
    assert!(
        refused_at > signal_at && refused_at < exit_at,
        "connects are refused once SIGTERM arrives, before the process is gone: \
         refused {:?} after the signal, exit {took:?} after it",
        refused_at.checked_duration_since(signal_at)
    );
}
