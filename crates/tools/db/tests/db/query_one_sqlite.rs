//! On SQLite `query_one` stops reading after the first row of a single
//! statement; a script of several statements still runs whole.

use microcore_db::{Db, params};
use serde_json::Value;

async fn db_with_table() -> Db {
    let db = Db::sqlite_memory().await.unwrap();
    db.execute("CREATE TABLE marks (n INTEGER NOT NULL)", params![])
        .await
        .unwrap();
    db
}

async fn marks(db: &Db) -> i64 {
    let row: Value = db
        .query_one("SELECT COUNT(*) AS n FROM marks", params![])
        .await
        .unwrap()
        .unwrap();
    row["n"].as_i64().unwrap()
}

#[tokio::test]
async fn a_script_runs_every_statement_after_its_first_row() {
    let db = db_with_table().await;
    let first: Option<Value> = db
        .query_one(
            "SELECT 7 AS seven; INSERT INTO marks (n) VALUES (1); INSERT INTO marks (n) VALUES (2)",
            params![],
        )
        .await
        .unwrap();
    assert_eq!(first.unwrap()["seven"], 7);
    assert_eq!(marks(&db).await, 2);
}

#[tokio::test]
async fn a_write_returning_many_rows_changes_every_row() {
    let db = db_with_table().await;
    for n in 1..=3 {
        db.execute("INSERT INTO marks (n) VALUES ($1)", params![n])
            .await
            .unwrap();
    }
    let first: Option<Value> = db
        .query_one("UPDATE marks SET n = n + 10 RETURNING n", params![])
        .await
        .unwrap();
    assert!(first.is_some());
    let total: Value = db
        .query_one("SELECT SUM(n) AS total FROM marks", params![])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(total["total"], 36);
}
