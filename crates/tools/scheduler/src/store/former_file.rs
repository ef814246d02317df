//! The file of its own the SQLite store once kept beside the app's
//! (`app.db.scheduler`, for an app on `sqlite:app.db`), moved back in.
//!
//! For a while the store defaulted to that sibling file, because two pools
//! switching one fresh file to WAL at setup could lock each other out. The
//! switch is now retried, and the store is back in the app's own file (one
//! database file, as a user expects), so a sibling file left by that
//! version holds the newest claims, outcomes and pending one-shots: they are
//! copied in (its rows win over older ones of the same key), and the file is
//! renamed `<file>.adopted` (kept, not deleted, a consistent backup).

use std::path::{Path, PathBuf};

use sqlx::SqlitePool;

/// The scheduler's two tables, which the former file has when it has any.
const TABLES: [&str; 2] = ["microcore_scheduler_jobs", "microcore_scheduler_one_shots"];

/// Copies what the former file beside `file` holds into `pool` (the store on
/// `file`, its tables created) and renames it; nothing when there is none.
pub(crate) async fn adopt(pool: &SqlitePool, file: &Path) -> Result<(), String> {
    let former = former_path(file);
    if !former.is_file() {
        return Ok(());
    }
    let shown = former.display().to_string();
    copy_in(pool, &former).await.map_err(|e| {
        format!(
            "the scheduler's former file {shown:?} (its store until this version) could not be \
             copied into {}: {e}; its jobs and one-shots are still in it: fix the cause and \
             restart, or move it away to start without them",
            file.display()
        )
    })?;
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{shown}{suffix}"));
        let to = PathBuf::from(format!("{shown}.adopted{suffix}"));
        if from.exists()
            && let Err(e) = std::fs::rename(&from, &to)
        {
            tracing::warn!(
                "scheduler: copied {shown:?} in, but could not rename {from:?} to {to:?} ({e}); \
                 remove it, or its rows are copied in again at the next start"
            );
        }
    }
    tracing::info!(
        "scheduler: moved the jobs and one-shots of {shown:?} into {}; the old file is now \
         {shown}.adopted",
        file.display()
    );
    Ok(())
}

/// `app.db` → `app.db.scheduler`.
fn former_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".scheduler");
    PathBuf::from(name)
}

/// One connection (an attachment is per connection): the former file
/// attached, its rows copied in one write transaction, detached again.
async fn copy_in(pool: &SqlitePool, former: &Path) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    sqlx::query("ATTACH DATABASE $1 AS former")
        .bind(former.display().to_string())
        .execute(&mut *conn)
        .await?;
    let copied = async {
        let present: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM former.sqlite_master WHERE type = 'table' AND name IN ($1, $2)",
        )
        .bind(TABLES[0])
        .bind(TABLES[1])
        .fetch_one(&mut *conn)
        .await?;
        if present < 2 {
            return Ok(());
        }
        let mut copy = String::from("BEGIN IMMEDIATE; ");
        for table in TABLES {
            copy += &format!("INSERT OR REPLACE INTO main.{table} SELECT * FROM former.{table}; ");
        }
        copy += "COMMIT;";
        sqlx::raw_sql(sqlx::AssertSqlSafe(copy))
            .execute(&mut *conn)
            .await
            .map(drop)
    }
    .await;
    if copied.is_err() {
        let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
    }
    let detached = sqlx::raw_sql("DETACH DATABASE former")
        .execute(&mut *conn)
        .await;
    copied?;
    detached.map(drop)
}

#[cfg(test)]
mod tests {
    use super::former_path;
    use std::path::Path;

    #[test]
    fn the_former_file_is_the_apps_file_with_scheduler_appended() {
        assert_eq!(
            former_path(Path::new("/tmp/a.db")),
            Path::new("/tmp/a.db.scheduler")
        );
        assert_eq!(
            former_path(Path::new("microcore.db")),
            Path::new("microcore.db.scheduler")
        );
    }
}
