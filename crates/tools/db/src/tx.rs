//! Transactions: a closure runs with a [`Tx`]; `Ok` commits, `Err` rolls back,
//! and so does dropping the future (cancellation, a panic, a timeout).
//!
//! While the closure runs, the transaction is also recorded in a task-local,
//! so a plain `db.query/execute` issued by code that only holds the `Db` (a
//! helper function, another handle clone) joins it instead of committing on
//! its own, and a `db.transaction` inside becomes a savepoint. The task-local
//! does not cross `tokio::spawn`: a spawned task uses its own connection and
//! must not be awaited by the transaction if it opens one too (it would wait
//! for the transaction to end).
//!
//! Two read-modify-write transactions never interleave, on either engine,
//! but by different means. SQLite: a top-level transaction takes the write
//! lock for its whole duration (`BEGIN IMMEDIATE`) and runs once. PostgreSQL:
//! transactions run side by side at `SERIALIZABLE`, and one the server cannot
//! order with the others (serialization failure, deadlock) is rolled back and
//! its closure runs again (see [`run`]); the closure is `FnMut` for this, and
//! events it stores with [`Tx::publish`] leave only with the committed run.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use microcore_kernel::{EventName, TraceContext, current_event_id, current_identity};
use serde::de::DeserializeOwned;

use crate::backend::{Conn, Engine, Output, Row};
use crate::core::Core;
use crate::error::{DbError, DbErrorKind};
use crate::ops;
use crate::outbox::table;
use crate::retry;
use crate::sql::{Sql, check_arity};
use crate::value::{Params, Value};

tokio::task_local! {
    static CURRENT: Tx;
}

/// The open transaction of the current task on `core`, if any.
pub(crate) fn current(core: &Core) -> Option<Tx> {
    CURRENT
        .try_with(Tx::clone)
        .ok()
        .filter(|tx| tx.core.same(core))
}

/// One statement: inside the task's open transaction if there is one, else
/// on its own pooled connection.
pub(crate) async fn statement(core: &Core, sql: &str, params: &[Value]) -> Result<Output, DbError> {
    check_arity(sql, params.len(), core.engine())?;
    match current(core) {
        Some(tx) => tx.run(sql, params).await,
        None => core.backend().run(sql, params).await,
    }
}

/// The first row of one statement (`query_one`): like [`statement`], but
/// outside a transaction the engine may stop reading after that row.
pub(crate) async fn first_row(
    core: &Core,
    sql: &str,
    params: &[Value],
) -> Result<Option<Row>, DbError> {
    check_arity(sql, params.len(), core.engine())?;
    match current(core) {
        Some(tx) => Ok(tx.run(sql, params).await?.rows.into_iter().next()),
        None => core.backend().run_first(sql, params).await,
    }
}

/// A handle on an open transaction (or savepoint), given to the closure of
/// [`Db::transaction`](crate::Db::transaction). Cheap to clone. It is only valid inside that closure:
/// used afterwards, every call fails.
#[derive(Clone)]
pub struct Tx {
    core: Arc<Core>,
    shared: Arc<Shared>,
    depth: u32,
    alive: Arc<AtomicBool>,
    /// Held by a nested transaction of this one while it runs, so sibling
    /// savepoints (two `tx.transaction` joined in one task) take turns: a
    /// savepoint is a stack entry, and interleaved siblings would roll back
    /// or release each other's work.
    children: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx").field("depth", &self.depth).finish()
    }
}

struct Shared {
    conn: tokio::sync::Mutex<Option<Box<dyn Conn>>>,
    /// The shallowest savepoint whose closure was dropped mid-way: rolled back
    /// before the next statement runs. Savepoints nest strictly (siblings take
    /// turns), so the lowest number is the shallowest.
    pending: parking_lot::Mutex<Option<u64>>,
    /// The number of the next savepoint: every savepoint of a transaction has
    /// its own name, never one shared by siblings.
    next: AtomicU64,
    /// Set by [`Tx::publish`]: the commit wakes the outbox relay.
    published: AtomicBool,
}

fn rollback_to(id: u64) -> String {
    format!("ROLLBACK TO SAVEPOINT sp_{id}; RELEASE SAVEPOINT sp_{id}")
}

/// On drop, releases the connection of a transaction whose future was
/// dropped; sqlx rolls it back.
struct Abandon(Arc<Shared>);

impl Drop for Abandon {
    fn drop(&mut self) {
        if let Ok(mut conn) = self.0.conn.try_lock() {
            conn.take();
        }
    }
}

