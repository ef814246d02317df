//! The SQLite backend: a file in WAL mode by default, or a private in-memory
//! database for tests.

mod error;
mod exec;

use std::str::FromStr;
use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Sqlite, Transaction};

use crate::backend::{Backend, Conn, Engine, Output};
use crate::error::DbError;
use crate::value::Value;

pub(crate) use error::classify;

/// How long SQLite itself waits for a lock before reporting busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Back-off between the tool's own retries of a busy statement (3 tries in all).
const RETRY_DELAYS_MS: [u64; 2] = [50, 100];

pub(crate) struct SqliteBackend {
    pool: SqlitePool,
    location: String,
}

/// Opens `url` (`sqlite:...`); `None` opens `microcore.db` in the working directory.
pub(crate) async fn open(url: Option<&str>) -> Result<SqliteBackend, DbError> {
    let options = match url {
        None => SqliteConnectOptions::new().filename("microcore.db"),
        Some(url) => SqliteConnectOptions::from_str(url).map_err(|e| {
            DbError::tool(format!(
                "DATABASE_URL={url:?} is not a valid SQLite URL: {e}"
            ))
        })?,
    };
    if url.is_some_and(|u| u.contains(":memory:") || u.contains("mode=memory")) {
        return open_memory().await;
    }
    let location = options.get_filename().display().to_string();
    let options = options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT);
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .map_err(|e| {
            DbError::unavailable(format!(
                "cannot open SQLite database {location:?}: {e}; check that the directory exists \
                 and is writable, or set DATABASE_URL"
            ))
        })?;
    Ok(SqliteBackend { pool, location })
}

/// A private in-memory database. One connection that is never recycled, so
/// every statement sees the same database and it lives as long as the pool.
pub(crate) async fn open_memory() -> Result<SqliteBackend, DbError> {
    let options = SqliteConnectOptions::from_str("sqlite::memory:")
        .map_err(|e| DbError::tool(format!("in-memory SQLite options: {e}")))?
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(options)
        .await
        .map_err(|e| DbError::unavailable(format!("cannot open in-memory SQLite: {e}")))?;
    Ok(SqliteBackend {
        pool,
        location: "in memory".to_owned(),
    })
}

/// Runs `attempt` up to three times while SQLite reports busy/locked.
async fn retry_busy<T, F, Fut>(mut attempt: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    let mut delays = RETRY_DELAYS_MS.iter();
    loop {
        match attempt().await {
            Err(e) if error::is_busy(&e) => match delays.next() {
                Some(ms) => tokio::time::sleep(Duration::from_millis(*ms)).await,
                None => return Err(e),
            },
            other => return other,
        }
    }
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
            let (rows, affected) = retry_busy(|| async {
                let mut conn = self.pool.acquire().await?;
                exec::fetch(&mut conn, sql, params).await
            })
            .await
            .map_err(classify)?;
            exec::output(rows, affected)
        })
    }

    fn begin(&self) -> BoxFuture<'_, Result<Box<dyn Conn>, DbError>> {
        Box::pin(async move {
            let tx = retry_busy(|| self.pool.begin_with("BEGIN IMMEDIATE"))
                .await
                .map_err(classify)?;
            Ok(Box::new(SqliteTx(tx)) as Box<dyn Conn>)
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.pool.close())
    }
}

struct SqliteTx(Transaction<'static, Sqlite>);

impl Conn for SqliteTx {
    fn run<'a>(
        &'a mut self,
        sql: &'a str,
        params: &'a [Value],
    ) -> BoxFuture<'a, Result<Output, DbError>> {
        Box::pin(async move {
            let (rows, affected) = exec::fetch(&mut self.0, sql, params)
                .await
                .map_err(classify)?;
            exec::output(rows, affected)
        })
    }

    fn script<'a>(&'a mut self, sql: &'a str) -> BoxFuture<'a, Result<(), DbError>> {
        Box::pin(async move {
            sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut *self.0)
                .await
                .map(drop)
                .map_err(classify)
        })
    }

    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), DbError>> {
        Box::pin(async move { self.0.commit().await.map_err(classify) })
    }

    fn rollback(self: Box<Self>) -> BoxFuture<'static, Result<(), DbError>> {
        Box::pin(async move { self.0.rollback().await.map_err(classify) })
    }
}
