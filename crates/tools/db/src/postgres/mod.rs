//! The PostgreSQL backend.

mod bind;
mod decode;
mod error;
mod tx;

use std::str::FromStr;
use std::time::Duration;

use futures::TryStreamExt;
use futures::future::BoxFuture;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Either, Executor, PgConnection, SqlSafeStr, Statement};

use crate::backend::{Backend, Conn, Engine, Output};
use crate::error::DbError;
use crate::value::Value;

pub(crate) use error::classify;
use tx::PgTx;

/// The advisory lock the tool's own DDL holds (migrations, the outbox
/// table), so replicas booting together take turns, across processes. The
/// transactions of plugins do not take it: they run `SERIALIZABLE` and are
/// re-run on a conflict (see `tx`). The value is the one every version used.
const DDL_LOCK_KEY: i64 = 0x4d43_5f54_5800; // "MC_TX"

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
            let tx = self
                .pool
                .begin_with(tx::BEGIN_SERIALIZABLE)
                .await
                .map_err(classify)?;
            Ok(Box::new(PgTx::armed(tx)) as Box<dyn Conn>)
        })
    }

    fn begin_exclusive(&self) -> BoxFuture<'_, Result<Box<dyn Conn>, DbError>> {
        Box::pin(async move {
            let mut tx = self.pool.begin().await.map_err(classify)?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(DDL_LOCK_KEY)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            Ok(Box::new(PgTx::bare(tx)) as Box<dyn Conn>)
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.pool.close())
    }
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
