//! The db contract, written once and run against SQLite and PostgreSQL.

use crate::contract;

use std::time::Duration;

use microcore_db::{Db, DbError, DbErrorKind, Sql, params};
use serde_json::{Value, json};

contract!(
    statements_return_the_same_numbers_and_rows,
    placeholders_work_in_any_order_and_skip_literals,
    missing_or_extra_parameters_are_rejected,
    values_round_trip,
    transaction_commits_on_ok_and_rolls_back_on_err,
    transaction_sees_its_own_writes_and_plain_calls_join_it,
    nested_transaction_rollback_keeps_outer_work,
    cancelled_transaction_rolls_back,
    concurrent_read_modify_write_transactions_serialise,
    constraint_errors_have_the_same_kind_table_and_columns,
    missing_table_is_unknown,
    execute_many_is_all_or_nothing,
    rows_decode_into_structs,
);

async fn parity_table(db: &Db) {
    db.execute(
        "CREATE TABLE _parity (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        params![],
    )
    .await
    .unwrap();
}

async fn count(db: &Db, table: &'static str) -> i64 {
    let sql = Sql::trusted(format!("SELECT COUNT(*) AS n FROM {table}"));
    let row: Value = db.query_one(sql, params![]).await.unwrap().unwrap();
    row["n"].as_i64().unwrap()
}

async fn statements_return_the_same_numbers_and_rows(db: Db) {
    parity_table(&db).await;
    let empty: Vec<Value> = db
        .query("SELECT id, name FROM _parity", params![])
        .await
        .unwrap();
    assert!(empty.is_empty());
    let inserted = db
        .execute(
            "INSERT INTO _parity (id, name) VALUES ($1, $2)",
            params![1, "Ana"],
        )
        .await
        .unwrap();
    assert_eq!(inserted, 1);
    let returned = db
        .execute(
            "INSERT INTO _parity (id, name) VALUES (42, 'Bo') RETURNING id",
            params![],
        )
        .await
        .unwrap();
    assert_eq!(returned, 42);
    let rows: Vec<Value> = db
        .query("SELECT id, name FROM _parity WHERE id = $1", params![1])
        .await
        .unwrap();
    assert_eq!(rows, vec![json!({"id": 1, "name": "Ana"})]);
    let none: Option<Value> = db
        .query_one("SELECT id FROM _parity WHERE id = $1", params![999])
        .await
        .unwrap();
    assert_eq!(none, None);
    let no_match = db
        .execute(
            "UPDATE _parity SET name = $1 WHERE id = $2",
            params!["X", 999],
        )
        .await
        .unwrap();
    assert_eq!(no_match, 0);
    let no_match_returning = db
        .execute(
            "UPDATE _parity SET name = 'X' WHERE id = 999 RETURNING id",
            params![],
        )
        .await
        .unwrap();
    assert_eq!(no_match_returning, 0);
    let all = db
        .execute("UPDATE _parity SET name = name", params![])
        .await
        .unwrap();
    assert_eq!(all, 2);
    assert_eq!(
        db.execute_many("DELETE FROM _parity", vec![])
            .await
            .unwrap(),
        0
    );
    assert_eq!(count(&db, "_parity").await, 2);
    let not_int = db
        .execute(
            "UPDATE _parity SET name = 'Y' WHERE id = 1 RETURNING name",
            params![],
        )
        .await
        .unwrap_err();
    assert!(not_int.message.contains("query_one"), "{not_int}");
}

async fn placeholders_work_in_any_order_and_skip_literals(db: Db) {
    let row: Value = db
        .query_one("SELECT $2 AS a, $1 AS b, $1 AS c", params!["one", "two"])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row, json!({"a": "two", "b": "one", "c": "one"}));
    let row: Value = db
        .query_one(
            "SELECT '$1' AS lit, $1 AS v -- $2 in a comment\n",
            params!["x"],
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row, json!({"lit": "$1", "v": "x"}));
}

