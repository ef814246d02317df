//! The SQLite backend: a file in WAL mode by default, or a private in-memory
//! database for tests.
//!
//! Waiting for a lock is SQLite's own job: every connection has a busy
//! timeout (`DB_BUSY_TIMEOUT_MS`, default 5000), and a statement or a
//! `BEGIN IMMEDIATE` that meets another connection's write lock waits inside
//! the engine until the lock is released or the timeout runs out, then fails
//! as [`DbErrorKind::Busy`](crate::DbErrorKind::Busy). The tool adds no retry
//! loop of its own: with the busy handler set, every lock wait of an
//! autocommit statement or of `BEGIN IMMEDIATE` already goes through it, so a
//! second loop around it would only multiply the wait (three tries of 5 s
//! each once made a locked database wait 15 s, not the 5 s the code promised).

mod error;
mod exec;
mod migration;
mod tx;

use std::str::FromStr;
use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{SqlStr, Sqlite, Transaction};

use microcore_kernel::{Env, retry_transient};

use crate::backend::{Backend, Conn, Engine, Output, Row as JsonRow};
use crate::error::DbError;
use crate::value::Value;
use tx::SqliteTx;

pub(crate) use error::classify;

/// How long a statement waits for another connection's lock, unless
/// `DB_BUSY_TIMEOUT_MS` says otherwise.
const DEFAULT_BUSY_TIMEOUT_MS: u64 = 5000;
/// [`DEFAULT_BUSY_TIMEOUT_MS`] as a duration.
pub(crate) const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_millis(DEFAULT_BUSY_TIMEOUT_MS);

pub(crate) struct SqliteBackend {
    pool: SqlitePool,
    location: String,
    /// The in-memory database: one connection, so waiting for it has its own error.
    memory: bool,
}

/// `DB_BUSY_TIMEOUT_MS`: how long a statement waits for another connection's
/// write lock before it fails as busy. At least 1: with 0 every write that
/// meets another writer would fail at once.
pub(crate) fn busy_timeout(env: &Env) -> Result<Duration, String> {
    let default = DEFAULT_BUSY_TIMEOUT_MS;
    match env.parse_or("DB_BUSY_TIMEOUT_MS", default) {
        Ok(0) => Err(format!(
            "setting DB_BUSY_TIMEOUT_MS=\"0\" would make every write that meets another \
             writer fail at once; use a number of milliseconds of at least 1 (default {default})"
        )),
        Ok(ms) => Ok(Duration::from_millis(ms)),
        Err(e) => Err(format!("{e} (a number of milliseconds, default {default})")),
    }
}

/// Opens `url` (`sqlite:...`); `None` opens `microcore.db` in the working
/// directory. A statement waits up to `busy_timeout` for another connection's lock.
pub(crate) async fn open(
    url: Option<&str>,
    busy_timeout: Duration,
) -> Result<SqliteBackend, DbError> {
    let options = match url {
        None => SqliteConnectOptions::new().filename("microcore.db"),
        Some(url) => SqliteConnectOptions::from_str(url).map_err(|e| {
            DbError::tool(format!(
                "DATABASE_URL={url:?} is not a valid SQLite URL: {e}"
            ))
        })?,
    };
    if url.is_some_and(|u| u.contains(":memory:") || u.contains("mode=memory")) {
        return open_memory(busy_timeout).await;
    }
    let location = options.get_filename().display().to_string();
    let options = options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true)
        .busy_timeout(busy_timeout);
    // The first connection switches a fresh file to WAL, which needs the
    // file to itself: another tool's pool opening it at the same moment
    // (tools are set up together) fails one of them as busy at once,
    // without SQLite's busy handler, so the opening is tried again.
    let pool = retry_transient(busy_timeout, error::is_busy, || {
        SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone())
    })
    .await
    .map_err(|e| cannot_open(&location, &e, busy_timeout))?;
    Ok(SqliteBackend {
        pool,
        location,
        memory: false,
    })
}

