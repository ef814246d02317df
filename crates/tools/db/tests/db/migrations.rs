//! Migrations on both engines: dependency order, all-or-nothing files,
//! idempotence, cycles.

use crate::contract;

use microcore_db::{Db, DbErrorKind, Migration, params};
use serde_json::Value;

contract!(
    depends_order_is_applied_and_recorded,
    a_failing_file_leaves_neither_tables_nor_history,
    a_cycle_applies_nothing_and_names_the_files,
);

const USERS: Migration = Migration {
    domain: "users",
    file: "001_create_users.sql",
    sql: "-- Users.\nCREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);\n\
          CREATE INDEX users_email ON users (email);",
};
const PROFILES: Migration = Migration {
    domain: "profiles",
    file: "000_create_profiles.sql",
    sql: "-- depends: users/001_create_users.sql\n\
          CREATE TABLE profiles (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id));",
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

async fn tables(db: &Db) -> Vec<String> {
    db.describe_schema()
        .await
        .unwrap()
        .tables
        .into_keys()
        .collect()
}

async fn depends_order_is_applied_and_recorded(db: Db) {
    let applied = db.apply_migrations(&[PROFILES, USERS]).await.unwrap();
    let expected = [
        "users/001_create_users.sql",
        "profiles/000_create_profiles.sql",
    ];
    assert_eq!(applied, expected);
    assert_eq!(history(&db).await, expected);
    assert!(
        db.apply_migrations(&[PROFILES, USERS])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(history(&db).await, expected, "nothing is applied twice");
    db.execute("INSERT INTO users (id, email) VALUES (1, 'a@x')", params![])
        .await
        .unwrap();
}

async fn a_failing_file_leaves_neither_tables_nor_history(db: Db) {
    let broken = Migration {
        domain: "orders",
        file: "001_broken.sql",
        sql: "-- depends: users/001_create_users.sql\n\
              CREATE TABLE orders (id INTEGER PRIMARY KEY);\nCREATE TABLE oops (id INTEGER,);",
    };
    let e = db.apply_migrations(&[USERS, broken]).await.unwrap_err();
    assert!(
        e.message
            .starts_with("migration orders/001_broken.sql failed: "),
        "{e}"
    );
    assert_eq!(history(&db).await, ["users/001_create_users.sql"]);
    let tables = tables(&db).await;
    assert!(!tables.contains(&"orders".to_owned()), "{tables:?}");
    assert!(tables.contains(&"users".to_owned()), "{tables:?}");
}

async fn a_cycle_applies_nothing_and_names_the_files(db: Db) {
    let a = Migration {
        domain: "a",
        file: "001.sql",
        sql: "-- depends: b/001.sql\nCREATE TABLE a (id INTEGER);",
    };
    let b = Migration {
        domain: "b",
        file: "001.sql",
        sql: "-- depends: a/001.sql\nCREATE TABLE b (id INTEGER);",
    };
    let e = db.apply_migrations(&[a, b]).await.unwrap_err();
    assert_eq!(e.kind, DbErrorKind::Unknown);
    assert!(
        e.message.contains("a/001.sql -> b/001.sql -> a/001.sql"),
        "{e}"
    );
    let tables = tables(&db).await;
    assert!(!tables.contains(&"a".to_owned()) && !tables.contains(&"b".to_owned()));
}
