//! The README's run command, as a process: it boots on embedded defaults,
//! serves, and stops gracefully on SIGTERM; a busy port is one clear block.

use crate::support::{self, app, free_port, wait_until_serving};

use std::process::Command;

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