async fn missing_or_extra_parameters_are_rejected(db: Db) {
    let e = db
        .query::<Value>("SELECT $1 AS a, $2 AS b", params!["only one"])
        .await
        .unwrap_err();
    assert_eq!(e.kind, DbErrorKind::Unknown);
    assert!(
        e.message.contains("$1..$2") && e.message.contains("1 parameter"),
        "{e}"
    );
    let e = db
        .query::<Value>("SELECT 1 AS a", params![1])
        .await
        .unwrap_err();
    assert!(e.message.contains("no placeholders"), "{e}");
}

async fn values_round_trip(db: Db) {
    let (blob, json_type) = match db.engine() {
        "postgres" => ("BYTEA", "JSONB"),
        _ => ("BLOB", "TEXT"),
    };
    let ddl = format!(
        "CREATE TABLE vals (i BIGINT, small INTEGER, f DOUBLE PRECISION, t TEXT, b BOOLEAN, \
         bytes {blob}, doc {json_type}, n TEXT)"
    );
    db.execute(Sql::trusted(ddl), params![]).await.unwrap();
    db.execute(
        "INSERT INTO vals (i, small, f, t, b, bytes, doc, n) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        params![
            9_000_000_000i64,
            7,
            1.5,
            "héllo",
            true,
            vec![0u8, 255],
            json!({"k": [1, 2]}).to_string(),
            None::<String>
        ],
    )
    .await
    .unwrap();
    let row: Value = db
        .query_one("SELECT i, small, f, t, b, bytes, n FROM vals", params![])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row,
        json!({"i": 9_000_000_000i64, "small": 7, "f": 1.5, "t": "héllo", "b": true,
               "bytes": "AP8=", "n": null})
    );
    let found: Option<Value> = db
        .query_one(
            "SELECT t FROM vals WHERE b = $1 AND small = $2",
            params![true, 7],
        )
        .await
        .unwrap();
    assert!(found.is_some());
}

