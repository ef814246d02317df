//! The example app booted for real by a test binary (tests/app,
//! tests/telemetry): a fresh SQLite file, HTTP on a free loopback port.
//!
//! One copy, included by each binary with `#[path]` (a test target compiles
//! on its own, so this is a module of each, not a crate).

use std::path::PathBuf;
use std::time::Duration;

use microcore::{BootOptions, Env, Kernel, KernelSettings, Running};
use microcore_app::Tools;

/// A fresh SQLite file in the temp dir, removed with its WAL files on drop.
pub(crate) struct TempDb(pub(crate) PathBuf);

impl TempDb {
    /// `microcore-<tag>-<uuid>.db` in the temp dir (not created yet).
    pub(crate) fn new(tag: &str) -> Self {
        let name = format!("microcore-{tag}-{}.db", uuid::Uuid::new_v4().simple());
        Self(std::env::temp_dir().join(name))
    }

    /// `sqlite:<path>`, for `DATABASE_URL`.
    pub(crate) fn url(&self) -> String {
        format!("sqlite:{}", self.0.display())
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

/// Boots the app with `settings` over loopback defaults, only the plugins
/// `only` names (every one when `None`); panics with the boot report's
/// failure block if it cannot serve. Returns it and its base URL.
pub(crate) async fn serve_app(
    only: Option<Vec<String>>,
    settings: &[(&str, &str)],
) -> (Running<Tools>, String) {
    let mut env = Env::from_pairs([
        ("HTTP_HOST", "127.0.0.1"),
        ("HTTP_PORT", "0"),
        (
            "AUTH_SECRET_KEY",
            "an-integration-test-secret-of-32-bytes-or-more",
        ),
    ]);
    for (k, v) in settings {
        env = env.with(*k, *v);
    }
    let kernel = KernelSettings::from_env(&env).expect("the test's kernel settings are valid");
    let running = Kernel::<Tools>::boot(BootOptions {
        only,
        ..BootOptions::serve(env, &kernel)
    })
    .await;
    assert!(
        !running.report().cannot_serve(),
        "{}",
        running.report().failure_block()
    );
    let addr = running
        .tools()
        .http
        .get()
        .and_then(|h| h.local_addr())
        .expect("the http tool is listening");
    (running, format!("http://{addr}"))
}

/// Shuts the app down, giving its work 5 s to finish.
pub(crate) async fn stop(running: Running<Tools>) {
    running.shutdown(Duration::from_secs(5)).await;
}
