//! Transactions behave the same on both engines where PostgreSQL and SQLite
//! differ by nature: a caught failure, sibling savepoints.

use crate::contract;

use microcore_db::{Db, DbError, DbErrorKind, params};
use serde_json::{Value, json};

contract!(
    a_caught_failure_keeps_the_transaction_usable_and_commits_the_rest,
    concurrent_sibling_savepoints_each_keep_or_lose_only_their_own_work,
);

async fn table(db: &Db) {
    db.execute(
        "CREATE TABLE _tx (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        params![],
    )
    .await
    .unwrap();
}

async fn names(db: &Db) -> Vec<Value> {
    db.query("SELECT id, name FROM _tx ORDER BY id", params![])
        .await
        .unwrap()
}

/// PostgreSQL aborts a transaction at its first failed statement and turns
/// the COMMIT into a ROLLBACK; SQLite undoes only the statement. The tool
/// makes PostgreSQL behave like SQLite, so the closure below commits on both.
async fn a_caught_failure_keeps_the_transaction_usable_and_commits_the_rest(db: Db) {
    table(&db).await;
    db.transaction(|tx| async move {
        tx.execute("INSERT INTO _tx (id, name) VALUES (1, 'first')", params![])
            .await?;
        let dup = tx
            .execute("INSERT INTO _tx (id, name) VALUES (1, 'dup')", params![])
            .await
            .unwrap_err();
        assert_eq!(dup.kind, DbErrorKind::UniqueViolation);
        let bad = tx
            .query::<Value>("SELEC nonsense", params![])
            .await
            .unwrap_err();
        assert_eq!(bad.kind, DbErrorKind::Unknown);
        tx.execute("INSERT INTO _tx (id, name) VALUES (2, 'after')", params![])
            .await?;
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(
        names(&db).await,
        vec![
            json!({"id": 1, "name": "first"}),
            json!({"id": 2, "name": "after"})
        ]
    );
}

/// Two nested transactions joined in one task: the failing one rolls back
/// exactly its own insert, the other keeps its own.
async fn concurrent_sibling_savepoints_each_keep_or_lose_only_their_own_work(db: Db) {
    table(&db).await;
    db.transaction(|tx| async move {
        let (a, b) = tokio::join!(
            tx.transaction(|inner| async move {
                inner
                    .execute("INSERT INTO _tx (id, name) VALUES (1, 'a')", params![])
                    .await?;
                tokio::task::yield_now().await;
                inner
                    .execute("INSERT INTO _tx (id, name) VALUES (3, 'a2')", params![])
                    .await?;
                Err::<(), DbError>(
                    inner
                        .execute("INSERT INTO _tx (id, name) VALUES (1, 'dup')", params![])
                        .await
                        .unwrap_err(),
                )
            }),
            tx.transaction(|inner| async move {
                inner
                    .execute("INSERT INTO _tx (id, name) VALUES (2, 'b')", params![])
                    .await?;
                tokio::task::yield_now().await;
                inner
                    .execute("INSERT INTO _tx (id, name) VALUES (4, 'b2')", params![])
                    .await?;
                Ok(())
            }),
        );
        assert_eq!(a.unwrap_err().kind, DbErrorKind::UniqueViolation);
        b?;
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(
        names(&db).await,
        vec![
            json!({"id": 2, "name": "b"}),
            json!({"id": 4, "name": "b2"})
        ]
    );
}

/// A trigger's `RAISE(ROLLBACK, …)` makes SQLite end the whole transaction.
/// The statements the closure runs after it used to commit one by one (the
/// connection was back in autocommit) while `transaction()` failed at COMMIT;
/// now they fail too and nothing is written.
#[tokio::test]
async fn after_sqlite_ends_a_transaction_later_statements_fail_instead_of_committing_alone() {
    let db = crate::support::sqlite().await;
    table(&db).await;
    db.execute(
        "CREATE TRIGGER no_negative BEFORE INSERT ON _tx WHEN NEW.id < 0 \
         BEGIN SELECT RAISE(ROLLBACK, 'negative ids roll back everything'); END",
        params![],
    )
    .await
    .unwrap();
    let result = db
        .transaction(|tx| async move {
            tx.execute("INSERT INTO _tx (id, name) VALUES (1, 'before')", params![])
                .await?;
            let e = tx
                .execute("INSERT INTO _tx (id, name) VALUES (-1, 'bad')", params![])
                .await
                .unwrap_err();
            assert!(e.message.contains("negative ids"), "{e}");
            let after = tx
                .execute("INSERT INTO _tx (id, name) VALUES (2, 'after')", params![])
                .await;
            assert!(
                after
                    .as_ref()
                    .is_err_and(|e| e.message.contains("rolled back, not committed")),
                "{after:?}"
            );
            Ok(())
        })
        .await;
    let e = result.unwrap_err();
    assert!(e.message.contains("rolled back, not committed"), "{e}");
    assert_eq!(names(&db).await, Vec::<Value>::new());
    // the connection is usable again
    db.transaction(|tx| async move {
        tx.execute("INSERT INTO _tx (id, name) VALUES (3, 'next')", params![])
            .await
    })
    .await
    .unwrap();
    assert_eq!(names(&db).await, vec![json!({"id": 3, "name": "next"})]);
}