async fn transaction_commits_on_ok_and_rolls_back_on_err(db: Db) {
    parity_table(&db).await;
    let id = db
        .transaction(|tx| async move {
            tx.execute(
                "INSERT INTO _parity (id, name) VALUES (1, 'Ana') RETURNING id",
                params![],
            )
            .await
        })
        .await
        .unwrap();
    assert_eq!(id, 1);
    let failed: Result<(), DbError> = db
        .transaction(|tx| async move {
            tx.execute("INSERT INTO _parity (id, name) VALUES (2, 'Bo')", params![])
                .await?;
            tx.execute(
                "INSERT INTO _parity (id, name) VALUES (1, 'dup')",
                params![],
            )
            .await?;
            Ok(())
        })
        .await;
    assert_eq!(failed.unwrap_err().kind, DbErrorKind::UniqueViolation);
    assert_eq!(count(&db, "_parity").await, 1);

    #[derive(Debug)]
    enum Business {
        Db(#[allow(dead_code)] DbError),
        Refused,
    }
    impl From<DbError> for Business {
        fn from(e: DbError) -> Self {
            Business::Db(e)
        }
    }
    let refused = db
        .try_transaction(|tx| async move {
            tx.execute("INSERT INTO _parity (id, name) VALUES (3, 'Cy')", params![])
                .await?;
            Err::<(), _>(Business::Refused)
        })
        .await;
    assert!(matches!(refused, Err(Business::Refused)));
    assert_eq!(count(&db, "_parity").await, 1);
}

async fn transaction_sees_its_own_writes_and_plain_calls_join_it(db: Db) {
    parity_table(&db).await;
    let outside = &db.clone();
    let result: Result<(), DbError> = db
        .transaction(|tx| async move {
            tx.execute(
                "INSERT INTO _parity (id, name) VALUES (1, 'Ana')",
                params![],
            )
            .await?;
            let seen: Vec<Value> = tx.query("SELECT name FROM _parity", params![]).await?;
            assert_eq!(seen, vec![json!({"name": "Ana"})]);
            // a plain call on another clone of the handle joins the open transaction
            outside
                .execute("INSERT INTO _parity (id, name) VALUES (2, 'Bo')", params![])
                .await?;
            assert_eq!(count(outside, "_parity").await, 2);
            // an error rolls back everything, the joined insert included
            outside
                .query::<Value>("SELECT * FROM no_such_table_here", params![])
                .await?;
            Ok(())
        })
        .await;
    assert!(result.is_err());
    assert_eq!(
        count(&db, "_parity").await,
        0,
        "both inserts rolled back together"
    );
}

async fn nested_transaction_rollback_keeps_outer_work(db: Db) {
    parity_table(&db).await;
    db.transaction(|tx| async move {
        tx.execute(
            "INSERT INTO _parity (id, name) VALUES (1, 'outer')",
            params![],
        )
        .await?;
        let inner: Result<(), DbError> = tx
            .transaction(|inner| async move {
                inner
                    .execute(
                        "INSERT INTO _parity (id, name) VALUES (2, 'inner')",
                        params![],
                    )
                    .await?;
                inner
                    .execute(
                        "INSERT INTO _parity (id, name) VALUES (2, 'dup')",
                        params![],
                    )
                    .await?;
                Ok(())
            })
            .await;
        assert_eq!(inner.unwrap_err().kind, DbErrorKind::UniqueViolation);
        // a committed savepoint stays
        tx.transaction(|inner| async move {
            inner
                .execute(
                    "INSERT INTO _parity (id, name) VALUES (3, 'kept')",
                    params![],
                )
                .await
        })
        .await?;
        Ok(())
    })
    .await
    .unwrap();
    let names: Vec<Value> = db
        .query("SELECT name FROM _parity ORDER BY id", params![])
        .await
        .unwrap();
    assert_eq!(
        names,
        vec![json!({"name": "outer"}), json!({"name": "kept"})]
    );
}

async fn cancelled_transaction_rolls_back(db: Db) {
    parity_table(&db).await;
    let cancelled = tokio::time::timeout(
        Duration::from_millis(200),
        db.transaction(|tx| async move {
            tx.execute(
                "INSERT INTO _parity (id, name) VALUES (1, 'lost')",
                params![],
            )
            .await?;
            std::future::pending::<()>().await;
            Ok(())
        }),
    )
    .await;
    assert!(
        cancelled.is_err(),
        "the transaction was cancelled by the timeout"
    );
    // the next statement runs (the connection came back) and sees nothing
    assert_eq!(count(&db, "_parity").await, 0);
    db.transaction(|tx| async move {
        tx.execute(
            "INSERT INTO _parity (id, name) VALUES (1, 'kept')",
            params![],
        )
        .await
    })
    .await
    .unwrap();
    assert_eq!(count(&db, "_parity").await, 1);

    // a Tx kept past its closure refuses to run
    let kept = db.transaction(|tx| async move { Ok(tx) }).await.unwrap();
    let e = kept
        .execute("DELETE FROM _parity", params![])
        .await
        .unwrap_err();
    assert!(e.message.contains("has ended"), "{e}");
}

async fn concurrent_read_modify_write_transactions_serialise(db: Db) {
    db.execute(
        "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
        params![],
    )
    .await
    .unwrap();
    db.execute("INSERT INTO counter (id, n) VALUES (1, 0)", params![])
        .await
        .unwrap();
    let bump = |db: Db| async move {
        db.transaction(|tx| async move {
            let row: Value = tx
                .query_one("SELECT n FROM counter WHERE id = 1", params![])
                .await?
                .unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            tx.execute(
                "UPDATE counter SET n = $1 WHERE id = 1",
                params![row["n"].as_i64().unwrap() + 1],
            )
            .await
        })
        .await
    };
    let (a, b) = tokio::join!(
        tokio::spawn(bump(db.clone())),
        tokio::spawn(bump(db.clone()))
    );
    a.unwrap().unwrap();
    b.unwrap().unwrap();
    let row: Value = db
        .query_one("SELECT n FROM counter", params![])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row["n"], 2);
}