/// On drop while armed, marks a savepoint for rollback.
struct Unfinished {
    shared: Arc<Shared>,
    id: u64,
    armed: bool,
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if self.armed {
            let mut pending = self.shared.pending.lock();
            *pending = Some(pending.map_or(self.id, |d| d.min(self.id)));
        }
    }
}

/// Runs `f` in a transaction on `db`: a savepoint when the task already has
/// one open. A top-level transaction that conflicts with concurrent ones
/// (PostgreSQL only) is rolled back and `f` runs again on a fresh one, after
/// a pause, up to `DB_TX_MAX_ATTEMPTS` runs in all. A savepoint is never
/// re-run alone: its conflict dooms the whole transaction.
pub(crate) async fn run<T, E, F, Fut>(core: &Arc<Core>, mut f: F) -> Result<T, E>
where
    F: FnMut(Tx) -> Fut + Send,
    Fut: Future<Output = Result<T, E>> + Send,
    T: Send,
    E: From<DbError> + Send,
{
    if let Some(outer) = current(core) {
        return outer.savepoint(f).await;
    }
    // SQLite has one writer: this process's transactions queue here, in
    // order. PostgreSQL transactions run side by side.
    let _turn = match core.engine() {
        Engine::Sqlite => Some(core.gate().lock_owned().await),
        Engine::Postgres => None,
    };
    let max = core.tx_max_attempts();
    let mut failed = 0;
    loop {
        match attempt(core, &mut f).await {
            Attempt::Done(result) => return result,
            Attempt::Conflict(conflict) => {
                failed += 1;
                if failed >= max {
                    return Err(retry::exhausted(&conflict, failed).into());
                }
                tracing::debug!(attempt = failed, error = %conflict, "db: transaction conflicted; running it again");
                retry::pause(failed).await;
            }
        }
    }
}

/// How one run of a transaction's closure ended.
enum Attempt<T, E> {
    /// Committed, or failed for a reason a new run would not change.
    Done(Result<T, E>),
    /// Rolled back because it conflicted with a concurrent transaction.
    Conflict(DbError),
}

/// Runs `f` once in a fresh transaction. The conflict is read from the
/// connection, not from what `f` returned: `f` may have caught it, or turned
/// it into its own error type.
async fn attempt<T, E, F, Fut>(core: &Arc<Core>, f: &mut F) -> Attempt<T, E>
where
    F: FnMut(Tx) -> Fut + Send,
    Fut: Future<Output = Result<T, E>> + Send,
    T: Send,
    E: From<DbError> + Send,
{
    let conn = match core.observe("transaction", core.backend().begin()).await {
        Ok(conn) => conn,
        Err(e) => return Attempt::Done(Err(e.into())),
    };
    let shared = Arc::new(Shared {
        conn: tokio::sync::Mutex::new(Some(conn)),
        pending: parking_lot::Mutex::new(None),
        next: AtomicU64::new(1),
        published: AtomicBool::new(false),
    });
    let _abandon = Abandon(shared.clone());
    let tx = Tx {
        core: core.clone(),
        shared: shared.clone(),
        depth: 0,
        alive: Arc::new(AtomicBool::new(true)),
        children: Arc::default(),
    };
    let alive = tx.alive.clone();
    let result = CURRENT.scope(tx.clone(), f(tx)).await;
    alive.store(false, Ordering::Release);
    let Some(mut conn) = shared.conn.lock().await.take() else {
        return Attempt::Done(Err(
            DbError::tool("the transaction's connection was lost").into()
        ));
    };
    if let Some(conflict) = conn.conflict() {
        discard(conn).await;
        return Attempt::Conflict(conflict);
    }
    match result {
        Ok(value) => {
            let published = shared.published.load(Ordering::Acquire);
            let commit = async move {
                let pending = shared.pending.lock().take();
                if let Some(id) = pending {
                    conn.script(&rollback_to(id)).await?;
                }
                conn.commit().await
            };
            match core.observe("commit", commit).await {
                Ok(()) => {
                    if published {
                        core.outbox_committed.notify_one();
                    }
                    Attempt::Done(Ok(value))
                }
                Err(e) if e.kind == DbErrorKind::Conflict => Attempt::Conflict(e),
                Err(e) => Attempt::Done(Err(e.into())),
            }
        }
        Err(e) => {
            discard(conn).await;
            Attempt::Done(Err(e))
        }
    }
}

/// Rolls back a transaction whose outcome is already decided.
async fn discard(conn: Box<dyn Conn>) {
    if let Err(rollback) = conn.rollback().await {
        tracing::warn!(error = %rollback, "db: rollback failed; the connection is discarded");
    }
}

