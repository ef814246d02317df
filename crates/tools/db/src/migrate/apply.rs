//! Applying migrations and keeping their history: the `_migrations_history`
//! table (created under the write lock), one row per applied file under its
//! shared key, with the checksum of the file that ran.

use super::plan::{Migration, order};
use crate::backend::{Conn, Engine};
use crate::core::Core;
use crate::error::DbError;
use crate::value::Value;

fn history_ddl(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => {
            "CREATE TABLE IF NOT EXISTS _migrations_history (\
             id INTEGER PRIMARY KEY AUTOINCREMENT, domain TEXT NOT NULL, filename TEXT NOT NULL, \
             applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, checksum TEXT, applied_file TEXT, \
             UNIQUE (domain, filename))"
        }
        Engine::Postgres => {
            "CREATE TABLE IF NOT EXISTS _migrations_history (\
             id BIGSERIAL PRIMARY KEY, domain TEXT NOT NULL, filename TEXT NOT NULL, \
             applied_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP, checksum TEXT, \
             applied_file TEXT, UNIQUE (domain, filename))"
        }
    }
}

/// Creates the history table, or adds the `checksum` and `applied_file`
/// columns to one made before checksums existed. Runs under the write lock
/// (the advisory lock on PostgreSQL): replicas booting together on a fresh
/// database would otherwise race on `CREATE TABLE IF NOT EXISTS`, which is
/// not atomic in PostgreSQL.
async fn ensure_history(db: &Core) -> Result<(), DbError> {
    let engine = db.backend().engine();
    let _turn = db.gate().lock_owned().await;
    let mut conn = db.backend().begin_exclusive().await?;
    let result = async {
        conn.script(history_ddl(engine)).await?;
        for column in ["checksum", "applied_file"] {
            let found = conn
                .run(
                    match engine {
                        Engine::Sqlite => {
                            "SELECT 1 AS found FROM pragma_table_info('_migrations_history') \
                             WHERE name = $1"
                        }
                        Engine::Postgres => {
                            "SELECT 1 AS found FROM information_schema.columns \
                             WHERE table_schema = current_schema() \
                             AND table_name = '_migrations_history' AND column_name = $1"
                        }
                    },
                    &[Value::Text(column.into())],
                )
                .await?;
            if found.rows.is_empty() {
                let add = format!("ALTER TABLE _migrations_history ADD COLUMN {column} TEXT");
                conn.script(&add).await?;
            }
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => conn.commit().await,
        Err(e) => {
            let _ = conn.rollback().await;
            Err(e)
        }
    }
    .map_err(|e| e.context("cannot create the _migrations_history table"))
}

/// Applies the pending migrations of `list`; returns their keys in order.
/// `variants` holds every file of the application (all engines): a file is
/// checked against the checksum recorded when it ran, and an engine twin
/// added or removed since is not taken for an edit.
pub(crate) async fn apply(
    db: &Core,
    list: &[Migration],
    variants: &[Migration],
) -> Result<Vec<String>, DbError> {
    let ordered = order(list)?;
    ensure_history(db).await?;
    crate::outbox::table::ensure(db).await?;
    let mut applied = Vec::new();
    for m in ordered {
        let known: Vec<(&str, String)> = variants
            .iter()
            .filter(|v| v.key() == m.key())
            .map(|v| (v.file, checksum(v.sql)))
            .collect();
        let _turn = db.gate().lock_owned().await;
        let conn = db.backend().begin_migration().await?;
        if apply_one(conn, &m, &known)
            .await
            .map_err(|e| e.context(format!("migration {} failed", m.key())))?
        {
            applied.push(m.key());
        }
    }
    Ok(applied)
}

/// Applies one file in the given transaction unless it is already recorded
/// (under its shared key, or under its own name by an older version). A
/// recorded file is checked against its checksum, or given one if it has none.
async fn apply_one(
    mut conn: Box<dyn Conn>,
    m: &Migration,
    known: &[(&str, String)],
) -> Result<bool, DbError> {
    /// What one file's transaction did.
    enum Outcome {
        /// Ran the file and recorded it.
        Ran,
        /// Gave an old history row its checksum.
        Filled,
        /// Found it recorded and unchanged: nothing to commit.
        Unchanged,
    }
    let sum = checksum(m.sql);
    let names = [
        Value::Text(m.domain.into()),
        Value::Text(m.base_file()),
        Value::Text(m.file.into()),
    ];
    let result = async {
        let seen = conn
            .run(
                "SELECT checksum, applied_file FROM _migrations_history \
                 WHERE domain = $1 AND filename IN ($2, $3)",
                &names,
            )
            .await?;
        let Some(row) = seen.rows.into_iter().next() else {
            conn.script(m.sql).await?;
            conn.run(
                "INSERT INTO _migrations_history (domain, filename, checksum, applied_file) \
                 VALUES ($1, $2, $3, $4)",
                &[
                    Value::Text(m.domain.into()),
                    Value::Text(m.base_file()),
                    Value::Text(sum.clone()),
                    Value::Text(m.file.into()),
                ],
            )
            .await?;
            return Ok(Outcome::Ran);
        };
        let field = |name: &str| {
            row.iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, v)| v.as_str().map(str::to_owned))
        };
        match field("checksum") {
            // recorded before checksums existed: fill in, under the shared key
            None => {
                let mut params = vec![Value::Text(sum.clone()), Value::Text(m.file.into())];
                params.extend(names.iter().cloned());
                conn.run(
                    "UPDATE _migrations_history SET checksum = $1, applied_file = $2, \
                     filename = $4 WHERE domain = $3 AND filename IN ($4, $5)",
                    &params,
                )
                .await?;
                return Ok(Outcome::Filled);
            }
            Some(recorded) => {
                let ran = field("applied_file").unwrap_or_else(|| m.file.to_owned());
                // a file that is gone (a twin removed) cannot have been edited
                if let Some((_, now)) = known.iter().find(|(file, _)| *file == ran)
                    && *now != recorded
                {
                    return Err(edited(m.domain, &ran, &recorded, now));
                }
            }
        }
        Ok(Outcome::Unchanged)
    }
    .await;
    match result {
        Ok(Outcome::Ran) => conn.commit().await.map(|()| true),
        Ok(Outcome::Filled) => conn.commit().await.map(|()| false),
        // a rollback ends it without SQLite's foreign-key check of the whole database
        Ok(Outcome::Unchanged) => conn.rollback().await.map(|()| false),
        Err(e) => {
            let _ = conn.rollback().await;
            Err(e)
        }
    }
}

/// The error of an applied migration whose file changed since.
fn edited(domain: &str, file: &str, recorded: &str, now: &str) -> DbError {
    DbError::tool(format!(
        "domains/{domain}/migrations/{file} was edited after it was applied (recorded checksum \
         {recorded}, the file now has {now}); an applied migration must not change: undo the \
         edit and put the change in a new migration file"
    ))
}

/// A fingerprint of a migration's SQL: 64-bit FNV-1a over the text with
/// carriage returns removed (a checkout that turns LF into CRLF is no edit).
/// It detects edits, it is not a defence against tampering.
pub(crate) fn checksum(sql: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in sql.bytes().filter(|b| *b != b'\r') {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("fnv1a64:{hash:016x}")
}