/// Why the file at `location` could not be opened, and what to do about it.
fn cannot_open(location: &str, e: &sqlx::Error, busy_timeout: Duration) -> DbError {
    let fix = if error::is_busy(e) {
        format!(
            "another connection kept the file locked for the whole {busy_timeout:?} \
             (DB_BUSY_TIMEOUT_MS) this one tried to open it; stop the other process writing \
             to it, or raise DB_BUSY_TIMEOUT_MS"
        )
    } else {
        "check that the directory exists and is writable, or set DATABASE_URL".to_owned()
    };
    DbError::unavailable(format!(
        "cannot open SQLite database {location:?}: {e}; {fix}"
    ))
}

/// A private in-memory database. One connection that is never recycled, so
/// every statement sees the same database and it lives as long as the pool
/// (and no other connection can ever hold its lock).
///
/// A statement waits for that connection up to `busy_timeout`, as it would
/// wait for a file database's write lock, then fails as busy, the caller's
/// fault: the usual cause is a statement outside an open transaction (a
/// spawned task) that the transaction awaits, which can never get the
/// connection. It used to wait sqlx's 30 s and then mark the tool dead.
pub(crate) async fn open_memory(busy_timeout: Duration) -> Result<SqliteBackend, DbError> {
    let options = SqliteConnectOptions::from_str("sqlite::memory:")
        .map_err(|e| DbError::tool(format!("in-memory SQLite options: {e}")))?
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(busy_timeout)
        .connect_with(options)
        .await
        .map_err(|e| DbError::unavailable(format!("cannot open in-memory SQLite: {e}")))?;
    Ok(SqliteBackend {
        pool,
        location: "in memory".to_owned(),
        memory: true,
    })
}

impl SqliteBackend {
    async fn acquire(&self) -> Result<sqlx::pool::PoolConnection<Sqlite>, DbError> {
        self.pool.acquire().await.map_err(|e| match e {
            sqlx::Error::PoolTimedOut if self.memory => memory_busy(),
            e => classify(e),
        })
    }
}

/// The in-memory database's one connection stayed taken for the whole wait.
fn memory_busy() -> DbError {
    DbError::busy_caller(
        "the in-memory SQLite database has one connection and it stayed in use for longer than \
         DB_BUSY_TIMEOUT_MS; usually a transaction holds it while awaiting a statement made \
         outside it (from a spawned task): run that statement on the transaction's Tx, do not \
         await spawned db work inside a transaction, or use a file database",
    )
}

impl Backend for SqliteBackend {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    fn location(&self) -> String {
        format!("sqlite {}", self.location)
    }

    fn run<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Value],
    ) -> BoxFuture<'a, Result<Output, DbError>> {
        Box::pin(async move {
            let mut conn = self.acquire().await?;
            let (rows, affected) = exec::fetch(&mut conn, sql, params)
                .await
                .map_err(classify)?;
            exec::output(rows, affected)
        })
    }

    fn run_first<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Value],
    ) -> BoxFuture<'a, Result<Option<JsonRow>, DbError>> {
        Box::pin(async move {
            let mut conn = self.acquire().await?;
            let first = match exec::fetch_first(&mut conn, sql, params).await {
                Some(first) => first.map_err(classify)?,
                None => {
                    let (rows, _) = exec::fetch(&mut conn, sql, params)
                        .await
                        .map_err(classify)?;
                    rows.into_iter().next()
                }
            };
            first.as_ref().map(exec::decode).transpose()
        })
    }

    fn begin(&self) -> BoxFuture<'_, Result<Box<dyn Conn>, DbError>> {
        Box::pin(async move {
            let conn = self.acquire().await?;
            let tx = Transaction::begin(conn, Some(SqlStr::from_static("BEGIN IMMEDIATE")))
                .await
                .map_err(classify)?;
            Ok(Box::new(SqliteTx::new(tx)) as Box<dyn Conn>)
        })
    }

    fn begin_migration(&self) -> BoxFuture<'_, Result<Box<dyn Conn>, DbError>> {
        Box::pin(async move {
            let conn = migration::begin(self.acquire().await?).await?;
            Ok(Box::new(conn) as Box<dyn Conn>)
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.pool.close())
    }
}