#[microcore_kernel::contract(of = crate::Db)]
impl Tx {
    async fn savepoint<T, E, F, Fut>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(Tx) -> Fut + Send,
        Fut: Future<Output = Result<T, E>> + Send,
        T: Send,
        E: From<DbError> + Send,
    {
        // A closure that nests through a captured outer `Tx` nests under the
        // innermost open savepoint of the task instead, so it never waits for
        // its own ancestor's turn.
        let parent = CURRENT
            .try_with(Tx::clone)
            .ok()
            .filter(|c| Arc::ptr_eq(&c.shared, &self.shared) && c.depth > self.depth)
            .unwrap_or_else(|| self.clone());
        let _turn = parent.children.lock().await;
        let id = parent.shared.next.fetch_add(1, Ordering::Relaxed);
        parent.script(format!("SAVEPOINT sp_{id}")).await?;
        let mut unfinished = Unfinished {
            shared: parent.shared.clone(),
            id,
            armed: true,
        };
        let inner = Tx {
            core: parent.core.clone(),
            shared: parent.shared.clone(),
            depth: parent.depth + 1,
            alive: Arc::new(AtomicBool::new(true)),
            children: Arc::default(),
        };
        let alive = inner.alive.clone();
        let result = CURRENT.scope(inner.clone(), f(inner)).await;
        alive.store(false, Ordering::Release);
        match result {
            Ok(value) => {
                parent.script(format!("RELEASE SAVEPOINT sp_{id}")).await?;
                unfinished.armed = false;
                Ok(value)
            }
            Err(e) => {
                if parent.script(rollback_to(id)).await.is_ok() {
                    unfinished.armed = false;
                }
                Err(e)
            }
        }
    }

    /// Runs one statement on the transaction's connection.
    pub(crate) async fn run(&self, sql: &str, params: &[Value]) -> Result<Output, DbError> {
        let mut guard = self.conn().await?;
        let conn = guard.as_mut().ok_or_else(ended)?;
        settle(&self.shared, conn.as_mut()).await?;
        conn.run(sql, params).await
    }

    /// Runs a parameterless script on the transaction's connection.
    pub(crate) async fn script(&self, sql: String) -> Result<(), DbError> {
        let mut guard = self.conn().await?;
        let conn = guard.as_mut().ok_or_else(ended)?;
        settle(&self.shared, conn.as_mut()).await?;
        conn.script(&sql).await
    }

