//! A recording plugin, schedulers on a chosen store and clock, and the local
//! PostgreSQL (a fresh schema per test).

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use sqlx::Connection;

use microcore_kernel::{CallContext, Env, Probe, current_identity, in_context};
use microcore_scheduler::{Clock, DueEvent, Fire, ManualClock, Scheduler};

/// A whole number of 10-second periods since the epoch: interval fires land on it.
pub(crate) const T0: i64 = 1_750_000_000_000;

/// What a job or a due handler saw.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Seen {
    pub(crate) key: String,
    pub(crate) at_ms: i64,
    pub(crate) missed: u32,
    pub(crate) identity: String,
}

/// A plugin whose methods record their calls.
#[derive(Default)]
pub(crate) struct Recorder {
    pub(crate) runs: Mutex<Vec<Seen>>,
    pub(crate) due: Mutex<Vec<DueEvent>>,
    /// While held, `blocking` waits.
    pub(crate) gate: tokio::sync::RwLock<()>,
    /// Due handler calls to fail before succeeding.
    pub(crate) fail_due: Mutex<u32>,
}

impl Recorder {
    pub(crate) async fn record(self: Arc<Self>, fire: Fire) -> anyhow::Result<()> {
        let at_ms = fire
            .at
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        self.runs.lock().push(Seen {
            key: fire.key,
            at_ms,
            missed: fire.missed,
            identity: current_identity().to_string(),
        });
        Ok(())
    }

    pub(crate) async fn blocking(self: Arc<Self>, fire: Fire) -> anyhow::Result<()> {
        self.clone().record(fire).await?;
        let _wait = self.gate.read().await;
        Ok(())
    }

    pub(crate) async fn failing(self: Arc<Self>, _: Fire) -> anyhow::Result<()> {
        anyhow::bail!("the report server said no")
    }

    pub(crate) async fn panicking(self: Arc<Self>, _: Fire) -> anyhow::Result<()> {
        panic!("a bug in the job")
    }

    pub(crate) async fn deliver(self: Arc<Self>, due: DueEvent) -> anyhow::Result<()> {
        {
            let mut fail = self.fail_due.lock();
            if *fail > 0 {
                *fail -= 1;
                anyhow::bail!("the bus is unavailable");
            }
        }
        self.due.lock().push(due);
        Ok(())
    }

    pub(crate) fn runs(&self) -> Vec<Seen> {
        self.runs.lock().clone()
    }
}

/// A scheduler on `url` (`memory`, `sqlite:…`, `postgres://…`) reading `clock`.
pub(crate) async fn scheduler(url: &str, clock: Arc<dyn Clock>) -> Scheduler {
    let env = Env::from_pairs([("SCHEDULER_DATABASE_URL", url), ("SCHEDULER_TICK_MS", "50")]);
    Scheduler::from_env(&env, Probe::detached("scheduler"), clock)
        .await
        .expect("scheduler set up")
}

pub(crate) fn manual(at: i64) -> Arc<ManualClock> {
    Arc::new(ManualClock::at(at))
}

/// Runs `f` as plugin `identity`'s `on_boot` would.
pub(crate) async fn as_plugin<T>(identity: &str, f: impl std::future::Future<Output = T>) -> T {
    in_context(CallContext::new(identity, None), f).await
}

/// Waits until no run goes on.
pub(crate) async fn settle(scheduler: &Scheduler) {
    for _ in 0..400 {
        if scheduler.running() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("job runs did not finish");
}

/// A fresh SQLite file path.
pub(crate) fn sqlite_file() -> String {
    let path =
        std::env::temp_dir().join(format!("microcore-scheduler-{}.db", uuid::Uuid::new_v4()));
    format!("sqlite:{}", path.display())
}

fn pg_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A URL on a fresh schema of the local PostgreSQL, or `None` (the reason
/// printed) when it is absent; under `CI=true` an absent server fails.
pub(crate) async fn postgres() -> Option<String> {
    let mut admin = match sqlx::PgConnection::connect(&pg_url()).await {
        Ok(conn) => conn,
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("PostgreSQL is required under CI=true: {e}")
        }
        Err(e) => {
            eprintln!("skipping a PostgreSQL scheduler test: {e}");
            return None;
        }
    };
    let schema = format!("mc_sched_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .expect("create a test schema");
    Some(format!("{}?options[search_path]={schema}", pg_url()))
}
