//! An open SQLite transaction.
//!
//! A failed statement normally undoes only itself, but some failures make
//! SQLite roll back the whole transaction (a trigger's `RAISE(ROLLBACK, …)`,
//! a full disk, an I/O error). The connection is then in autocommit mode:
//! every later statement of the closure would commit on its own, and only the
//! final `COMMIT` would fail. So after a failed statement the transaction
//! checks that it is still open (a `BEGIN` fails inside one); if SQLite ended
//! it, every later statement and the commit fail instead of writing.

use futures::future::BoxFuture;
use sqlx::{AssertSqlSafe, Sqlite, Transaction};

use super::{classify, exec};
use crate::backend::{Conn, Output};
use crate::error::DbError;
use crate::value::Value;

pub(super) struct SqliteTx {
    tx: Transaction<'static, Sqlite>,
    /// Why SQLite rolled the transaction back, once it has.
    ended: Option<String>,
}

impl SqliteTx {
    pub(super) fn new(tx: Transaction<'static, Sqlite>) -> Self {
        Self { tx, ended: None }
    }

    fn check(&self) -> Result<(), DbError> {
        match &self.ended {
            Some(reason) => Err(rolled_back(reason)),
            None => Ok(()),
        }
    }

    async fn raw(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut *self.tx)
            .await
            .map(drop)
    }

    /// After a failed statement: whether SQLite ended the transaction. The
    /// probe's `BEGIN` stays open (empty, as nothing runs in it any more), so
    /// sqlx's own count of open transactions stays right and its `ROLLBACK`
    /// at the end succeeds.
    async fn after_failure(&mut self, e: &DbError) {
        if self.raw("BEGIN").await.is_ok() {
            self.ended = Some(e.message.clone());
        }
    }
}

impl Conn for SqliteTx {
    fn run<'a>(
        &'a mut self,
        sql: &'a str,
        params: &'a [Value],
    ) -> BoxFuture<'a, Result<Output, DbError>> {
        Box::pin(async move {
            self.check()?;
            match exec::fetch(&mut self.tx, sql, params).await {
                Ok((rows, affected)) => exec::output(rows, affected),
                Err(e) => {
                    let e = classify(e);
                    self.after_failure(&e).await;
                    Err(e)
                }
            }
        })
    }

    fn script<'a>(&'a mut self, sql: &'a str) -> BoxFuture<'a, Result<(), DbError>> {
        Box::pin(async move {
            self.check()?;
            match self.raw(sql).await {
                Ok(()) => Ok(()),
                Err(e) => {
                    let e = classify(e);
                    self.after_failure(&e).await;
                    Err(e)
                }
            }
        })
    }

    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), DbError>> {
        Box::pin(async move {
            match &self.ended {
                None => self.tx.commit().await.map_err(classify),
                Some(reason) => {
                    let e = rolled_back(reason);
                    let _ = self.tx.rollback().await;
                    Err(e)
                }
            }
        })
    }

    fn rollback(self: Box<Self>) -> BoxFuture<'static, Result<(), DbError>> {
        Box::pin(async move { self.tx.rollback().await.map_err(classify) })
    }
}

/// The error of any use of a transaction SQLite rolled back on its own.
fn rolled_back(reason: &str) -> DbError {
    DbError::caller(format!(
        "the transaction was rolled back, not committed: SQLite ended it when a statement \
         failed ({reason}); nothing it wrote was kept. Return that error from the closure, or \
         retry the transaction"
    ))
}
