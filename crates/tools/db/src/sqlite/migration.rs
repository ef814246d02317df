//! The connection a SQLite migration runs on: foreign keys off for the
//! whole file, checked before it commits, on again after.
//!
//! `PRAGMA foreign_keys` is a no-op inside a transaction, so a migration that
//! follows SQLite's table-rebuild recipe (<https://sqlite.org/lang_altertable.html#otheralter>)
//! under `BEGIN IMMEDIATE` with foreign keys on would `DROP TABLE` a parent
//! and delete its children through `ON DELETE CASCADE`. Here the pragma is
//! set before `BEGIN`, and `PRAGMA foreign_key_check` decides whether the
//! file may commit.

use futures::future::BoxFuture;
use sqlx::pool::PoolConnection;
use sqlx::{AssertSqlSafe, Executor, Sqlite};

use super::{classify, exec};
use crate::backend::{Conn, Output};
use crate::error::DbError;
use crate::value::Value;

/// A migration's connection. Dropped before it commits or rolls back (the
/// migration future was cancelled), it is closed instead of going back to
/// the pool with foreign keys off and a transaction open; closing rolls the
/// transaction back.
pub(super) struct MigrationConn {
    conn: PoolConnection<Sqlite>,
    finished: bool,
}

impl Drop for MigrationConn {
    fn drop(&mut self) {
        if !self.finished {
            self.conn.close_on_drop();
        }
    }
}

/// Foreign keys off, then `BEGIN IMMEDIATE` (the write lock, as for transactions).
pub(super) async fn begin(mut conn: PoolConnection<Sqlite>) -> Result<MigrationConn, DbError> {
    conn.execute("PRAGMA foreign_keys = OFF")
        .await
        .map_err(classify)?;
    let mut migration = MigrationConn {
        conn,
        finished: false,
    };
    match migration.conn.execute("BEGIN IMMEDIATE").await {
        Ok(_) => Ok(migration),
        Err(e) => {
            migration.restore().await;
            Err(classify(e))
        }
    }
}

impl MigrationConn {
    async fn raw(&mut self, sql: &str) -> Result<(), DbError> {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut *self.conn)
            .await
            .map(drop)
            .map_err(classify)
    }

    /// Foreign keys on again. Only when they read back as on (the pragma is
    /// a no-op while a transaction is still open) is the connection fit for
    /// the pool; otherwise it is closed on drop.
    async fn restore(&mut self) {
        if self.raw("PRAGMA foreign_keys = ON").await.is_err() {
            return;
        }
        let on = exec::fetch(&mut self.conn, "PRAGMA foreign_keys", &[])
            .await
            .ok()
            .and_then(|(rows, _)| exec::output(rows, 0).ok())
            .and_then(|out| out.rows.into_iter().next())
            .and_then(|row| row.into_iter().next())
            .is_some_and(|(_, v)| v == 1);
        self.finished = on;
    }

    /// The first row `PRAGMA foreign_key_check` reports, as an error.
    async fn check_foreign_keys(&mut self) -> Result<(), DbError> {
        let (rows, _) = exec::fetch(&mut self.conn, "PRAGMA foreign_key_check", &[])
            .await
            .map_err(classify)?;
        let rows = exec::output(rows, 0)?.rows;
        let Some(row) = rows.first() else {
            return Ok(());
        };
        let field = |name: &str| {
            row.iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .unwrap_or_default()
        };
        Err(DbError::caller(format!(
            "it leaves {} row(s) in table {} whose foreign key points at a missing row of {} \
             (first: rowid {}); move or delete those rows in the migration before it ends",
            rows.len(),
            field("table"),
            field("parent"),
            field("rowid")
        )))
    }
}

impl Conn for MigrationConn {
    fn run<'a>(
        &'a mut self,
        sql: &'a str,
        params: &'a [Value],
    ) -> BoxFuture<'a, Result<Output, DbError>> {
        Box::pin(async move {
            let (rows, affected) = exec::fetch(&mut self.conn, sql, params)
                .await
                .map_err(classify)?;
            exec::output(rows, affected)
        })
    }

    fn script<'a>(&'a mut self, sql: &'a str) -> BoxFuture<'a, Result<(), DbError>> {
        Box::pin(self.raw(sql))
    }

    fn commit(mut self: Box<Self>) -> BoxFuture<'static, Result<(), DbError>> {
        Box::pin(async move {
            let result = match self.check_foreign_keys().await {
                Ok(()) => self.raw("COMMIT").await,
                Err(e) => Err(e),
            };
            if result.is_err() {
                let _ = self.raw("ROLLBACK").await;
            }
            self.restore().await;
            result
        })
    }

    fn rollback(mut self: Box<Self>) -> BoxFuture<'static, Result<(), DbError>> {
        Box::pin(async move {
            let result = self.raw("ROLLBACK").await;
            self.restore().await;
            result
        })
    }
}
