//! The `Db` handle plugins hold, and its life cycle as a kernel tool.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use microcore_kernel::{Probe, Tool, ToolError, ToolSetup};
use serde::de::DeserializeOwned;

use crate::backend::{Backend, Engine, Output};
use crate::core::Core;
use crate::error::DbError;
use crate::migrate::{self, MIGRATIONS, Migration};
use crate::migration_status::{self, MigrationStatus};
use crate::outbox::{Outbox, OutboxSettings};
use crate::schema::{self, Schema};
use crate::sql::Sql;
use crate::tx::{self, Tx};
use crate::value::{Params, Value};
use crate::{ops, postgres, retry, sqlite};

/// The database. Cheap to clone; every clone shares one pool.
///
/// Write `$1..$n` placeholders on every backend and pass values with
/// [`params!`](crate::params). A call made inside [`Db::transaction`]'s closure
/// (even through another clone of this handle) joins that transaction.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Core>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.inner.backend().location())
            .finish()
    }
}

#[microcore_kernel::contract(
    backends = "SQLite (default) | PostgreSQL, by DATABASE_URL; tests: SQLite in memory",
    env = "DATABASE_URL, DB_* tuning",
    errors = "DbError; branch on `e.kind`: DbErrorKind::{UniqueViolation, ForeignKeyViolation, NotNullViolation, CheckViolation, Busy, Conflict, Unavailable, Unknown}"
)]
impl Db {
    fn from_backend(backend: Box<dyn Backend>, probe: Probe) -> Self {
        Self {
            inner: Arc::new(Core::new(backend, probe)),
        }
    }

