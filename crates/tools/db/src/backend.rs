//! The narrow seam between the handle and an engine.
//!
//! Everything above this trait (transactions, migrations, schema, error
//! vocabulary) is written once; each engine only runs statements, opens
//! transactions and closes its pool.

use futures::future::BoxFuture;

use crate::error::DbError;
use crate::value::Value;

/// One result row: columns in select order, each decoded to JSON.
pub(crate) type Row = Vec<(String, serde_json::Value)>;

/// What one statement produced.
#[derive(Debug, Default)]
pub(crate) struct Output {
    pub(crate) rows: Vec<Row>,
    pub(crate) rows_affected: u64,
}

/// Which engine a backend drives (for engine-specific SQL such as schema queries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Engine {
    Sqlite,
    Postgres,
}

/// A connection inside an open transaction. Dropping it without commit rolls
/// the transaction back (sqlx queues the rollback on the connection).
pub(crate) trait Conn: Send {
    /// One statement with `$n` parameters.
    fn run<'a>(
        &'a mut self,
        sql: &'a str,
        params: &'a [Value],
    ) -> BoxFuture<'a, Result<Output, DbError>>;
    /// A script of several statements without parameters (migrations, savepoints).
    fn script<'a>(&'a mut self, sql: &'a str) -> BoxFuture<'a, Result<(), DbError>>;
    /// Commits.
    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), DbError>>;
    /// Rolls back.
    fn rollback(self: Box<Self>) -> BoxFuture<'static, Result<(), DbError>>;
    /// The conflict with concurrent transactions (kind `Conflict`) a command
    /// of this transaction met, if any: the transaction cannot commit and is
    /// to be run again whatever its closure returned (it may have caught the
    /// error, or turned it into its own type).
    fn conflict(&self) -> Option<DbError> {
        None
    }
}

/// An engine with its pool.
pub(crate) trait Backend: Send + Sync + 'static {
    /// Which engine.
    fn engine(&self) -> Engine;
    /// Where it points, without secrets (for the boot report).
    fn location(&self) -> String;
    /// One statement on a pooled connection, committed on its own.
    fn run<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Value],
    ) -> BoxFuture<'a, Result<Output, DbError>>;
    /// The first row of one statement on a pooled connection, committed on
    /// its own: what `query_one` reads. An engine may stop reading after that
    /// row (SQLite: one hand-over from its connection thread instead of two).
    fn run_first<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Value],
    ) -> BoxFuture<'a, Result<Option<Row>, DbError>> {
        Box::pin(async move { Ok(self.run(sql, params).await?.rows.into_iter().next()) })
    }
    /// Opens the transaction of a `db.transaction` closure. SQLite: `BEGIN
    /// IMMEDIATE`, the database's one write lock until it ends. PostgreSQL:
    /// `SERIALIZABLE`, no lock; a clash with a concurrent transaction shows
    /// as [`Conn::conflict`] and the closure runs again.
    fn begin(&self) -> BoxFuture<'_, Result<Box<dyn Conn>, DbError>>;
    /// Opens a transaction that holds the database's write lock until it
    /// ends, across replicas (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a
    /// transaction-scoped advisory lock), for the DDL of replicas booting
    /// together (`CREATE TABLE IF NOT EXISTS` is not atomic in PostgreSQL).
    fn begin_exclusive(&self) -> BoxFuture<'_, Result<Box<dyn Conn>, DbError>> {
        self.begin()
    }
    /// Opens the transaction of one migration file. Like
    /// [`Backend::begin_exclusive`], and on SQLite with foreign keys off until
    /// it ends (a pragma SQLite ignores inside a transaction), checked before
    /// it commits, so the documented table-rebuild recipe does not cascade
    /// into child tables.
    fn begin_migration(&self) -> BoxFuture<'_, Result<Box<dyn Conn>, DbError>> {
        self.begin_exclusive()
    }
    /// Closes the pool.
    fn close(&self) -> BoxFuture<'_, ()>;
}
