//! The app's process lifecycle from outside: which failures stop boot (and
//! with which exit code), what "ready" and "degraded" mean, and how shutdown
//! ends with work in flight and on a second signal.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use crate::support::{self, app, free_port, wait_until_serving};

/// A running app whose stdout is read line by line as it is printed.
struct Proc {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Proc {
    fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        // Read as it is written: a full pipe would block the app.
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        });
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
            stderr,
        }
    }

    /// The first stdout line containing `needle` (printed within 20 s).
    fn line_with(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(line) => self.seen.push(line),
                Err(_) => break,
            }
        }
        panic!("no line with {needle:?}; stdout so far: {:#?}", self.seen)
    }

    fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// Waits for the exit (at most `within`, else kills it and fails); the
    /// status, the rest of stdout and stderr.
    fn exit(mut self, within: Duration) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the app did not exit within {within:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stderr = self.stderr.join().unwrap_or_default();
        let mut stdout = self.seen.join("\n");
        for line in self.lines.try_iter() {
            stdout.push('\n');
            stdout.push_str(&line);
        }
        (status, stdout, stderr)
    }
}

/// Runs the app to its exit (failing after 30 s: a boot that should have been
/// refused serves instead).
fn run_to_exit(cmd: Command) -> (ExitStatus, String, String) {
    Proc::spawn(cmd).exit(Duration::from_secs(30))
}

/// A POST whose handler is reading a body that never completes: work in
/// flight until the connection closes. Returns once the server asked for the
/// body (`100 Continue`), so the request is certainly being handled.
fn request_in_flight(port: u16) -> TcpStream {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.write_all(
        b"POST /users HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
          Content-Length: 1000\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 64];
    let n = conn.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.contains("100 Continue"), "{head}");
    conn.write_all(b"{\"name\": \"An").unwrap();
    conn
}

#[test]
fn production_without_an_auth_secret_refuses_to_serve() {
    let db = support::TempDb::new("prod");
    let mut cmd = app(free_port(), &db);
    cmd.env("MICROCORE_ENV", "production");
    let (status, stdout, stderr) = run_to_exit(cmd);
    assert_eq!(status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("MicroCore cannot serve"), "{stderr}");
    assert!(stderr.contains("AUTH_SECRET_KEY"), "{stderr}");
    assert!(stderr.contains("BOOT_ALLOW_DEGRADED=true"), "{stderr}");
    assert!(!stdout.contains("MicroCore is ready"), "{stdout}");
    assert!(
        !stdout.contains("listening on"),
        "a refused boot never opens its port: {stdout}"
    );
}

#[test]
fn production_may_serve_degraded_when_allowed_and_says_so() {
    let db = support::TempDb::new("prod-degraded");
    let port = free_port();
    let mut cmd = app(port, &db);
    cmd.env("MICROCORE_ENV", "production")
        .env("BOOT_ALLOW_DEGRADED", "true");
    let mut proc = Proc::spawn(cmd);
    let line = proc.line_with("MicroCore is");
    assert!(
        line.contains("DEGRADED") && line.contains("tool `auth` FAIL"),
        "{line}"
    );
    assert!(wait_until_serving(port));
    proc.signal("TERM");
    proc.exit(Duration::from_secs(20));
}

#[test]
fn development_serves_with_a_failed_tool_but_says_degraded_not_ready() {
    let db = support::TempDb::new("dev-degraded");
    let mut cmd = app(free_port(), &db);
    cmd.env("DATABASE_URL", "mysql://nowhere/app");
    let mut proc = Proc::spawn(cmd);
    let line = proc.line_with("MicroCore is");
    assert!(
        line.contains("DEGRADED") && line.contains("tool `db` FAIL"),
        "{line}"
    );
    assert!(!line.contains("ready"), "{line}");
    proc.signal("TERM");
    proc.exit(Duration::from_secs(20));
}

#[test]
fn an_http_tool_that_cannot_start_stops_boot_in_any_environment() {
    let db = support::TempDb::new("bad-port");
    let mut cmd = app(free_port(), &db);
    cmd.env("HTTP_PORT", "abc");
    let (status, stdout, stderr) = run_to_exit(cmd);
    assert_eq!(status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("MicroCore cannot serve") && stderr.contains("HTTP_PORT"),
        "{stderr}"
    );
    assert!(!stdout.contains("MicroCore is ready"), "{stdout}");
}

