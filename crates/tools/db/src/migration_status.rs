//! Where each migration stands on a database, for operators: applied,
//! pending, edited since it was applied, or recorded with no file left.
//! It only reads: a database without a history table has everything pending.

use serde::Serialize;

use crate::backend::Engine;
use crate::core::Core;
use crate::error::DbError;
use crate::migrate::{Migration, checksum, order};
use crate::ops;
use crate::tx;

/// One migration's standing on this database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MigrationStatus {
    /// The history key, `users/001_create_users.sql` (shared by engine twins).
    pub key: String,
    /// The file that runs on this engine (`001_x.postgres.sql` for a twin);
    /// for [`MigrationState::Missing`], the file recorded when it ran, if known.
    pub file: String,
    /// Where it stands.
    pub state: MigrationState,
    /// When it was applied, as the database recorded it; `None` when pending.
    pub applied_at: Option<String>,
}

/// Where a migration stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationState {
    /// Recorded, and the file is unchanged (or was recorded before checksums).
    Applied,
    /// Not recorded: the next migration run applies it.
    Pending,
    /// Recorded, but the file changed since it ran: boot fails until it is undone.
    Edited,
    /// Recorded, but no such file is registered any more.
    Missing,
}

/// The status of every migration of `on_engine` (in the order they apply),
/// then of history rows no file matches. `all` holds every engine's files,
/// so a twin added or removed since is not taken for an edit.
pub(crate) async fn status(
    core: &Core,
    on_engine: &[Migration],
    all: &[Migration],
) -> Result<Vec<MigrationStatus>, DbError> {
    let ordered = order(on_engine)?;
    let rows = history(core).await?;
    let mut matched = vec![false; rows.len()];
    let mut out = Vec::with_capacity(ordered.len());
    for m in &ordered {
        let key = m.key();
        let found = rows.iter().position(|r| {
            r.domain == m.domain && (r.filename == m.base_file() || r.filename == m.file)
        });
        let Some(at) = found else {
            out.push(MigrationStatus {
                key,
                file: m.file.to_owned(),
                state: MigrationState::Pending,
                applied_at: None,
            });
            continue;
        };
        matched[at] = true;
        let row = &rows[at];
        let ran = row
            .applied_file
            .clone()
            .unwrap_or_else(|| m.file.to_owned());
        let edited = match &row.checksum {
            None => false,
            Some(recorded) => all
                .iter()
                .find(|v| v.key() == key && v.file == ran)
                .is_some_and(|v| checksum(v.sql) != *recorded),
        };
        out.push(MigrationStatus {
            key,
            file: m.file.to_owned(),
            state: if edited {
                MigrationState::Edited
            } else {
                MigrationState::Applied
            },
            applied_at: row.applied_at.clone(),
        });
    }
    for (row, _) in rows.iter().zip(&matched).filter(|(_, m)| !**m) {
        out.push(MigrationStatus {
            key: format!("{}/{}", row.domain, row.filename),
            file: row
                .applied_file
                .clone()
                .unwrap_or_else(|| row.filename.clone()),
            state: MigrationState::Missing,
            applied_at: row.applied_at.clone(),
        });
    }
    Ok(out)
}

struct Recorded {
    domain: String,
    filename: String,
    checksum: Option<String>,
    applied_file: Option<String>,
    applied_at: Option<String>,
}

/// The history rows in the order applied; none when there is no history table.
async fn history(core: &Core) -> Result<Vec<Recorded>, DbError> {
    let exists = match core.engine() {
        Engine::Sqlite => {
            "SELECT 1 AS found FROM sqlite_master \
             WHERE type = 'table' AND name = '_migrations_history'"
        }
        Engine::Postgres => {
            "SELECT 1 AS found WHERE to_regclass('_migrations_history') IS NOT NULL"
        }
    };
    if tx::statement(core, exists, &[]).await?.rows.is_empty() {
        return Ok(Vec::new());
    }
    // `*`: a table made before checksums existed has no checksum columns.
    let out = tx::statement(core, "SELECT * FROM _migrations_history ORDER BY id", &[]).await?;
    let rows: Vec<serde_json::Value> = ops::rows(out)?;
    let text = |row: &serde_json::Value, field: &str| match &row[field] {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    };
    Ok(rows
        .iter()
        .map(|row| Recorded {
            domain: text(row, "domain").unwrap_or_default(),
            filename: text(row, "filename").unwrap_or_default(),
            checksum: text(row, "checksum"),
            applied_file: text(row, "applied_file"),
            applied_at: text(row, "applied_at"),
        })
        .collect())
}
