//! The SQL stores: SQLite (a file: one host is the fleet, one-shots survive
//! a restart) and PostgreSQL (many replicas). Each has its own sqlx pool and
//! its own two tables; the statements are the same text on both engines,
//! and exactly-once per fire is the conditional `UPDATE` of [`CLAIM`]: a
//! replica wins a fire only if the row's `last_fire` is still before it.

use std::str::FromStr;
use std::time::Duration;

use futures::FutureExt;
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use microcore_kernel::retry_transient;

use super::{Claim, JobRow, OneShotRow, Outcome, Res, Store, claim_of};
use crate::error::SchedulerError;

const JOBS_DDL: &str = "CREATE TABLE IF NOT EXISTS microcore_scheduler_jobs (\
    key TEXT PRIMARY KEY, kind TEXT NOT NULL, schedule TEXT NOT NULL, \
    last_fire BIGINT NOT NULL DEFAULT 0, lease_owner TEXT, lease_until BIGINT NOT NULL DEFAULT 0, \
    outcome TEXT, outcome_at BIGINT, outcome_detail TEXT)";

const SHOTS_DDL: &str = "CREATE TABLE IF NOT EXISTS microcore_scheduler_one_shots (\
    key TEXT PRIMARY KEY, id TEXT NOT NULL, due BIGINT NOT NULL, event TEXT NOT NULL, \
    payload TEXT NOT NULL, emitter TEXT NOT NULL, parent_id TEXT, created_at BIGINT NOT NULL, \
    claimed_until BIGINT NOT NULL DEFAULT 0, attempts BIGINT NOT NULL DEFAULT 0, last_error TEXT)";

const REGISTER: &str = "INSERT INTO microcore_scheduler_jobs (key, kind, schedule) VALUES ($1, $2, $3) \
    ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, schedule = excluded.schedule \
    RETURNING last_fire";

/// One winner per `(job, fire)`: the row moves to `fire` only from before it.
const CLAIM: &str = "UPDATE microcore_scheduler_jobs \
    SET last_fire = $2, lease_owner = $3, lease_until = $5 \
    WHERE key = $1 AND last_fire < $2 AND lease_until <= $4 RETURNING key";

/// [`CLAIM`] for a job whose runs may overlap: no lease check.
const CLAIM_OVERLAP: &str = "UPDATE microcore_scheduler_jobs \
    SET last_fire = $2, lease_owner = $3, lease_until = $5 \
    WHERE key = $1 AND last_fire < $2 AND $4 = $4 RETURNING key";

const LAST_FIRE: &str = "SELECT last_fire FROM microcore_scheduler_jobs WHERE key = $1";

const RENEW: &str =
    "UPDATE microcore_scheduler_jobs SET lease_until = $3 WHERE key = $1 AND lease_owner = $2";

const SKIP: &str = "UPDATE microcore_scheduler_jobs \
    SET last_fire = $2, outcome = 'skipped', outcome_at = $3, outcome_detail = $4 \
    WHERE key = $1 AND last_fire < $2 RETURNING key";

const FINISH: &str = "UPDATE microcore_scheduler_jobs SET \
    lease_owner = CASE WHEN lease_owner = $2 THEN NULL ELSE lease_owner END, \
    lease_until = CASE WHEN lease_owner = $2 THEN 0 ELSE lease_until END, \
    outcome = $3, outcome_at = $4, outcome_detail = $5 WHERE key = $1";

const JOBS: &str = "SELECT key, last_fire, outcome, outcome_at, outcome_detail \
    FROM microcore_scheduler_jobs ORDER BY key";

const PUT: &str = "INSERT INTO microcore_scheduler_one_shots \
    (key, id, due, event, payload, emitter, parent_id, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (key) DO UPDATE SET \
    id = excluded.id, due = excluded.due, event = excluded.event, payload = excluded.payload, \
    emitter = excluded.emitter, parent_id = excluded.parent_id, created_at = excluded.created_at, \
    claimed_until = 0, attempts = 0, last_error = NULL";

const CANCEL: &str = "DELETE FROM microcore_scheduler_one_shots WHERE key = $1 RETURNING key";

macro_rules! shot_columns {
    () => {
        "key, id, due, event, payload, emitter, parent_id, created_at, attempts, last_error"
    };
}

