//! An open PostgreSQL transaction.
//!
//! PostgreSQL aborts the whole transaction at the first failed statement and
//! then turns `COMMIT` into `ROLLBACK` (sqlx does not read the tag), so a
//! closure that caught a failed statement and returned `Ok` would "commit"
//! nothing and report success. SQLite undoes only the failed statement. To
//! behave the same, each statement runs under the savepoint `mc_stmt`, rolled
//! back when the statement fails, which leaves the transaction usable; and
//! should the transaction be aborted anyway (a failed savepoint command),
//! `commit` rolls back and fails instead of reporting success.
//!
//! The savepoint costs round trips, so it is set up lazily and in one message
//! with what comes before it: `BEGIN …; SAVEPOINT mc_stmt` opens the
//! transaction with it ready, a statement that succeeds leaves it to the next
//! one (`RELEASE …; SAVEPOINT …` in one message, or nothing before `COMMIT`,
//! which keeps its work), and `ROLLBACK TO` after a failure leaves it ready
//! again. A short read-modify-write thus costs one round trip more than bare
//! sqlx, not three.
//!
//! A transaction of a closure runs `SERIALIZABLE`. A serialization failure
//! or a deadlock (kind `Conflict`), at a statement or at `COMMIT`, dooms it:
//! every later command fails with that conflict without reaching the server,
//! [`Conn::conflict`] reports it, and the transaction layer re-runs the
//! closure on a fresh transaction.

use std::borrow::Cow;

use futures::future::BoxFuture;
use sqlx::{AssertSqlSafe, Postgres, Transaction};

use super::{classify, run_on};
use crate::backend::{Conn, Output};
use crate::error::{DbError, DbErrorKind};
use crate::value::Value;

/// Opens the transaction of a closure with the statement savepoint ready.
pub(super) const BEGIN_SERIALIZABLE: &str = "BEGIN ISOLATION LEVEL SERIALIZABLE; SAVEPOINT mc_stmt";

/// Where the statement savepoint stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// Not open (the transaction began without it, or a script released it).
    Closed,
    /// Open and empty: the next statement runs under it as is.
    Ready,
    /// Open and holding the last statement's work: released before the next one.
    Used,
}

pub(super) struct PgTx {
    tx: Transaction<'static, Postgres>,
    mark: Mark,
    /// Why the server aborted the transaction, once it has.
    aborted: Option<String>,
    /// The conflict with a concurrent transaction that doomed this one.
    conflict: Option<DbError>,
}

impl PgTx {
    /// A transaction begun with [`BEGIN_SERIALIZABLE`].
    pub(super) fn armed(tx: Transaction<'static, Postgres>) -> Self {
        Self::with(tx, Mark::Ready)
    }

    /// A transaction begun without the statement savepoint.
    pub(super) fn bare(tx: Transaction<'static, Postgres>) -> Self {
        Self::with(tx, Mark::Closed)
    }

    fn with(tx: Transaction<'static, Postgres>, mark: Mark) -> Self {
        Self {
            tx,
            mark,
            aborted: None,
            conflict: None,
        }
    }

    /// Fails at once, with the conflict, once one doomed the transaction.
    fn doomed(&self) -> Result<(), DbError> {
        match &self.conflict {
            Some(conflict) => Err(conflict.clone()),
            None => Ok(()),
        }
    }

    /// Records a failure: a conflict dooms the transaction.
    fn failed(&mut self, e: &DbError) {
        if e.kind == DbErrorKind::Conflict {
            self.conflict.get_or_insert_with(|| e.clone());
        }
    }

    /// A parameterless command; a failure marks the transaction aborted.
    async fn command(&mut self, sql: &str) -> Result<(), DbError> {
        let result = sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut *self.tx)
            .await
            .map(drop)
            .map_err(classify);
        if let Err(e) = &result {
            self.aborted.get_or_insert_with(|| e.message.clone());
            self.failed(e);
        }
        result
    }

    /// Makes the statement savepoint open and empty.
    async fn ready(&mut self) -> Result<(), DbError> {
        let setup = match self.mark {
            Mark::Ready => return Ok(()),
            Mark::Closed => "SAVEPOINT mc_stmt",
            Mark::Used => "RELEASE SAVEPOINT mc_stmt; SAVEPOINT mc_stmt",
        };
        self.command(setup).await?;
        self.mark = Mark::Ready;
        Ok(())
    }
}

impl Conn for PgTx {
    fn run<'a>(
        &'a mut self,
        sql: &'a str,
        params: &'a [Value],
    ) -> BoxFuture<'a, Result<Output, DbError>> {
        Box::pin(async move {
            self.doomed()?;
            self.ready().await?;
            match run_on(&mut self.tx, sql, params).await {
                Ok(out) => {
                    self.mark = Mark::Used;
                    Ok(out)
                }
                Err(e) => {
                    self.failed(&e);
                    if self.conflict.is_none()
                        && self.command("ROLLBACK TO SAVEPOINT mc_stmt").await.is_ok()
                    {
                        self.mark = Mark::Ready;
                    }
                    Err(e)
                }
            }
        })
    }

    /// Savepoints of nested transactions and migration scripts: the statement
    /// savepoint is released first (in the same message), so it never wraps
    /// them and a later statement's rollback cannot undo them.
    fn script<'a>(&'a mut self, sql: &'a str) -> BoxFuture<'a, Result<(), DbError>> {
        Box::pin(async move {
            self.doomed()?;
            let sql = match self.mark {
                Mark::Closed => Cow::Borrowed(sql),
                Mark::Ready | Mark::Used => Cow::Owned(format!("RELEASE SAVEPOINT mc_stmt; {sql}")),
            };
            self.mark = Mark::Closed;
            self.command(&sql).await
        })
    }

    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), DbError>> {
        Box::pin(async move {
            let PgTx {
                tx,
                aborted,
                conflict,
                ..
            } = *self;
            if let Some(conflict) = conflict {
                let _ = tx.rollback().await;
                return Err(conflict);
            }
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

    fn conflict(&self) -> Option<DbError> {
        self.conflict.clone()
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
