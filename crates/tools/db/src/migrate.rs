//! Migrations: one `.sql` file per schema step, per domain, applied once.
//!
//! Order: a file may declare `-- depends: other_domain/001_x.sql` in its
//! leading comment lines; files of one domain run in name order; the rest is a
//! topological sort, ties broken by key so the order is the same everywhere.
//! Each file runs in its own transaction together with its history row, so a
//! failing file leaves nothing behind. The SQL is never translated: a domain
//! that must run on both engines writes portable DDL.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::backend::{Conn, Engine};
use crate::core::Core;
use crate::error::DbError;
use crate::value::Value;

/// One migration file, registered at link time by the application's
/// generated code.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The domain folder (`users`).
    pub domain: &'static str,
    /// The file name (`001_create_users.sql`).
    pub file: &'static str,
    /// The file's SQL.
    pub sql: &'static str,
}

/// Every migration of the application, in no particular order.
#[linkme::distributed_slice]
pub static MIGRATIONS: [Migration];

/// Engines a migration file can be specific to: `001_x.postgres.sql`.
const ENGINES: [&str; 2] = ["sqlite", "postgres"];

impl Migration {
    /// `domain/file`, the key used in `-- depends:` lines and in the history.
    /// An engine-specific file (`001_x.postgres.sql`) has the key of the file
    /// it replaces (`users/001_x.sql`), so the history reads the same on
    /// every engine.
    pub fn key(&self) -> String {
        format!("{}/{}", self.domain, self.base_file())
    }

    /// The engine this file is specific to, from its name: `001_x.postgres.sql` → `postgres`.
    pub fn engine(&self) -> Option<&'static str> {
        let stem = self.file.strip_suffix(".sql")?;
        ENGINES
            .into_iter()
            .find(|e| stem.ends_with(&format!(".{e}")))
    }

    pub(crate) fn base_file(&self) -> String {
        match self.engine() {
            Some(engine) => self.file.replace(&format!(".{engine}.sql"), ".sql"),
            None => self.file.to_owned(),
        }
    }

    /// The keys named by the leading `-- depends:` comment lines.
    fn depends(&self) -> Vec<String> {
        let mut deps = Vec::new();
        for line in self.sql.lines().map(str::trim) {
            if line.is_empty() {
                continue;
            }
            let Some(comment) = line.strip_prefix("--") else {
                break;
            };
            if let Some(list) = comment.trim().strip_prefix("depends:") {
                for dep in list.split([',', ' ']).filter(|d| !d.is_empty()) {
                    deps.push(if dep.ends_with(".sql") {
                        dep.to_owned()
                    } else {
                        format!("{dep}.sql")
                    });
                }
            }
        }
        deps
    }
}