    async fn conn(&self) -> Result<tokio::sync::MutexGuard<'_, Option<Box<dyn Conn>>>, DbError> {
        if !self.alive.load(Ordering::Acquire) {
            return Err(ended());
        }
        Ok(self.shared.conn.lock().await)
    }

    /// Runs a statement inside this transaction and returns every row as a `T`.
    ///
    /// As [`Db::query`](crate::Db::query).
    pub async fn query<T: DeserializeOwned>(
        &self,
        sql: impl Into<Sql>,
        params: Params,
    ) -> Result<Vec<T>, DbError> {
        let sql = sql.into();
        self.core
            .observe("query", async {
                check_arity(sql.as_str(), params.len(), self.core.engine())?;
                ops::rows(self.run(sql.as_str(), &params).await?)
            })
            .await
    }

    /// Runs a statement inside this transaction and returns its first row as a `T` if any.
    ///
    /// As [`Db::query_one`](crate::Db::query_one); `INSERT … RETURNING *` included.
    pub async fn query_one<T: DeserializeOwned>(
        &self,
        sql: impl Into<Sql>,
        params: Params,
    ) -> Result<Option<T>, DbError> {
        let sql = sql.into();
        self.core
            .observe("query_one", async {
                check_arity(sql.as_str(), params.len(), self.core.engine())?;
                ops::first(self.run(sql.as_str(), &params).await?)
            })
            .await
    }

    /// Runs a statement inside this transaction and returns its RETURNING integer, else rows changed.
    ///
    /// As [`Db::execute`](crate::Db::execute). A failed statement undoes only
    /// itself; the transaction stays usable on both engines.
    pub async fn execute(&self, sql: impl Into<Sql>, params: Params) -> Result<i64, DbError> {
        let sql = sql.into();
        self.core
            .observe("execute", async {
                check_arity(sql.as_str(), params.len(), self.core.engine())?;
                ops::execute_result(self.run(sql.as_str(), &params).await?)
            })
            .await
    }

    /// Runs one statement per parameter list inside this transaction and returns the rows changed.
    ///
    /// As [`Db::execute_many`](crate::Db::execute_many).
    pub async fn execute_many(
        &self,
        sql: impl Into<Sql>,
        rows: Vec<Params>,
    ) -> Result<u64, DbError> {
        let sql = sql.into();
        self.core
            .observe("execute_many", async {
                let mut total = 0;
                for params in &rows {
                    check_arity(sql.as_str(), params.len(), self.core.engine())?;
                    total += self.run(sql.as_str(), params).await?.rows_affected;
                }
                Ok(total)
            })
            .await
    }

    /// Stores `event` in this transaction's outbox and returns its id; it is published once committed.
    ///
    /// The event and the writes it announces commit or roll back together:
    /// a rolled-back transaction (or savepoint) publishes nothing, and a
    /// committed event reaches the event bus at least once, even if this
    /// process dies right after the commit (another replica's relay, or this
    /// one's next boot, publishes it). The id is the envelope's `id` that
    /// subscribers see, so a handler that may see it twice can be idempotent.
    ///
    /// ```no_run
    /// # use microcore_db::{Db, DbError, params};
    /// # #[derive(serde::Serialize)] struct UserCreated { id: i64 }
    /// # impl microcore_kernel::EventName for UserCreated { const NAME: &'static str = "user.created"; }
    /// # async fn demo(db: Db) -> Result<(), DbError> {
    /// db.transaction(|tx| async move {
    ///     let id = tx.execute("INSERT INTO users (name) VALUES ($1) RETURNING id", params!["Ana"]).await?;
    ///     tx.publish(UserCreated { id }).await?;
    ///     Ok(())
    /// }).await?;
    /// # Ok(()) }
    /// ```
    pub async fn publish<E: EventName>(&self, event: E) -> Result<String, DbError> {
        self.core
            .observe("publish", async {
                let payload = serde_json::to_string(&event).map_err(|e| {
                    DbError::caller(format!(
                        "event `{}` cannot be stored in the outbox: its payload does not \
                         serialise to JSON ({e}); make its fields plain data",
                        E::NAME
                    ))
                })?;
                let id = uuid::Uuid::new_v4().to_string();
                let params = [
                    Value::Text(id.clone()),
                    Value::Text(E::NAME.to_owned()),
                    Value::Text(payload),
                    Value::Text(current_identity().to_string()),
                    current_event_id().map_or(Value::Null, |p| Value::Text(p.to_string())),
                    Value::Int(table::now_ms()),
                    // This call's span (the probe's `db.publish`): the
                    // relay's publish carries it, so deliveries join the trace.
                    TraceContext::of(&tracing::Span::current())
                        .and_then(|t| serde_json::to_string(&t).ok())
                        .map_or(Value::Null, Value::Text),
                ];
                self.run(table::INSERT, &params).await.map_err(|e| {
                    if e.message.contains("_outbox") {
                        e.context(
                            "the outbox table is missing; it is created when migrations run \
                             (DB_AUTO_MIGRATE, `Db::migrate`) or when the outbox relay boots",
                        )
                    } else {
                        e
                    }
                })?;
                self.shared.published.store(true, Ordering::Release);
                Ok(id)
            })
            .await
    }

    /// Runs `f` in a savepoint whose Err or drop undoes only what `f` did, then the outer goes on.
    ///
    /// Every savepoint has its own name; nested transactions joined in one
    /// task (`tokio::join!`) take turns, each keeping or losing only its own work.
    /// `f` runs once per run of the top-level transaction: a conflict re-runs
    /// that whole transaction, never the savepoint alone (`FnMut` like
    /// [`Db::transaction`](crate::Db::transaction), so a closure fits both).
    pub async fn transaction<T, F, Fut>(&self, f: F) -> Result<T, DbError>
    where
        F: FnMut(Tx) -> Fut + Send,
        Fut: Future<Output = Result<T, DbError>> + Send,
        T: Send,
    {
        self.savepoint(f).await
    }

    /// Runs `f` in a savepoint like [`Tx::transaction`], with your own error type `E: From<DbError>`.
    ///
    /// See [`Db::try_transaction`](crate::Db::try_transaction).
    pub async fn try_transaction<T, E, F, Fut>(&self, f: F) -> Result<T, E>
    where
        F: FnMut(Tx) -> Fut + Send,
        Fut: Future<Output = Result<T, E>> + Send,
        T: Send,
        E: From<DbError> + Send,
    {
        self.savepoint(f).await
    }
}

fn ended() -> DbError {
    DbError::caller(
        "this transaction has ended; a Tx is only valid inside the closure given to \
         transaction(), do not keep or spawn it",
    )
}

/// Rolls back a savepoint whose closure was dropped before it finished.
async fn settle(shared: &Shared, conn: &mut dyn Conn) -> Result<(), DbError> {
    let pending = shared.pending.lock().take();
    match pending {
        Some(id) => conn.script(&rollback_to(id)).await,
        None => Ok(()),
    }
}