#[test]
fn a_bad_kernel_setting_stops_boot_naming_it_and_what_to_write() {
    let db = support::TempDb::new("bad-grace");
    let mut cmd = app(free_port(), &db);
    cmd.env("SHUTDOWN_GRACE_SECS", "30s");
    let (status, stdout, stderr) = run_to_exit(cmd);
    assert_eq!(status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("SHUTDOWN_GRACE_SECS=\"30s\"") && stderr.contains("SHUTDOWN_GRACE_SECS=10"),
        "{stderr}"
    );
}

#[test]
fn work_that_does_not_drain_in_time_is_cut_off_and_the_exit_is_not_zero() {
    let db = support::TempDb::new("forced-drain");
    let port = free_port();
    let mut cmd = app(port, &db);
    cmd.env("SHUTDOWN_GRACE_SECS", "1");
    let mut proc = Proc::spawn(cmd);
    proc.line_with("MicroCore is ready");
    assert!(wait_until_serving(port));
    let mut conn = request_in_flight(port);
    proc.signal("TERM");
    // Logged by the http tool once it has dropped the request, before the
    // kernel shuts down the tools the handler would use.
    let cut = proc.line_with("were cut off");
    assert!(
        cut.contains("1 request(s) still being handled were cut off"),
        "{cut}"
    );
    // The rest of the body, too late: nobody reads it. The client sees the
    // connection closed, never an answer (a 500 from a shut-down database).
    let rest = "a\", \"email\": \"late@example.com\", \"password\": \"a-late-password-1\"}";
    // Padded to the announced Content-Length: a server still reading would handle it.
    let _ = conn.write_all(format!("{rest:<988}").as_bytes());
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    assert_eq!(
        String::from_utf8_lossy(&answer),
        "",
        "a request cut off gets no answer"
    );
    let (status, stdout, stderr) = proc.exit(Duration::from_secs(20));
    assert_eq!(
        status.code(),
        Some(1),
        "a forced drain exits 1: {stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("shutdown complete")
            && stdout.contains("did not drain in time (in-flight work cut off): http"),
        "{stdout}"
    );
}

#[test]
fn a_second_signal_during_shutdown_exits_at_once_with_128_plus_its_number() {
    for (signal, code) in [("TERM", 143), ("INT", 130)] {
        let db = support::TempDb::new("second-signal");
        let port = free_port();
        let mut cmd = app(port, &db);
        cmd.env("SHUTDOWN_GRACE_SECS", "300");
        let mut proc = Proc::spawn(cmd);
        proc.line_with("MicroCore is ready");
        assert!(wait_until_serving(port));
        let _conn = request_in_flight(port);
        proc.signal(signal);
        proc.line_with("Shutting down");
        proc.signal(signal);
        // Well before the 300 s grace: the second signal did not wait for it.
        let (status, stdout, stderr) = proc.exit(Duration::from_secs(60));
        assert_eq!(status.code(), Some(code), "{stdout}\n{stderr}");
        assert!(stderr.contains("stopping at once"), "{stderr}");
    }
}

#[test]
fn with_log_format_json_every_stdout_line_is_json_including_the_boot_report() {
    let db = support::TempDb::new("json-log");
    let port = free_port();
    let mut cmd = app(port, &db);
    cmd.env("LOG_FORMAT", "json");
    let mut proc = Proc::spawn(cmd);
    proc.line_with("MicroCore is ready");
    assert!(wait_until_serving(port));
    proc.signal("TERM");
    let (status, stdout, stderr) = proc.exit(Duration::from_secs(20));
    assert!(status.success(), "{stdout}\n{stderr}");
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["fields"]["plugin"] == "ping.Ping" && e["fields"]["status"] == "Ready"),
        "the boot report is structured: {stdout}"
    );
    assert!(
        events.iter().any(|e| e["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("shutdown complete"))),
        "{stdout}"
    );
}
