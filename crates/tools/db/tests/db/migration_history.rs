//! The migration history: one key per migration whatever engine twin ran,
//! and replicas that boot together on a fresh database.

use crate::contract;
use crate::support;

use microcore_db::{Db, Migration, MigrationState, MigrationStatus, Sql, params};
use serde_json::Value;

contract!(
    an_engine_twin_is_recorded_under_the_shared_key,
    a_twin_recorded_under_its_own_name_is_not_run_again,
    an_edited_applied_migration_fails_naming_the_file,
    rows_recorded_without_a_checksum_get_one,
    status_lists_pending_applied_edited_and_missing_without_writing,
);

const BASE: Migration = Migration {
    domain: "twins",
    file: "001_t.sql",
    sql: "CREATE TABLE twin_generic (id INTEGER);",
};
const ON_POSTGRES: Migration = Migration {
    domain: "twins",
    file: "001_t.postgres.sql",
    sql: "CREATE TABLE twin_specific (id BIGSERIAL PRIMARY KEY);",
};
const ON_SQLITE: Migration = Migration {
    domain: "twins",
    file: "001_t.sqlite.sql",
    sql: "CREATE TABLE twin_specific (id INTEGER PRIMARY KEY AUTOINCREMENT);",
};
const OTHER: Migration = Migration {
    domain: "other",
    file: "001_o.sql",
    sql: "CREATE TABLE other (id INTEGER);",
};

async fn history(db: &Db) -> Vec<String> {
    let rows: Vec<Value> = db
        .query(
            "SELECT domain, filename FROM _migrations_history ORDER BY id",
            params![],
        )
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            format!(
                "{}/{}",
                r["domain"].as_str().unwrap(),
                r["filename"].as_str().unwrap()
            )
        })
        .collect()
}

async fn has_table(db: &Db, name: &str) -> bool {
    db.describe_schema()
        .await
        .unwrap()
        .tables
        .contains_key(name)
}

async fn an_engine_twin_is_recorded_under_the_shared_key(db: Db) {
    let applied = db
        .apply_migrations(&[BASE, ON_POSTGRES, ON_SQLITE])
        .await
        .unwrap();
    assert_eq!(applied, ["twins/001_t.sql"]);
    assert_eq!(history(&db).await, ["twins/001_t.sql"]);
    assert!(has_table(&db, "twin_specific").await && !has_table(&db, "twin_generic").await);
    // removing the twin does not run the generic file on top
    let again = db.apply_migrations(&[BASE]).await.unwrap();
    assert!(again.is_empty(), "{again:?}");
    assert!(!has_table(&db, "twin_generic").await);
}

async fn a_twin_recorded_under_its_own_name_is_not_run_again(db: Db) {
    db.apply_migrations(&[OTHER]).await.unwrap();
    let old_name = format!("001_t.{}.sql", db.engine());
    db.execute(
        "INSERT INTO _migrations_history (domain, filename) VALUES ('twins', $1)",
        params![old_name],
    )
    .await
    .unwrap();
    let applied = db
        .apply_migrations(&[BASE, ON_POSTGRES, ON_SQLITE, OTHER])
        .await
        .unwrap();
    assert!(applied.is_empty(), "{applied:?}");
    let applied = db.apply_migrations(&[BASE, OTHER]).await.unwrap();
    assert!(applied.is_empty(), "{applied:?}");
    assert!(!has_table(&db, "twin_specific").await && !has_table(&db, "twin_generic").await);
}

const OTHER_EDITED: Migration = Migration {
    domain: "other",
    file: "001_o.sql",
    sql: "CREATE TABLE other (id INTEGER, extra TEXT);",
};

async fn an_edited_applied_migration_fails_naming_the_file(db: Db) {
    db.apply_migrations(&[OTHER]).await.unwrap();
    let e = db.apply_migrations(&[OTHER_EDITED]).await.unwrap_err();
    assert!(
        e.message
            .contains("domains/other/migrations/001_o.sql was edited after it was applied"),
        "{e}"
    );
    assert!(e.message.contains("new migration file"), "{e}");
    // the same text with CRLF line ends is not an edit
    let crlf = Migration {
        sql: "CREATE TABLE other (id INTEGER);\r\n",
        ..OTHER
    };
    let lf = Migration {
        sql: "CREATE TABLE other (id INTEGER);\n",
        ..OTHER
    };
    let db2 = Db::sqlite_memory().await.unwrap();
    db2.apply_migrations(&[lf]).await.unwrap();
    assert!(db2.apply_migrations(&[crlf]).await.unwrap().is_empty());
}