    /// Connects to `url` without applying migrations (tests, scripts).
    ///
    /// Accepts what `DATABASE_URL` accepts: `sqlite:path.db`, `sqlite::memory:`,
    /// `postgres://user:pass@host:5432/db` (or `postgresql://`).
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        Self::open(
            Some(url),
            sqlite::DEFAULT_BUSY_TIMEOUT,
            Probe::detached("db"),
        )
        .await
    }

    /// A fresh, private, empty in-memory SQLite database (tests). Apply a
    /// schema with [`Db::migrate`] or [`Db::apply_migrations`].
    pub async fn sqlite_memory() -> Result<Db, DbError> {
        let backend = sqlite::open_memory(sqlite::DEFAULT_BUSY_TIMEOUT).await?;
        Ok(Self::from_backend(Box::new(backend), Probe::detached("db")))
    }

    async fn open(url: Option<&str>, busy_timeout: Duration, probe: Probe) -> Result<Db, DbError> {
        let backend: Box<dyn Backend> = match url {
            None => Box::new(sqlite::open(None, busy_timeout).await?),
            Some(u) if u.starts_with("sqlite:") => {
                Box::new(sqlite::open(Some(u), busy_timeout).await?)
            }
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                Box::new(postgres::open(u).await?)
            }
            Some(u) => {
                return Err(DbError::tool(format!(
                    "DATABASE_URL={:?} is not supported; use sqlite:path/to/file.db (or leave it \
                     unset for ./microcore.db), sqlite::memory:, or \
                     postgres://user:password@host:5432/database",
                    microcore_kernel::redact_url(u)
                )));
            }
        };
        Ok(Self::from_backend(backend, probe))
    }

    async fn observe<T>(
        &self,
        method: &'static str,
        call: impl Future<Output = Result<T, DbError>>,
    ) -> Result<T, DbError> {
        self.inner.observe(method, call).await
    }

    /// One statement: inside the task's open transaction if there is one.
    async fn run(&self, sql: &str, params: &[Value]) -> Result<Output, DbError> {
        tx::statement(&self.inner, sql, params).await
    }

    /// Runs a statement and returns every row it yields as a `T`, none as an empty Vec.
    ///
    /// `T` is a struct with `Deserialize` whose fields are named like the
    /// columns, or `serde_json::Value`.
    ///
    /// Column values: integers and reals as JSON numbers, text as strings,
    /// blobs as base64 strings, booleans as `true/false` (SQLite columns
    /// declared `BOOLEAN`), JSON columns as JSON on PostgreSQL (text on SQLite),
    /// timestamps as RFC 3339 text on PostgreSQL (as stored on SQLite), NULL as `null`.
    pub async fn query<T: DeserializeOwned>(
        &self,
        sql: impl Into<Sql>,
        params: Params,
    ) -> Result<Vec<T>, DbError> {
        let sql = sql.into();
        self.observe("query", async {
            ops::rows(self.run(sql.as_str(), &params).await?)
        })
        .await
    }

    /// Runs a statement, INSERT … RETURNING included, and returns its first row as a `T` if any.
    ///
    /// `None` when the statement yields no rows. Any statement that returns
    /// rows works: a `SELECT`, or a write with `RETURNING *` whose row you
    /// want whole.
    pub async fn query_one<T: DeserializeOwned>(
        &self,
        sql: impl Into<Sql>,
        params: Params,
    ) -> Result<Option<T>, DbError> {
        let sql = sql.into();
        self.observe("query_one", async {
            ops::first_of(tx::first_row(&self.inner, sql.as_str(), &params).await?)
        })
        .await
    }

    /// Runs a statement and returns its RETURNING integer, else the number of rows it changed.
    ///
    /// The number is the same on every backend:
    ///
    /// - when the statement returns rows (`... RETURNING id`), the first column
    ///   of the first row, which must be an integer (`INSERT ... RETURNING id`
    ///   gives the new id);
    /// - otherwise the number of rows affected (`UPDATE` that matches nothing → `0`;
    ///   `UPDATE ... RETURNING id` that matches nothing → `0` too).
    ///
    /// There is no "last insert id": it is not portable. Write `RETURNING id`.
    pub async fn execute(&self, sql: impl Into<Sql>, params: Params) -> Result<i64, DbError> {
        let sql = sql.into();
        self.observe("execute", async {
            ops::execute_result(self.run(sql.as_str(), &params).await?)
        })
        .await
    }

    /// Runs one statement per parameter list in one transaction and returns the rows changed in all.
    ///
    /// All or nothing: the first failing list rolls back every one. An empty
    /// list does nothing.
    pub async fn execute_many(
        &self,
        sql: impl Into<Sql>,
        rows: Vec<Params>,
    ) -> Result<u64, DbError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let sql = sql.into();
        self.transaction(|tx| {
            let (sql, rows) = (sql.clone(), rows.clone());
            async move { tx.execute_many(sql, rows).await }
        })
        .await
    }

    /// Runs `f` in a transaction: Ok commits, Err or drop rolls back; `f` may run again.
    ///
    /// `f` may run more than once: on PostgreSQL a transaction that conflicts
    /// with a concurrent one is rolled back and `f` runs again, so clone what
    /// it moves: `db.transaction(|tx| { let name = name.clone(); async move { .. } })`.
    /// Dropping the returned future (cancellation, timeout, panic) rolls back.
    /// A statement that fails inside `f` undoes only itself on both engines:
    /// if `f` catches the error and returns `Ok`, the rest commits (on
    /// PostgreSQL each statement runs under its own savepoint for this).
    ///
    /// ```no_run
    /// # use microcore_db::{Db, DbError, params};
    /// # async fn demo(db: Db, sku: String) -> Result<i64, DbError> {
    /// let id = db.transaction(|tx| {
    ///     let sku = sku.clone();
    ///     async move {
    ///         let id = tx.execute("INSERT INTO orders (total) VALUES ($1) RETURNING id", params![30]).await?;
    ///         tx.execute("INSERT INTO order_lines (order_id, sku) VALUES ($1, $2)", params![id, sku]).await?;
    ///         Ok(id)
    ///     }
    /// }).await?;
    /// # Ok(id) }
    /// ```
    ///
    /// - A read-modify-write inside one is safe on both engines. SQLite runs
    ///   one transaction at a time. PostgreSQL runs them side by side at
    ///   SERIALIZABLE and re-runs `f` when one conflicts, up to
    ///   `DB_TX_MAX_ATTEMPTS` runs, then fails with kind `Conflict`. Keep
    ///   transactions short, and do work outside the database (calls, an
    ///   `event_bus.publish`) after it: it would happen once per run. Announce
    ///   a write with `tx.publish`, which leaves once, with the committed run.
    /// - Inside `f`, plain `db.query/execute` calls of this task (through any
    ///   clone of this `Db`) join the transaction, and `db.transaction` /
    ///   `tx.transaction` open a savepoint: its `Err` undoes only its own work.
    /// - Do not `tokio::spawn` work that uses the db and await it inside `f`:
    ///   the spawned task is outside the transaction and waits for it.
    /// - To abort with your own error type, use [`Db::try_transaction`].
    pub async fn transaction<T, F, Fut>(&self, f: F) -> Result<T, DbError>
    where
        F: FnMut(Tx) -> Fut + Send,
        Fut: Future<Output = Result<T, DbError>> + Send,
        T: Send,
    {
        tx::run(&self.inner, f).await
    }

    /// Like [`Db::transaction`], with your own error type `E: From<DbError>`.
    ///
    /// `E` is e.g. an HTTP error. Annotate the success: `Ok::<_, MyError>(value)`.
    /// A conflict still re-runs `f` when `?` turned it into your `E`, and
    /// when every run conflicted you get `E::from` the `Conflict` error.
    pub async fn try_transaction<T, E, F, Fut>(&self, f: F) -> Result<T, E>
    where
        F: FnMut(Tx) -> Fut + Send,
        Fut: Future<Output = Result<T, E>> + Send,
        T: Send,
        E: From<DbError> + Send,
    {
        tx::run(&self.inner, f).await
    }
}

