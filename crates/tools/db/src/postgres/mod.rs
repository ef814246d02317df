//! The PostgreSQL backend.

mod bind;
mod decode;
mod error;

use std::str::FromStr;
use std::time::Duration;

use futures::TryStreamExt;
use futures::future::BoxFuture;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{
    AssertSqlSafe, Either, Executor, PgConnection, Postgres, SqlSafeStr, Statement, Transaction,
};

use crate::backend::{Backend, Conn, Engine, Output};
use crate::error::DbError;
use crate::value::Value;

pub(crate) use error::classify;

/// The advisory lock every top-level transaction holds, so transactions are
/// serialised exactly as on SQLite (one writer at a time), across replicas too.
const TX_LOCK_KEY: i64 = 0x4d43_5f54_5800; // "MC_TX"

pub(crate) struct PgBackend {
    pool: PgPool,
    location: String,
}

/// Connects to `url` (`postgres://` or `postgresql://`).
pub(crate) async fn open(url: &str) -> Result<PgBackend, DbError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| DbError::tool(format!("DATABASE_URL is not a valid PostgreSQL URL: {e}")))?;
    let location = format!(
        "{}@{}:{}/{}",
        options.get_username(),
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or(options.get_username())
    );
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(|e| {
            DbError::unavailable(format!(
                "cannot connect to PostgreSQL at {location}: {e}; check DATABASE_URL and that \
                 the server is running"
            ))
        })?;
    Ok(PgBackend { pool, location })
}

/// Runs one statement: prepare (so PostgreSQL infers each `$n`'s type), bind
/// each value as that type, collect rows and the affected-row count.
async fn run_on(conn: &mut PgConnection, sql: &str, params: &[Value]) -> Result<Output, DbError> {
    let types: Vec<String> = if params.is_empty() {
        Vec::new()
    } else {
        let statement = (&mut *conn)
            .prepare(AssertSqlSafe(sql).into_sql_str())
            .await
            .map_err(classify)?;
        match statement.parameters() {
            Some(Either::Left(types)) => types.iter().map(bind::type_name).collect(),
            _ => Vec::new(),
        }
    };
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for (i, value) in params.iter().enumerate() {
        let ty = types.get(i).map_or("UNKNOWN", String::as_str);
        query = bind::bind(query, i + 1, value, ty)?;
    }
    let mut stream = (&mut *conn).fetch_many(query);
    let mut out = Output::default();
    while let Some(item) = stream.try_next().await.map_err(classify)? {
        match item {
            Either::Left(done) => out.rows_affected += done.rows_affected(),
            Either::Right(row) => out.rows.push(decode::decode(&row)?),
        }
    }
    Ok(out)
}

impl Backend for PgBackend {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    fn location(&self) -> String {
        format!("postgres {}", self.location)
    }

    fn run<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Value],
    ) -> BoxFuture<'a, Result<Output, DbError>> {
        Box::pin(async move {
            let mut conn = self.pool.acquire().await.map_err(classify)?;
            run_on(&mut conn, sql, params).await
        })
    }

    fn begin(&self) -> BoxFuture<'_, Result<Box<dyn Conn>, DbError>> {
        Box::pin(async move {
            let mut tx = self.pool.begin().await.map_err(classify)?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(TX_LOCK_KEY)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            Ok(Box::new(PgTx { tx, aborted: None }) as Box<dyn Conn>)
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.pool.close())
    }
}

/// An open PostgreSQL transaction.
///
/// PostgreSQL aborts the whole transaction at the first failed statement and
/// then turns `COMMIT` into `ROLLBACK` (sqlx does not read the tag), so a
/// closure that caught a failed statement and returned `Ok` would "commit"
/// nothing and report success. SQLite undoes only the failed statement. To
/// behave the same, each statement runs under a savepoint that is rolled
/// back when it fails, which leaves the transaction usable; and should the
/// transaction be aborted anyway (a failed savepoint command), `commit`
/// rolls back and fails instead of reporting success.
struct PgTx {
    tx: Transaction<'static, Postgres>,
    /// Why the server aborted the transaction, once it has.
    aborted: Option<String>,
}

/// The savepoint around one statement; released at once, so one name does.
const STATEMENT: &str = "SAVEPOINT mc_stmt";
const STATEMENT_OK: &str = "RELEASE SAVEPOINT mc_stmt";
const STATEMENT_FAILED: &str = "ROLLBACK TO SAVEPOINT mc_stmt; RELEASE SAVEPOINT mc_stmt";

impl PgTx {
    /// A parameterless command; a failure marks the transaction aborted.
    async fn command(&mut self, sql: &str) -> Result<(), DbError> {
        let result = sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut *self.tx)
            .await
            .map(drop)
            .map_err(classify);
        if let Err(e) = &result {
            self.aborted.get_or_insert_with(|| e.message.clone());
        }
        result
    }
}

impl Conn for PgTx {
    fn run<'a>(
        &'a mut self,
        sql: &'a str,
        params: &'a [Value],
    ) -> BoxFuture<'a, Result<Output, DbError>> {
        Box::pin(async move {
            self.command(STATEMENT).await?;
            match run_on(&mut self.tx, sql, params).await {
                Ok(out) => {
                    self.command(STATEMENT_OK).await?;
                    Ok(out)
                }
                Err(e) => {
                    let _ = self.command(STATEMENT_FAILED).await;
                    Err(e)
                }
            }
        })
    }

    fn script<'a>(&'a mut self, sql: &'a str) -> BoxFuture<'a, Result<(), DbError>> {
        Box::pin(self.command(sql))
    }

    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), DbError>> {
        Box::pin(async move {
            let PgTx { tx, aborted } = *self;
            match aborted {
                None => tx.commit().await.map_err(classify),
                Some(reason) => {
                    let _ = tx.rollback().await;
                    Err(aborted_error(&reason))
                }
            }
        })
    }

    fn rollback(self: Box<Self>) -> BoxFuture<'static, Result<(), DbError>> {
        Box::pin(async move { self.tx.rollback().await.map_err(classify) })
    }
}

/// The error of a commit that PostgreSQL would have turned into a rollback.
fn aborted_error(reason: &str) -> DbError {
    DbError::caller(format!(
        "the transaction was rolled back, not committed: PostgreSQL aborted it when a command \
         failed ({reason}); nothing it wrote was kept. Return that error from the closure, or \
         retry the transaction"
    ))
}

#[cfg(test)]
mod tests {
    use crate::backend::Backend;

    /// A transaction the server aborted (here a failed command outside the
    /// per-statement savepoint) does not report a commit.
    #[tokio::test]
    async fn a_commit_of_an_aborted_transaction_is_an_error() {
        let url = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let backend = match super::open(&url).await {
            Ok(backend) => backend,
            Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("PostgreSQL is required under CI=true: {e}")
            }
            Err(e) => return eprintln!("skipping the PostgreSQL run: {e}"),
        };
        let mut conn = backend.begin().await.unwrap();
        assert!(conn.script("SELECT 1/0").await.is_err());
        let e = conn.commit().await.unwrap_err();
        assert!(
            e.message.contains("rolled back, not committed")
                && e.message
                    .contains("when a command failed (division by zero)"),
            "{e}"
        );
        backend.close().await;
    }
}