async fn constraint_errors_have_the_same_kind_table_and_columns(db: Db) {
    parity_table(&db).await;
    db.execute(
        "CREATE TABLE _parity_err (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, \
         age INTEGER CHECK (age >= 0), parent_id INTEGER REFERENCES _parity(id))",
        params![],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO _parity_err (id, email) VALUES (1, 'a@x')",
        params![],
    )
    .await
    .unwrap();
    let cases: [(&'static str, DbErrorKind, Option<&str>, Vec<&str>); 4] = [
        (
            "INSERT INTO _parity_err (id, email) VALUES (2, 'a@x')",
            DbErrorKind::UniqueViolation,
            Some("_parity_err"),
            vec!["email"],
        ),
        (
            "INSERT INTO _parity_err (id, email) VALUES (3, NULL)",
            DbErrorKind::NotNullViolation,
            Some("_parity_err"),
            vec!["email"],
        ),
        (
            "INSERT INTO _parity_err (id, email, age) VALUES (4, 'b@x', -1)",
            DbErrorKind::CheckViolation,
            None,
            vec![],
        ),
        (
            "INSERT INTO _parity_err (id, email, parent_id) VALUES (5, 'c@x', 99)",
            DbErrorKind::ForeignKeyViolation,
            None,
            vec![],
        ),
    ];
    for (sql, kind, table, columns) in cases {
        let plain = db.execute(sql, params![]).await.unwrap_err();
        let in_tx = db
            .transaction(|tx| async move { tx.execute(sql, params![]).await })
            .await
            .unwrap_err();
        for e in [plain, in_tx] {
            assert_eq!(
                (e.kind, e.table.as_deref(), e.columns.clone()),
                (kind, table, columns.iter().map(|c| c.to_string()).collect()),
                "{sql}: {e}"
            );
        }
    }
}

async fn missing_table_is_unknown(db: Db) {
    let e = db
        .query::<Value>("SELECT * FROM no_such_table", params![])
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind, e.table.as_deref(), e.columns.len()),
        (DbErrorKind::Unknown, None, 0)
    );
    assert!(e.message.contains("no_such_table"), "{e}");
}

async fn execute_many_is_all_or_nothing(db: Db) {
    parity_table(&db).await;
    let n = db
        .execute_many(
            "INSERT INTO _parity (id, name) VALUES ($1, $2)",
            vec![params![1, "a"], params![2, "b"]],
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
    let e = db
        .execute_many(
            "INSERT INTO _parity (id, name) VALUES ($1, $2)",
            vec![params![3, "c"], params![1, "dup"]],
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, DbErrorKind::UniqueViolation);
    assert_eq!(count(&db, "_parity").await, 2);
}

async fn rows_decode_into_structs(db: Db) {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Person {
        id: i64,
        name: String,
    }
    parity_table(&db).await;
    db.execute(
        "INSERT INTO _parity (id, name) VALUES (1, 'Ana')",
        params![],
    )
    .await
    .unwrap();
    let people: Vec<Person> = db
        .query("SELECT id, name FROM _parity", params![])
        .await
        .unwrap();
    assert_eq!(
        people,
        vec![Person {
            id: 1,
            name: "Ana".into()
        }]
    );
    let e = db
        .query::<Person>("SELECT id FROM _parity", params![])
        .await
        .unwrap_err();
    assert!(
        e.message.contains("name") && e.message.contains("[id]"),
        "{e}"
    );
    let e = db
        .query::<Value>("SELECT id, id FROM _parity", params![])
        .await
        .unwrap_err();
    assert!(e.message.contains("two columns named id"), "{e}");

    // query_one reads its row straight into T: the same shapes and errors.
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Wrapped(Person);
    let one: Option<Person> = db
        .query_one("SELECT name, id FROM _parity WHERE id = $1", params![1])
        .await
        .unwrap();
    assert_eq!(one.as_ref().map(|p| p.name.as_str()), Some("Ana"));
    let wrapped: Option<Wrapped> = db
        .query_one("SELECT id, name FROM _parity", params![])
        .await
        .unwrap();
    assert_eq!(wrapped.map(|w| w.0.id), Some(1));
    let none: Option<Person> = db
        .query_one("SELECT id, name FROM _parity WHERE id = $1", params![2])
        .await
        .unwrap();
    assert_eq!(none, None);
    let e = db
        .query_one::<Person>("SELECT name AS label, id FROM _parity", params![])
        .await
        .unwrap_err();
    assert!(
        e.message.contains("missing field `name`") && e.message.contains("[label, id]"),
        "{e}"
    );
    let e = db
        .query_one::<Person>("SELECT id, name, name FROM _parity", params![])
        .await
        .unwrap_err();
    assert!(e.message.contains("two columns named name"), "{e}");
}