/// The order to apply `list` in, or why there is none.
pub(crate) fn order(list: &[Migration]) -> Result<Vec<Migration>, DbError> {
    let by_key: BTreeMap<String, Migration> = list.iter().map(|m| (m.key(), *m)).collect();
    let mut needs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut previous_in_domain: BTreeMap<&str, String> = BTreeMap::new();
    for (key, m) in &by_key {
        let mut deps: BTreeSet<String> = BTreeSet::new();
        for dep in m.depends() {
            if !by_key.contains_key(&dep) {
                return Err(DbError::tool(format!(
                    "migration {key} depends on {dep}, which does not exist; fix its `-- depends:` \
                     line (known migrations: {})",
                    by_key.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            deps.insert(dep);
        }
        if let Some(prev) = previous_in_domain.insert(m.domain, key.clone()) {
            deps.insert(prev);
        }
        deps.remove(key);
        needs.insert(key.clone(), deps);
    }
    let mut done = Vec::with_capacity(needs.len());
    let mut placed: HashSet<String> = HashSet::new();
    while placed.len() < needs.len() {
        let next = needs
            .iter()
            .find(|(k, deps)| !placed.contains(*k) && deps.iter().all(|d| placed.contains(d)))
            .map(|(k, _)| k.clone());
        match next {
            Some(key) => {
                done.push(by_key[&key]);
                placed.insert(key);
            }
            None => return Err(cycle(&needs, &placed)),
        }
    }
    Ok(done)
}

/// Names one cycle among the migrations not yet placed.
fn cycle(needs: &BTreeMap<String, BTreeSet<String>>, placed: &HashSet<String>) -> DbError {
    let start = needs.keys().find(|k| !placed.contains(*k)).cloned();
    let mut path: Vec<String> = Vec::new();
    let mut at = start;
    while let Some(key) = at {
        if let Some(pos) = path.iter().position(|k| *k == key) {
            let mut ring = path[pos..].to_vec();
            ring.push(key);
            return DbError::tool(format!(
                "migrations depend on each other in a cycle: {}; remove one `-- depends:` line \
                 (files of one domain also run in name order)",
                ring.join(" -> ")
            ));
        }
        path.push(key.clone());
        at = needs[&key].iter().find(|d| !placed.contains(*d)).cloned();
    }
    DbError::tool("migrations depend on each other in a cycle")
}

fn history_ddl(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => {
            "CREATE TABLE IF NOT EXISTS _migrations_history (\
             id INTEGER PRIMARY KEY AUTOINCREMENT, domain TEXT NOT NULL, filename TEXT NOT NULL, \
             applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, checksum TEXT, \
             UNIQUE (domain, filename))"
        }
        Engine::Postgres => {
            "CREATE TABLE IF NOT EXISTS _migrations_history (\
             id BIGSERIAL PRIMARY KEY, domain TEXT NOT NULL, filename TEXT NOT NULL, \
             applied_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP, checksum TEXT, \
             UNIQUE (domain, filename))"
        }
    }
}

/// Creates the history table, or adds the `checksum` and `applied_file`
/// columns to one made before checksums existed. Runs under the write lock (the advisory lock on
/// PostgreSQL): replicas booting together on a fresh database would otherwise
/// race on `CREATE TABLE IF NOT EXISTS`, which is not atomic in PostgreSQL.
async fn ensure_history(db: &Core) -> Result<(), DbError> {
    let engine = db.backend().engine();
    let _turn = db.gate().lock_owned().await;
    let mut conn = db.backend().begin().await?;
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
            return Ok(true);
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
        Ok(false)
    }
    .await;
    match result {
        Ok(ran) => conn.commit().await.map(|()| ran),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn m(domain: &'static str, file: &'static str, sql: &'static str) -> Migration {
        Migration { domain, file, sql }
    }

    fn keys(list: &[Migration]) -> Vec<String> {
        order(list).unwrap().iter().map(Migration::key).collect()
    }

    #[test]
    fn depends_lines_order_across_domains_and_names_order_within_one() {
        let list = [
            m(
                "profiles",
                "000_p.sql",
                "-- depends: users/001_u\nCREATE TABLE p (id INT);",
            ),
            m("users", "002_more.sql", "ALTER TABLE u ADD x INT;"),
            m(
                "users",
                "001_u.sql",
                "-- users\n-- depends:\nCREATE TABLE u (id INT);",
            ),
        ];
        assert_eq!(
            keys(&list),
            [
                "users/001_u.sql",
                "profiles/000_p.sql",
                "users/002_more.sql"
            ]
        );
    }

    #[test]
    fn depends_stops_at_the_first_statement() {
        let list = [m("a", "1.sql", "SELECT 1;\n-- depends: b/1.sql")];
        assert_eq!(keys(&list), ["a/1.sql"]);
    }

    #[test]
    fn a_cycle_and_an_unknown_dependency_name_the_files() {
        let cyclic = [
            m("a", "1.sql", "-- depends: b/1.sql\n"),
            m("b", "1.sql", "-- depends: a/1.sql\n"),
        ];
        let e = order(&cyclic).unwrap_err();
        assert!(e.message.contains("a/1.sql -> b/1.sql -> a/1.sql"), "{e}");
        let unknown = [m("a", "1.sql", "-- depends: zz/9.sql\n")];
        let e = order(&unknown).unwrap_err();
        assert!(e.message.contains("a/1.sql depends on zz/9.sql"), "{e}");
    }
}

/// The files that apply on `engine`: an engine-specific file replaces the
/// generic one with the same key; files for other engines are left out.
pub(crate) fn for_engine(list: &[Migration], engine: &str) -> Vec<Migration> {
    let specific: std::collections::BTreeSet<String> = list
        .iter()
        .filter(|m| m.engine() == Some(engine))
        .map(Migration::key)
        .collect();
    list.iter()
        .filter(|m| match m.engine() {
            Some(e) => e == engine,
            None => !specific.contains(&m.key()),
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod engine_tests {
    use super::*;

    const fn m(file: &'static str) -> Migration {
        Migration {
            domain: "users",
            file,
            sql: "",
        }
    }

    #[test]
    fn an_engine_specific_file_replaces_the_generic_one_on_its_engine_only() {
        let list = [
            m("001_users.sql"),
            m("001_users.postgres.sql"),
            m("002_more.sql"),
        ];
        let pg: Vec<_> = for_engine(&list, "postgres")
            .iter()
            .map(|m| m.file)
            .collect();
        assert_eq!(pg, ["001_users.postgres.sql", "002_more.sql"]);
        let lite: Vec<_> = for_engine(&list, "sqlite").iter().map(|m| m.file).collect();
        assert_eq!(lite, ["001_users.sql", "002_more.sql"]);
        assert_eq!(
            list[1].key(),
            "users/001_users.sql",
            "same history key on both engines"
        );
    }
}