/// Framework-facing: used by the kernel, the test kit, `/system/*` and the
/// manifest generator. Not part of the plugin contract, so AI_CONTEXT.md
/// leaves it out.
impl Db {
    /// The tables of the database (engine tables excluded), with normalised
    /// column types, for tools and agents that need to see the schema.
    pub async fn describe_schema(&self) -> Result<Schema, DbError> {
        self.observe("describe_schema", schema::describe(&self.inner))
            .await
    }

    /// Applies every pending migration registered in [`MIGRATIONS`] and
    /// returns their keys (`users/001_create_users.sql`) in the order applied.
    pub async fn migrate(&self) -> Result<Vec<String>, DbError> {
        self.apply_migrations(&MIGRATIONS).await
    }

    /// Applies the pending ones of an explicit list of migrations (tests, tools).
    /// A file named `<name>.<engine>.sql` (`sqlite` or `postgres`) replaces
    /// `<name>.sql` on that engine, for the DDL that cannot be portable
    /// (auto-numbered keys); other SQL is never translated.
    pub async fn apply_migrations(&self, list: &[Migration]) -> Result<Vec<String>, DbError> {
        let on_engine = migrate::for_engine(list, self.engine());
        let applied = self
            .observe("migrate", migrate::apply(&self.inner, &on_engine, list))
            .await?;
        *self.inner.migrations.lock() = match applied.len() {
            0 => "up to date".to_owned(),
            n => format!("{n} applied ({})", applied.join(", ")),
        };
        Ok(applied)
    }

    /// Where every registered migration stands on this database, without changing anything.
    ///
    /// In the order they apply, then history rows whose file is gone; for an
    /// operator's `migrate --status`. See [`MigrationState`](crate::MigrationState).
    pub async fn migration_status(&self) -> Result<Vec<MigrationStatus>, DbError> {
        self.migration_status_of(&MIGRATIONS).await
    }

    /// [`Db::migration_status`] of an explicit list of migrations (tests, tools).
    pub async fn migration_status_of(
        &self,
        list: &[Migration],
    ) -> Result<Vec<MigrationStatus>, DbError> {
        let on_engine = migrate::for_engine(list, self.engine());
        self.observe(
            "migration_status",
            migration_status::status(&self.inner, &on_engine, list),
        )
        .await
    }