/// Claims due one-shots. The outer `claimed_until` check makes a PostgreSQL
/// update that waited on a row lock re-check it, so two replicas never
/// claim one row.
macro_rules! claim_due_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE microcore_scheduler_one_shots SET claimed_until = $1, attempts = attempts + 1 \
             WHERE claimed_until <= $2 AND key IN (SELECT key FROM microcore_scheduler_one_shots \
             WHERE due <= $2 AND claimed_until <= $2 ORDER BY due LIMIT $3",
            $lock,
            ") RETURNING ",
            shot_columns!()
        )
    };
}

const CLAIM_DUE_SQLITE: &str = claim_due_sql!("");
const CLAIM_DUE_POSTGRES: &str = claim_due_sql!(" FOR UPDATE SKIP LOCKED");

const ONE_SHOTS: &str = concat!(
    "SELECT ",
    shot_columns!(),
    " FROM microcore_scheduler_one_shots ORDER BY due, key"
);

const DONE: &str = "DELETE FROM microcore_scheduler_one_shots WHERE key = $1 AND id = $2";

const RETRY: &str = "UPDATE microcore_scheduler_one_shots SET claimed_until = $3, last_error = $4 \
    WHERE key = $1 AND id = $2";

/// Opens the store `url` names: `sqlite:…` or `postgres://…`.
pub(crate) async fn connect(url: &str) -> Result<Box<dyn Store>, String> {
    if url.starts_with("sqlite:") {
        Ok(Box::new(connect_sqlite(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Box::new(connect_postgres(url).await?))
    } else {
        Err(format!(
            "SCHEDULER_DATABASE_URL={:?} is not a scheduler store; use `memory`, \
             sqlite:path/to/file.db or postgres://user:password@host:5432/database",
            microcore_kernel::redact_url(url)
        ))
    }
}

/// How long the SQLite store waits for another connection's lock: each
/// statement in SQLite's busy handler, and opening the file in all.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQLite store at `url`, its tables created, and what a former file of
/// its own beside it held moved in (see [`super::former_file`]).
async fn connect_sqlite(url: &str) -> Result<SqliteStore, String> {
    let shown = microcore_kernel::redact_url(url);
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| format!("scheduler store {shown}: {e}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(SQLITE_BUSY_TIMEOUT);
    // The store usually shares the app's file with the db tool, set up at
    // the same moment: a fresh file's switch to WAL needs it to itself, and
    // the pool that loses fails as busy at once, outside SQLite's busy
    // handler, so opening it is tried again.
    let pool = retry_transient(SQLITE_BUSY_TIMEOUT, busy, || open_sqlite(options.clone()))
        .await
        .map_err(|e| cannot_open_sqlite(&shown, &e))?;
    super::former_file::adopt(&pool, options.get_filename()).await?;
    Ok(SqliteStore {
        pool,
        name: format!("sqlite {shown}"),
        claim_due: CLAIM_DUE_SQLITE,
    })
}

/// A pool on the file, with the store's tables in it.
async fn open_sqlite(options: SqliteConnectOptions) -> Result<SqlitePool, sqlx::Error> {
    let pool = SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await?;
    for ddl in [JOBS_DDL, SHOTS_DDL] {
        sqlx::query(ddl).execute(&pool).await?;
    }
    Ok(pool)
}

/// Whether `e` is SQLite saying another connection holds the lock
/// (`SQLITE_BUSY`, `SQLITE_LOCKED` and their extended codes).
fn busy(e: &sqlx::Error) -> bool {
    let code = e.as_database_error().and_then(|db| db.code());
    code.and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| matches!(c & 0xff, 5 | 6))
}

fn cannot_open_sqlite(shown: &str, e: &sqlx::Error) -> String {
    let fix = if busy(e) {
        format!(
            "another connection kept the file locked for the whole {SQLITE_BUSY_TIMEOUT:?} the \
             scheduler tried to open it; stop the other process writing to it, or give the \
             scheduler a file of its own with SCHEDULER_DATABASE_URL=sqlite:path/to/jobs.db"
        )
    } else {
        "check that the directory exists and is writable, or set SCHEDULER_DATABASE_URL".to_owned()
    };
    format!("cannot open the scheduler store {shown} and create its tables: {e}; {fix}")
}

/// The PostgreSQL store at `url`, its tables created under an advisory
/// lock (replicas booting together would race on `CREATE TABLE IF NOT EXISTS`).
async fn connect_postgres(url: &str) -> Result<PostgresStore, String> {
    let shown = microcore_kernel::redact_url(url);
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .map_err(|e| {
            format!(
                "cannot reach the scheduler store at {shown}: {e}; start PostgreSQL there, or \
                 set SCHEDULER_DATABASE_URL"
            )
        })?;
    let create = async {
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(7236057218541)")
            .execute(&mut *tx)
            .await?;
        for ddl in [JOBS_DDL, SHOTS_DDL] {
            sqlx::query(ddl).execute(&mut *tx).await?;
        }
        tx.commit().await
    };
    create
        .await
        .map_err(|e| format!("cannot create the scheduler tables at {shown}: {e}"))?;
    Ok(PostgresStore {
        pool,
        name: format!("postgres {shown}"),
        claim_due: CLAIM_DUE_POSTGRES,
    })
}

/// The SQLite store.
pub(crate) struct SqliteStore {
    pool: SqlitePool,
    name: String,
    claim_due: &'static str,
}

/// The PostgreSQL store.
pub(crate) struct PostgresStore {
    pool: PgPool,
    name: String,
    claim_due: &'static str,
}

fn error(store: &str, e: sqlx::Error) -> SchedulerError {
    let reason = e.to_string();
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => SchedulerError::Unavailable {
            store: store.to_owned(),
            reason,
        },
        _ => SchedulerError::Store {
            store: store.to_owned(),
            reason,
        },
    }
}

fn outcome_of(status: Option<String>, at: Option<i64>, detail: Option<String>) -> Option<Outcome> {
    Some(Outcome {
        status: status?,
        at: crate::clock::rfc3339(at.unwrap_or(0)),
        detail,
    })
}

/// The same statements on both engines: only the pool type differs.
macro_rules! sql_store {
    ($store:ty, $row:ty) => {
        impl $store {
            fn shot(row: &$row) -> Result<OneShotRow, sqlx::Error> {
                Ok(OneShotRow {
                    key: row.try_get("key")?,
                    id: row.try_get("id")?,
                    due: row.try_get("due")?,
                    event: row.try_get("event")?,
                    payload: row.try_get("payload")?,
                    emitter: row.try_get("emitter")?,
                    parent_id: row.try_get("parent_id")?,
                    created_at: row.try_get("created_at")?,
                    attempts: row.try_get("attempts")?,
                    last_error: row.try_get("last_error")?,
                })
            }
        }

        impl Store for $store {
            fn register<'a>(
                &'a self,
                key: &'a str,
                kind: &'a str,
                schedule: &'a str,
            ) -> Res<'a, i64> {
                async move {
                    let row = sqlx::query(REGISTER)
                        .bind(key)
                        .bind(kind)
                        .bind(schedule)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(|e| error(&self.name, e))?;
                    row.try_get::<i64, _>("last_fire")
                        .map_err(|e| error(&self.name, e))
                }
                .boxed()
            }

            fn claim<'a>(
                &'a self,
                key: &'a str,
                fire: i64,
                owner: &'a str,
                now: i64,
                lease_until: i64,
                overlap: bool,
            ) -> Res<'a, Claim> {
                async move {
                    let sql = if overlap { CLAIM_OVERLAP } else { CLAIM };
                    let won = sqlx::query(sql)
                        .bind(key)
                        .bind(fire)
                        .bind(owner)
                        .bind(now)
                        .bind(lease_until)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(|e| error(&self.name, e))?;
                    if won.is_some() {
                        return Ok(Claim::Won);
                    }
                    let last: Option<i64> = sqlx::query(LAST_FIRE)
                        .bind(key)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(|e| error(&self.name, e))?
                        .map(|r| r.try_get::<i64, _>("last_fire"))
                        .transpose()
                        .map_err(|e| error(&self.name, e))?;
                    // The conditional update lost: with the fire still
                    // ahead of the row, only a live lease can have stopped it.
                    Ok(claim_of(last, fire, true))
                }
                .boxed()
            }

            fn renew<'a>(&'a self, key: &'a str, owner: &'a str, until: i64) -> Res<'a, ()> {
                async move {
                    sqlx::query(RENEW)
                        .bind(key)
                        .bind(owner)
                        .bind(until)
                        .execute(&self.pool)
                        .await
                        .map(drop)
                        .map_err(|e| error(&self.name, e))
                }
                .boxed()
            }

            fn skip<'a>(&'a self, key: &'a str, fire: i64, at: i64, why: &'a str) -> Res<'a, bool> {
                async move {
                    sqlx::query(SKIP)
                        .bind(key)
                        .bind(fire)
                        .bind(at)
                        .bind(why)
                        .fetch_optional(&self.pool)
                        .await
                        .map(|r| r.is_some())
                        .map_err(|e| error(&self.name, e))
                }
                .boxed()
            }

            fn finish<'a>(
                &'a self,
                key: &'a str,
                owner: &'a str,
                outcome: &'a Outcome,
            ) -> Res<'a, ()> {
                async move {
                    let at = chrono::DateTime::parse_from_rfc3339(&outcome.at)
                        .map(|t| t.timestamp_millis())
                        .unwrap_or_else(|_| crate::clock::system_now_ms());
                    sqlx::query(FINISH)
                        .bind(key)
                        .bind(owner)
                        .bind(&outcome.status)
                        .bind(at)
                        .bind(&outcome.detail)
                        .execute(&self.pool)
                        .await
                        .map(drop)
                        .map_err(|e| error(&self.name, e))
                }
                .boxed()
            }

            fn jobs(&self) -> Res<'_, Vec<JobRow>> {
                async move {
                    let rows = sqlx::query(JOBS)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(|e| error(&self.name, e))?;
                    rows.iter()
                        .map(|r| {
                            Ok(JobRow {
                                key: r.try_get("key")?,
                                last_fire: r.try_get("last_fire")?,
                                outcome: outcome_of(
                                    r.try_get("outcome")?,
                                    r.try_get("outcome_at")?,
                                    r.try_get("outcome_detail")?,
                                ),
                            })
                        })
                        .collect::<Result<_, sqlx::Error>>()
                        .map_err(|e| error(&self.name, e))
                }
                .boxed()
            }

            fn put<'a>(&'a self, shot: &'a OneShotRow) -> Res<'a, ()> {
                async move {
                    sqlx::query(PUT)
                        .bind(&shot.key)
                        .bind(&shot.id)
                        .bind(shot.due)
                        .bind(&shot.event)
                        .bind(&shot.payload)
                        .bind(&shot.emitter)
                        .bind(&shot.parent_id)
                        .bind(shot.created_at)
                        .execute(&self.pool)
                        .await
                        .map(drop)
                        .map_err(|e| error(&self.name, e))
                }
                .boxed()
            }

            fn cancel<'a>(&'a self, key: &'a str) -> Res<'a, bool> {
                async move {
                    sqlx::query(CANCEL)
                        .bind(key)
                        .fetch_optional(&self.pool)
                        .await
                        .map(|r| r.is_some())
                        .map_err(|e| error(&self.name, e))
                }
                .boxed()
            }

            fn claim_due(&self, now: i64, until: i64, limit: i64) -> Res<'_, Vec<OneShotRow>> {
                async move {
                    let rows = sqlx::query(self.claim_due)
                        .bind(until)
                        .bind(now)
                        .bind(limit)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(|e| error(&self.name, e))?;
                    let mut shots = rows
                        .iter()
                        .map(Self::shot)
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| error(&self.name, e))?;
                    // RETURNING comes in no particular order.
                    shots.sort_by_key(|s| s.due);
                    Ok(shots)
                }
                .boxed()
            }

            fn done<'a>(&'a self, key: &'a str, id: &'a str) -> Res<'a, ()> {
                async move {
                    sqlx::query(DONE)
                        .bind(key)
                        .bind(id)
                        .execute(&self.pool)
                        .await
                        .map(drop)
                        .map_err(|e| error(&self.name, e))
                }
                .boxed()
            }

            fn retry<'a>(
                &'a self,
                key: &'a str,
                id: &'a str,
                at: i64,
                error_text: &'a str,
            ) -> Res<'a, ()> {
                async move {
                    sqlx::query(RETRY)
                        .bind(key)
                        .bind(id)
                        .bind(at)
                        .bind(error_text)
                        .execute(&self.pool)
                        .await
                        .map(drop)
                        .map_err(|e| error(&self.name, e))
                }
                .boxed()
            }

            fn one_shots(&self) -> Res<'_, Vec<OneShotRow>> {
                async move {
                    let rows = sqlx::query(ONE_SHOTS)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(|e| error(&self.name, e))?;
                    rows.iter()
                        .map(Self::shot)
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| error(&self.name, e))
                }
                .boxed()
            }

            fn describe(&self) -> String {
                self.name.clone()
            }
        }
    };
}

sql_store!(SqliteStore, sqlx::sqlite::SqliteRow);
sql_store!(PostgresStore, sqlx::postgres::PgRow);
