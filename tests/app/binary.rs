//! The README's run command, as a process: it boots on embedded defaults,
//! serves, and stops gracefully on SIGTERM; a busy port is one clear block.

use crate::support::{self, app, free_port, wait_until_serving};

use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn boots_with_no_setup_serves_and_stops_cleanly_on_sigterm() {
    let db = support::TempDb::new("bin");
    let port = free_port();
    let child = app(port, &db).spawn().unwrap();
    assert!(wait_until_serving(port), "the app did not start listening");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let body: serde_json::Value = rt.block_on(async {
        reqwest::get(format!("http://127.0.0.1:{port}/ping"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(body["data"]["message"], "pong");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "graceful exit expected: {out:?}");
    assert!(
        stdout.contains("plugins") && stdout.contains("READY"),
        "boot report expected: {stdout}"
    );
    assert!(stdout.contains("Shutting down"), "{stdout}");
}

#[test]
fn a_busy_port_is_one_clear_block_and_a_failing_exit() {
    let db = support::TempDb::new("busy");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = app(port, &db).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("MicroCore cannot serve"), "{stderr}");
    assert!(
        stderr.contains(&port.to_string()),
        "the block names the port: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "no backtrace: {stderr}");
}

#[test]
fn migrate_applies_pending_migrations_once_and_exits() {
    let db = support::TempDb::new("migrate");
    let run = || app(free_port(), &db).arg("migrate").output().unwrap();
    let first = run();
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(first.status.success(), "{first:?}");
    assert!(
        stdout.contains("applied users/001_create_users.sql"),
        "{stdout}"
    );
    let second = run();
    assert!(second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stdout).contains("nothing to apply"),
        "{second:?}"
    );
}

/// A fresh empty directory for a run's working directory, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let db = support::TempDb::new(tag);
        let dir = db.0.with_extension("dir");
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn stop(child: std::process::Child) -> String {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn dotenv_in_the_working_directory_configures_the_app_and_the_report_names_it() {
    let db = support::TempDb::new("dotenv");
    let dir = TempDir::new("dotenv");
    let port = free_port();
    std::fs::write(
        dir.0.join(".env"),
        format!(
            "# from the file\nHTTP_PORT={port}\nDATABASE_URL={}\n",
            db.url()
        ),
    )
    .unwrap();
    let mut cmd = app(0, &db);
    cmd.env_remove("HTTP_PORT")
        .env_remove("DATABASE_URL")
        .current_dir(&dir.0);
    let child = cmd.spawn().unwrap();
    let serving = wait_until_serving(port);
    let stdout = stop(child);
    assert!(serving, "HTTP_PORT from .env was not used: {stdout}");
    let shown = format!("env: read {}", dir.0.join(".env").display());
    assert!(
        stdout.contains(&shown),
        "the report names the file: {stdout}"
    );
}

#[test]
fn a_real_environment_variable_wins_over_dotenv() {
    let db = support::TempDb::new("dotenv-wins");
    let dir = TempDir::new("dotenv-wins");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    std::fs::write(dir.0.join(".env"), format!("HTTP_PORT={taken_port}\n")).unwrap();
    let port = free_port();
    let mut cmd = app(port, &db);
    cmd.current_dir(&dir.0);
    let child = cmd.spawn().unwrap();
    let serving = wait_until_serving(port);
    let stdout = stop(child);
    assert!(serving, "HTTP_PORT from the environment must win: {stdout}");
}

#[test]
fn a_malformed_dotenv_is_one_clear_line_naming_the_file() {
    let db = support::TempDb::new("dotenv-bad");
    let dir = TempDir::new("dotenv-bad");
    std::fs::write(dir.0.join(".env"), "HTTP_PORT='unterminated\n").unwrap();
    let mut cmd = app(free_port(), &db);
    cmd.current_dir(&dir.0);
    let mut child = cmd.spawn().unwrap();
    // Bounded: an app that ignored the file would serve until stopped.
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(".env is not a valid .env file"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `migrate` with these arguments on `db`.
fn migrate(db: &support::TempDb, args: &[&str]) -> std::process::Output {
    app(free_port(), db)
        .arg("migrate")
        .args(args)
        .output()
        .unwrap()
}

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn migrate_status_and_dry_run_report_pending_migrations_without_applying_them() {
    let db = support::TempDb::new("migrate-status");
    let status = migrate(&db, &["--status"]);
    let shown = stdout_of(&status);
    assert!(status.status.success(), "{status:?}");
    assert!(
        shown.contains("pending  users/001_create_users.sql"),
        "{shown}"
    );
    assert!(shown.contains("0 applied, 2 pending"), "{shown}");

    let dry = migrate(&db, &["--dry-run"]);
    let shown = stdout_of(&dry);
    assert!(dry.status.success(), "{dry:?}");
    assert!(
        shown.contains("would apply users/001_create_users.sql")
            && shown.contains("would apply users/002_user_ids_never_reused.sql"),
        "{shown}"
    );
    let still = stdout_of(&migrate(&db, &["--status"]));
    assert!(
        still.contains("2 pending"),
        "a dry run applies nothing: {still}"
    );

    assert!(migrate(&db, &[]).status.success());
    let after = migrate(&db, &["--status"]);
    let shown = stdout_of(&after);
    assert!(after.status.success(), "{after:?}");
    assert!(
        shown.contains("applied  users/001_create_users.sql"),
        "{shown}"
    );
    assert!(shown.contains("2 applied, 0 pending"), "{shown}");
    let dry = stdout_of(&migrate(&db, &["--dry-run"]));
    assert!(dry.contains("nothing to apply"), "{dry}");

    let bad = migrate(&db, &["--force"]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--status"));
}

#[test]
fn migrate_status_fails_naming_an_edited_and_a_missing_migration() {
    let db = support::TempDb::new("migrate-broken");
    assert!(migrate(&db, &[]).status.success());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&db.url()).await.unwrap();
        sqlx::query(
            "UPDATE _migrations_history SET checksum = 'changed' \
             WHERE filename = '001_create_users.sql'",
        )
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO _migrations_history (domain, filename) VALUES ('users', '099_gone.sql')",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    });
    let out = migrate(&db, &["--status"]);
    let shown = stdout_of(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        shown.contains("EDITED   users/001_create_users.sql"),
        "{shown}"
    );
    assert!(shown.contains("MISSING  users/099_gone.sql"), "{shown}");
    assert!(shown.contains("1 edited, 1 missing"), "{shown}");
    assert!(
        stderr.contains("restore the file and put the change in a new migration"),
        "{stderr}"
    );
    assert!(!migrate(&db, &["--dry-run"]).status.success());
}

#[test]
fn a_replica_that_does_not_migrate_names_the_pending_migrations_in_its_boot_report() {
    let db = support::TempDb::new("no-auto-migrate");
    let port = free_port();
    let child = app(port, &db)
        .env("DB_AUTO_MIGRATE", "false")
        .spawn()
        .unwrap();
    wait_until_serving(port);
    let stdout = stop(child);
    assert!(
        stdout.contains("skipped (DB_AUTO_MIGRATE=false); 2 PENDING")
            && stdout.contains("users/001_create_users.sql, users/002_user_ids_never_reused.sql"),
        "{stdout}"
    );
}

/// Serves with these extra settings, asks `GET /ping` with request id
/// `ping-42`, stops, and returns what the process wrote to stdout.
fn stdout_after_one_ping(settings: &[(&str, &str)]) -> String {
    let db = support::TempDb::new("access-log");
    let port = free_port();
    let mut cmd = app(port, &db);
    cmd.envs(settings.iter().copied());
    let child = cmd.spawn().unwrap();
    assert!(wait_until_serving(port), "the app did not start listening");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = rt.block_on(async {
        reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/ping"))
            .header("x-request-id", "ping-42")
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);
    stop(child)
}

#[test]
fn the_access_log_writes_one_json_line_per_request_only_when_turned_on() {
    let off = stdout_after_one_ping(&[("LOG_FORMAT", "json")]);
    assert!(
        !off.contains("ping-42"),
        "no access log unless HTTP_ACCESS_LOG=true: {off}"
    );
    let on = stdout_after_one_ping(&[("LOG_FORMAT", "json"), ("HTTP_ACCESS_LOG", "true")]);
    let lines: Vec<serde_json::Value> = on
        .lines()
        .filter(|l| l.contains("ping-42"))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "one line per request: {on}");
    let line = &lines[0];
    assert_eq!(line["level"], "INFO", "{line}");
    let fields = &line["fields"];
    assert_eq!(fields["method"], "GET", "{line}");
    assert_eq!(fields["path"], "/ping", "{line}");
    assert_eq!(fields["status"], 200, "{line}");
    assert_eq!(fields["request_id"], "ping-42", "{line}");
    assert!(fields["duration_ms"].as_f64().is_some(), "{line}");
}