async fn rows_recorded_without_a_checksum_get_one(db: Db) {
    db.apply_migrations(&[OTHER]).await.unwrap();
    db.execute("UPDATE _migrations_history SET checksum = NULL", params![])
        .await
        .unwrap();
    assert!(db.apply_migrations(&[OTHER]).await.unwrap().is_empty());
    let row: Value = db
        .query_one("SELECT checksum FROM _migrations_history", params![])
        .await
        .unwrap()
        .unwrap();
    assert!(
        row["checksum"].as_str().is_some_and(|c| !c.is_empty()),
        "{row}"
    );
    assert!(db.apply_migrations(&[OTHER_EDITED]).await.is_err());
}

fn states(list: &[MigrationStatus]) -> Vec<(String, String, MigrationState)> {
    list.iter()
        .map(|s| (s.key.clone(), s.file.clone(), s.state))
        .collect()
}

async fn status_lists_pending_applied_edited_and_missing_without_writing(db: Db) {
    use MigrationState::*;
    let twin = format!("001_t.{}.sql", db.engine());
    let all = [BASE, ON_POSTGRES, ON_SQLITE, OTHER];
    let fresh = db.migration_status_of(&all).await.unwrap();
    let expected = |other| {
        vec![
            ("other/001_o.sql".to_owned(), "001_o.sql".to_owned(), other),
            ("twins/001_t.sql".to_owned(), twin.clone(), Pending),
        ]
    };
    assert_eq!(states(&fresh), expected(Pending));
    assert!(
        !has_table(&db, "_migrations_history").await,
        "asking for the status writes nothing"
    );
    db.apply_migrations(&[OTHER]).await.unwrap();
    let applied = db.migration_status_of(&all).await.unwrap();
    assert_eq!(states(&applied), expected(Applied));
    assert!(applied[0].applied_at.is_some() && applied[1].applied_at.is_none());
    let edited = db
        .migration_status_of(&[BASE, ON_POSTGRES, ON_SQLITE, OTHER_EDITED])
        .await
        .unwrap();
    assert_eq!(states(&edited), expected(Edited));
    let gone = db
        .migration_status_of(&[BASE, ON_POSTGRES, ON_SQLITE])
        .await
        .unwrap();
    assert_eq!(
        states(&gone),
        [
            ("twins/001_t.sql".to_owned(), twin.clone(), Pending),
            (
                "other/001_o.sql".to_owned(),
                "001_o.sql".to_owned(),
                Missing
            ),
        ]
    );
}

/// A history table made before checksums existed gains the column.
#[tokio::test]
async fn a_history_table_without_the_checksum_column_is_upgraded() {
    let db = Db::sqlite_memory().await.unwrap();
    db.execute(
        "CREATE TABLE _migrations_history (id INTEGER PRIMARY KEY AUTOINCREMENT, \
         domain TEXT NOT NULL, filename TEXT NOT NULL, \
         applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, UNIQUE (domain, filename))",
        params![],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO _migrations_history (domain, filename) VALUES ('other', '001_o.sql')",
        params![],
    )
    .await
    .unwrap();
    assert!(db.apply_migrations(&[OTHER]).await.unwrap().is_empty());
    assert!(db.apply_migrations(&[OTHER_EDITED]).await.is_err());
}

/// Replicas booting at once on a fresh PostgreSQL schema all succeed and the
/// migration runs once: the history table is created under the lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_booting_together_on_a_fresh_postgres_all_succeed() {
    for _round in 0..4 {
        let Some(pg) = support::postgres().await else {
            return;
        };
        let mut replicas = Vec::new();
        for _ in 0..6 {
            replicas.push(Db::connect(&pg.url()).await.unwrap());
        }
        let boots = replicas.iter().map(|db| db.apply_migrations(&[OTHER]));
        let results = futures::future::join_all(boots).await;
        let mut applied = 0;
        for result in results {
            applied += result.expect("every replica boots").len();
        }
        assert_eq!(applied, 1, "the migration ran once");
        let n: Value = pg
            .db
            .query_one(
                Sql::trusted("SELECT COUNT(*) AS n FROM _migrations_history"),
                params![],
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n["n"], 1);
        for db in replicas {
            db.close().await;
        }
        pg.drop().await;
    }
}
