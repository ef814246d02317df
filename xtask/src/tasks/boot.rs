//! Runs the built app as a process on a fresh SQLite file and a free loopback
//! port, on embedded defaults, and stops it when dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::http::{self, Request};

/// How long the app may take to answer `GET /ping`.
const BOOT_LIMIT: Duration = Duration::from_secs(60);

/// The running app; killed when dropped.
pub struct App {
    child: Child,
    /// The loopback port it serves on.
    pub port: u16,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `binary` with its database at `db` (removed first) and its output
/// in `log`, and waits until `GET /ping` answers 200.
pub fn start(binary: &Path, db: &Path, log: &Path) -> Result<App, String> {
    for stale in [
        db.to_path_buf(),
        db.with_extension("db-wal"),
        db.with_extension("db-shm"),
    ] {
        let _ = std::fs::remove_file(stale);
    }
    let port = free_port()?;
    let out =
        std::fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let child = Command::new(binary)
        .current_dir(db.parent().unwrap_or(Path::new(".")))
        // Embedded defaults whatever the shell exports.
        .env_remove("STATE_BACKEND")
        .env_remove("EVENT_BUS_DRIVER")
        .env_remove("MICROCORE_ENV")
        .env("HTTP_HOST", "127.0.0.1")
        .env("HTTP_PORT", port.to_string())
        .env("DATABASE_URL", format!("sqlite:{}", db.display()))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let mut app = App { child, port };
    let ping = Request {
        method: "GET".into(),
        path: "/ping".into(),
        headers: Vec::new(),
        body: None,
    };
    let deadline = Instant::now() + BOOT_LIMIT;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = app.child.try_wait() {
            return Err(format!(
                "the app exited ({status}) before serving; see {}",
                log.display()
            ));
        }
        if http::send(port, &ping, Duration::from_secs(2), &|_| false)
            .is_ok_and(|r| r.status == 200)
        {
            return Ok(app);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "the app did not answer GET /ping within {} s; see {}",
        BOOT_LIMIT.as_secs(),
        log.display()
    ))
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

/// Tools that did not come up (`GET /system/status`), as `name: why`. A
/// candidate's broken migration fails the `db` tool and with it every plugin
/// that uses it, other tasks' included. An app without the status endpoint
/// reports none.
pub fn failed_tools(port: u16) -> Vec<String> {
    let req = Request {
        method: "GET".into(),
        path: "/system/status".into(),
        headers: Vec::new(),
        body: None,
    };
    let Ok(res) = http::send(port, &req, Duration::from_secs(10), &|_| false) else {
        return Vec::new();
    };
    let body: serde_json::Value = serde_json::from_str(&res.text).unwrap_or_default();
    body["data"]["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["status"] != "OK")
        .map(|t| {
            format!(
                "tool {} {}: {}",
                t["name"].as_str().unwrap_or("?"),
                t["status"].as_str().unwrap_or("?"),
                t["message"].as_str().unwrap_or("")
            )
        })
        .collect()
}
