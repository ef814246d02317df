//! The `_outbox` table: events stored by the transaction that made the change
//! they announce, until a relay has handed them to the event bus.
//!
//! Times are milliseconds since the Unix epoch, computed by the process, so
//! the SQL is the same on both engines. `available_at` is when a row may be
//! claimed next: its creation, the end of a relay's lease on it, or the time
//! of its next retry.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::backend::Engine;

/// Creates the table and its index; safe to run again. `seq` orders the
/// events of one transaction as they were stored (ids are random).
pub(crate) fn ddl(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => {
            "CREATE TABLE IF NOT EXISTS _outbox (\
             seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, event TEXT NOT NULL, \
             payload TEXT NOT NULL, emitter TEXT NOT NULL, parent_id TEXT, \
             created_at BIGINT NOT NULL, available_at BIGINT NOT NULL, \
             attempts BIGINT NOT NULL DEFAULT 0, last_error TEXT, trace TEXT); \
             CREATE INDEX IF NOT EXISTS _outbox_due ON _outbox (available_at); \
             ALTER TABLE _outbox ADD COLUMN IF NOT EXISTS trace TEXT"
        }
        Engine::Sqlite => {
            "CREATE TABLE IF NOT EXISTS _outbox (\
             seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, event TEXT NOT NULL, \
             payload TEXT NOT NULL, emitter TEXT NOT NULL, parent_id TEXT, \
             created_at BIGINT NOT NULL, available_at BIGINT NOT NULL, \
             attempts BIGINT NOT NULL DEFAULT 0, last_error TEXT, trace TEXT); \
             CREATE INDEX IF NOT EXISTS _outbox_due ON _outbox (available_at)"
        }
    }
}

/// On SQLite (which has no `ADD COLUMN IF NOT EXISTS`): whether a table
/// made before the `trace` column lacks it.
const SQLITE_HAS_TRACE: &str =
    "SELECT COUNT(*) AS n FROM pragma_table_info('_outbox') WHERE name = 'trace'";

/// Adds the `trace` column (the W3C trace context of the storing
/// transaction, as JSON) to a table made before it existed.
const SQLITE_ADD_TRACE: &str = "ALTER TABLE _outbox ADD COLUMN trace TEXT";

/// Stores one event: id, event, payload, emitter, parent, created (=
/// available), trace context.
pub(crate) const INSERT: &str = "INSERT INTO _outbox \
     (id, event, payload, emitter, parent_id, created_at, available_at, trace) \
     VALUES ($1, $2, $3, $4, $5, $6, $6, $7)";

/// Leases up to `$3` due rows, oldest first, until `$1` (now is `$2`) and returns them. On
/// PostgreSQL, rows another replica is claiming at this instant are skipped,
/// not waited for; SQLite has one writer, so the statement is atomic.
pub(crate) fn claim(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => {
            "UPDATE _outbox SET available_at = $1, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM _outbox WHERE available_at <= $2 \
             ORDER BY seq LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING seq, id, event, payload, emitter, parent_id, created_at, attempts, trace"
        }
        Engine::Sqlite => {
            "UPDATE _outbox SET available_at = $1, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM _outbox WHERE available_at <= $2 \
             ORDER BY seq LIMIT $3) \
             RETURNING seq, id, event, payload, emitter, parent_id, created_at, attempts, trace"
        }
    }
}

/// Forgets a row the bus has accepted.
pub(crate) const SENT: &str = "DELETE FROM _outbox WHERE id = $1";

/// Puts a row back for a later attempt: at `$2`, with the error `$3`.
pub(crate) const RETRY: &str =
    "UPDATE _outbox SET available_at = $2, last_error = $3 WHERE id = $1";

/// How many rows wait.
pub(crate) const PENDING: &str = "SELECT COUNT(*) AS pending FROM _outbox";

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Creates the table once per database handle: the DDL takes the write lock
/// and, on PostgreSQL, the advisory lock every replica's migrations wait on,
/// so running it again at each caller of one boot (migrations, then the
/// relay) costs a round of locks for nothing. Callers racing the first run
/// wait for it; a failed run is tried again by the next caller.
pub(crate) async fn ensure(core: &crate::core::Core) -> Result<(), crate::error::DbError> {
    core.outbox_table
        .get_or_try_init(|| create(core))
        .await
        .map(|_| ())
}

/// Creates the table under the write lock (the advisory lock on PostgreSQL):
/// replicas booting together would otherwise race on `CREATE TABLE IF NOT
/// EXISTS`, which is not atomic in PostgreSQL.
async fn create(core: &crate::core::Core) -> Result<(), crate::error::DbError> {
    let _turn = core.gate().lock_owned().await;
    let mut conn = core.backend().begin_exclusive().await?;
    let made = match conn.script(ddl(core.engine())).await {
        Ok(()) if core.engine() == Engine::Sqlite => add_trace_column(&mut *conn).await,
        other => other,
    };
    match made {
        Ok(()) => conn.commit().await,
        Err(e) => {
            let _ = conn.rollback().await;
            Err(e)
        }
    }
    .map_err(|e| e.context("cannot create the _outbox table of the transactional outbox"))
}

async fn add_trace_column(
    conn: &mut dyn crate::backend::Conn,
) -> Result<(), crate::error::DbError> {
    #[derive(serde::Deserialize)]
    struct Count {
        n: i64,
    }
    let out = conn.run(SQLITE_HAS_TRACE, &[]).await?;
    let has = crate::ops::rows::<Count>(out)?
        .first()
        .is_some_and(|c| c.n > 0);
    if !has {
        conn.script(SQLITE_ADD_TRACE).await?;
    }
    Ok(())
}
