//! Which migrations exist and in what order they apply: the files, their
//! keys and engines, `-- depends:` lines, and the engine's choice of twins.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::error::DbError;

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

/// Properties of the `-- depends:` reader and the ordering over any text a
/// migration author may write.
#[cfg(test)]
mod properties {
    use super::*;

    use proptest::prelude::*;

    fn leak(s: String) -> &'static str {
        Box::leak(s.into_boxed_str())
    }

    fn migration(domain: String, file: String, sql: String) -> Migration {
        Migration {
            domain: leak(domain),
            file: leak(file),
            sql: leak(sql),
        }
    }

    /// A dependency as written (with or without `.sql`) and its key.
    fn dep() -> impl Strategy<Value = (String, String)> {
        ("[a-z_]{1,8}", "[0-9]{3}_[a-z0-9_.]{0,8}", any::<bool>()).prop_map(|(d, f, ext)| {
            let f = f.trim_end_matches(".sql").to_owned();
            let written = if ext {
                format!("{d}/{f}.sql")
            } else {
                format!("{d}/{f}")
            };
            (written, format!("{d}/{f}.sql"))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn reading_depends_never_panics(sql in any::<String>(), prefix in "(-- ?depends: ?)?") {
            let m = migration("a".into(), "1.sql".into(), format!("{prefix}{sql}"));
            let _ = m.depends();
            let _ = order(&[m]);
        }

        #[test]
        fn written_dependencies_read_back_in_order(
            lines in proptest::collection::vec(proptest::collection::vec(dep(), 0..4), 0..4),
            sep in proptest::sample::select(vec![", ", ",", " ", " ,  "]),
            body in "[A-Za-z0-9 ;]{0,20}",
        ) {
            let mut sql = String::from("-- a comment before\n\n");
            let mut keys = Vec::new();
            for line in &lines {
                let written: Vec<&str> = line.iter().map(|(w, _)| w.as_str()).collect();
                sql.push_str(&format!("  --   depends: {}  \n", written.join(sep)));
                keys.extend(line.iter().map(|(_, k)| k.clone()));
            }
            // a `-- depends:` after the first statement is SQL's, not ours
            sql.push_str(&format!("CREATE TABLE t (x INT);{body}\n-- depends: z/999_late\n"));
            let m = migration("a".into(), "1.sql".into(), sql);
            prop_assert_eq!(m.depends(), keys);
        }

        #[test]
        fn an_order_places_every_file_once_after_what_it_needs(
            files in proptest::collection::btree_set(("[a-c]", "[0-3]"), 1..8),
            picks in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 0..8),
        ) {
            let files: Vec<(String, String)> = files.into_iter().collect();
            let key = |(d, f): &(String, String)| format!("{d}/{f}.sql");
            let mut deps: Vec<Vec<String>> = vec![Vec::new(); files.len()];
            for (from, to) in &picks {
                deps[from.index(files.len())].push(key(&files[to.index(files.len())]));
            }
            let list: Vec<Migration> = files
                .iter()
                .zip(&deps)
                .map(|((d, f), ds)| {
                    migration(d.clone(), format!("{f}.sql"), format!("-- depends: {}\nSELECT 1;", ds.join(", ")))
                })
                .collect();
            match order(&list) {
                Ok(done) => {
                    let at: Vec<String> = done.iter().map(Migration::key).collect();
                    prop_assert_eq!(at.len(), list.len());
                    for (m, ds) in list.iter().zip(&deps) {
                        let me = at.iter().position(|k| *k == m.key()).unwrap();
                        for d in ds.iter().filter(|d| **d != m.key()) {
                            let them = at.iter().position(|k| k == d).unwrap();
                            prop_assert!(them < me, "{} placed before its dependency {}", m.key(), d);
                        }
                    }
                }
                Err(e) => prop_assert!(e.message.contains("cycle"), "{}", e),
            }
        }
    }
}
