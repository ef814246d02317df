//! One state tool per test, on a backend, with keys that cannot collide.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use microcore_kernel::{Env, Probe};
use microcore_state::{State, StateNamespace};

pub(crate) struct Fixture {
    pub(crate) state: State,
    prefix: String,
    redis_url: Option<String>,
}

impl Fixture {
    pub(crate) fn memory() -> Self {
        Self {
            state: State::in_memory(Probe::detached("state")),
            prefix: unique_prefix(),
            redis_url: None,
        }
    }

    /// `None` (after saying why) when Redis is absent outside CI.
    pub(crate) async fn redis() -> Option<Self> {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let env = Env::from_pairs([("STATE_BACKEND", "redis"), ("REDIS_URL", url.as_str())]);
        match State::from_env(&env, Probe::detached("state")).await {
            Ok(state) => Some(Self {
                state,
                prefix: unique_prefix(),
                redis_url: Some(url),
            }),
            Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("the Redis state tests need Redis under CI=true: {e}")
            }
            Err(e) => {
                eprintln!("skipping a Redis state test: {e}");
                None
            }
        }
    }

    /// A plain connection to the Redis behind the tool; `None` in memory.
    pub(crate) fn raw_redis(&self) -> Option<redis::Connection> {
        let url = self.redis_url.as_ref()?;
        Some(
            redis::Client::open(url.as_str())
                .unwrap()
                .get_connection()
                .unwrap(),
        )
    }

    /// The namespace `name`, private to this test run.
    pub(crate) fn ns(&self, name: &str) -> StateNamespace {
        self.state.namespace(format!("{}{name}", self.prefix))
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let Some(url) = &self.redis_url else { return };
        // Synchronous on purpose: Drop cannot await, and this must run even
        // when the test panicked.
        let Ok(mut conn) = redis::Client::open(url.as_str()).and_then(|c| c.get_connection())
        else {
            return;
        };
        // The tool's keys live under `microcore:`; raw keys a test wrote
        // to stand for another app's do not.
        for pattern in [
            format!("microcore:{}*", self.prefix),
            format!("{}*", self.prefix),
        ] {
            let keys: Vec<String> = match redis::Commands::scan_match(&mut conn, pattern) {
                Ok(iter) => iter.collect(),
                Err(_) => return,
            };
            if !keys.is_empty() {
                let _: redis::RedisResult<()> = redis::Commands::del(&mut conn, keys);
            }
        }
    }
}

fn unique_prefix() -> String {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "mctest-{}-{nanos}-{}-",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}
