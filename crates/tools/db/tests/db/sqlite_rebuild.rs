//! SQLite's documented table-rebuild recipe works in a migration: foreign
//! keys are off while a migration runs (so `DROP TABLE` of a parent does not
//! cascade into its children), checked before it commits, and on again after.

use microcore_db::{Db, DbErrorKind, Migration, params};
use serde_json::Value;

const TABLES: Migration = Migration {
    domain: "family",
    file: "001_tables.sql",
    sql: "CREATE TABLE parents (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n\
          CREATE TABLE children (id INTEGER PRIMARY KEY, \
          parent_id INTEGER NOT NULL REFERENCES parents(id) ON DELETE CASCADE);",
};

/// <https://sqlite.org/lang_altertable.html#otheralter>, as a migration that
/// gives `parents` an AUTOINCREMENT key.
const REBUILD: Migration = Migration {
    domain: "family",
    file: "002_rebuild_parents.sql",
    sql: "PRAGMA foreign_keys=OFF;\n\
          CREATE TABLE parents_new (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL);\n\
          INSERT INTO parents_new (id, name) SELECT id, name FROM parents;\n\
          DROP TABLE parents;\n\
          ALTER TABLE parents_new RENAME TO parents;\n\
          PRAGMA foreign_key_check;\n\
          PRAGMA foreign_keys=ON;",
};

const ORPHANS: Migration = Migration {
    domain: "family",
    file: "003_orphans.sql",
    sql: "DELETE FROM parents WHERE id = 1;",
};

async fn count(db: &Db, sql: &'static str) -> i64 {
    let row: Value = db.query_one(sql, params![]).await.unwrap().unwrap();
    row["n"].as_i64().unwrap()
}

async fn family() -> Db {
    let db = Db::sqlite_memory().await.unwrap();
    db.apply_migrations(&[TABLES]).await.unwrap();
    db.execute(
        "INSERT INTO parents (id, name) VALUES (1, 'Ana'), (2, 'Bo')",
        params![],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO children (id, parent_id) VALUES (10, 1), (11, 2)",
        params![],
    )
    .await
    .unwrap();
    db
}

#[tokio::test]
async fn the_table_rebuild_recipe_keeps_child_rows_and_foreign_keys_stay_on() {
    let db = family().await;
    db.apply_migrations(&[TABLES, REBUILD]).await.unwrap();
    assert_eq!(
        count(&db, "SELECT COUNT(*) AS n FROM children").await,
        2,
        "no child row was deleted by ON DELETE CASCADE"
    );
    let id = db
        .execute(
            "INSERT INTO parents (name) VALUES ('Cy') RETURNING id",
            params![],
        )
        .await
        .unwrap();
    assert_eq!(id, 3);
    let e = db
        .execute(
            "INSERT INTO children (id, parent_id) VALUES (12, 99)",
            params![],
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.kind,
        DbErrorKind::ForeignKeyViolation,
        "foreign keys are on again after the migration: {e}"
    );
}

#[tokio::test]
async fn a_migration_that_leaves_orphans_fails_naming_the_table_and_changes_nothing() {
    let db = family().await;
    let e = db.apply_migrations(&[TABLES, ORPHANS]).await.unwrap_err();
    assert!(
        e.message.contains("family/003_orphans.sql") && e.message.contains("children"),
        "{e}"
    );
    assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM parents").await, 2);
    assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM children").await, 2);
    let e = db
        .execute("DELETE FROM parents WHERE id = 2", params![])
        .await;
    assert!(e.is_ok(), "cascade works again: {e:?}");
    assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM children").await, 1);
}