    /// The relay's side of the transactional outbox (see [`Outbox`]).
    pub fn outbox(&self) -> Outbox {
        Outbox::new(self.inner.clone())
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn engine(&self) -> &'static str {
        match self.inner.engine() {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }

    /// Closes the pool; later calls fail as `unavailable`.
    pub async fn close(&self) {
        self.inner.backend().close().await;
    }
}

impl Tool for Db {
    const NAME: &'static str = "db";

    async fn setup(setup: ToolSetup) -> Result<Self, ToolError> {
        let url = setup
            .env
            .get("DATABASE_URL")
            .map(str::trim)
            .filter(|u| !u.is_empty());
        let auto = setup
            .env
            .flag("DB_AUTO_MIGRATE", true)
            .map_err(ToolError::new)?;
        let busy_timeout = sqlite::busy_timeout(&setup.env).map_err(ToolError::new)?;
        let outbox = OutboxSettings::from_env(&setup.env).map_err(ToolError::new)?;
        let attempts = retry::max_attempts(&setup.env).map_err(ToolError::new)?;
        let db = Self::open(url, busy_timeout, setup.probe)
            .await
            .map_err(|e| ToolError::new(e.message))?;
        *db.inner.outbox_settings.lock() = outbox;
        db.inner.set_tx_max_attempts(attempts);
        if auto {
            db.migrate().await.map_err(|e| ToolError::new(e.message))?;
        } else {
            let line = skipped_line(&db).await;
            *db.inner.migrations.lock() = line;
        }
        Ok(db)
    }

    async fn setup_for_tests(setup: ToolSetup) -> Result<Self, ToolError> {
        let busy_timeout = sqlite::busy_timeout(&setup.env).map_err(ToolError::new)?;
        let backend = sqlite::open_memory(busy_timeout)
            .await
            .map_err(|e| ToolError::new(e.message))?;
        let db = Self::from_backend(Box::new(backend), setup.probe);
        *db.inner.outbox_settings.lock() =
            OutboxSettings::from_env(&setup.env).map_err(ToolError::new)?;
        db.inner
            .set_tx_max_attempts(retry::max_attempts(&setup.env).map_err(ToolError::new)?);
        db.migrate().await.map_err(|e| ToolError::new(e.message))?;
        Ok(db)
    }

    async fn shutdown(&self) -> Result<(), ToolError> {
        self.close().await;
        Ok(())
    }

    fn report(&self) -> Vec<String> {
        vec![
            format!("backend: {}", self.inner.backend().location()),
            format!("migrations: {}", self.inner.migrations.lock()),
        ]
    }
}

/// The boot report's migrations line when this replica does not migrate:
/// names the pending files, so a rollout that forgot `migrate` is visible in
/// the first screen of the log rather than as missing tables later.
async fn skipped_line(db: &Db) -> String {
    const SKIPPED: &str = "skipped (DB_AUTO_MIGRATE=false)";
    let status = match db.migration_status().await {
        Ok(status) => status,
        Err(e) => return format!("{SKIPPED}; status unknown: {}", e.message),
    };
    let pending: Vec<&str> = status
        .iter()
        .filter(|m| m.state == crate::MigrationState::Pending)
        .map(|m| m.key.as_str())
        .collect();
    match pending.len() {
        0 => format!("{SKIPPED}; none pending"),
        n => format!(
            "{SKIPPED}; {n} PENDING, run `<app> migrate`: {}",
            pending.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_unsupported_url_is_named_without_its_password() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let Err(err) = rt.block_on(super::Db::open(
            Some("mysql://u:S3cr@tPW@h/db"),
            std::time::Duration::from_secs(1),
            microcore_kernel::Probe::detached("db"),
        )) else {
            panic!("mysql is not supported");
        };
        let err = err.to_string();
        assert!(err.contains("mysql://***@h/db"), "{err}");
        assert!(!err.contains("S3cr") && !err.contains("tPW"), "{err}");
    }
}
