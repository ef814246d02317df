//! PostgreSQL values the tool reads like SQLite does, and the types it
//! refuses with the promised "cast it to text" error instead of garbage.

use crate::support;

use microcore_db::{Db, Sql, params};
use serde::Deserialize;
use serde_json::{Value, json};

async fn with_postgres(test: impl AsyncFnOnce(Db)) {
    let Some(pg) = support::postgres().await else {
        return;
    };
    test(pg.db.clone()).await;
    pg.drop().await;
}

async fn read(db: &Db, sql: &'static str) -> Result<Value, microcore_db::DbError> {
    db.query_one::<Value>(Sql::from(sql), params![])
        .await
        .map(Option::unwrap_or_default)
}

#[tokio::test]
async fn sum_of_bigint_reads_as_an_integer_like_on_sqlite() {
    with_postgres(async |db| {
        db.execute("CREATE TABLE t (n BIGINT)", params![])
            .await
            .unwrap();
        db.execute("INSERT INTO t VALUES (10), (20)", params![])
            .await
            .unwrap();
        #[derive(Deserialize)]
        struct Total {
            total: i64,
        }
        let total: Total = db
            .query_one("SELECT sum(n) AS total FROM t", params![])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(total.total, 30);
        assert_eq!(
            read(&db, "SELECT 2.50::numeric AS n").await.unwrap(),
            json!({"n": 2.5})
        );
        assert_eq!(
            read(&db, "SELECT -12.00::numeric AS n").await.unwrap(),
            json!({"n": -12})
        );
        assert_eq!(
            read(&db, "SELECT 123456789012345678901234::numeric AS n")
                .await
                .unwrap(),
            json!({"n": 1.2345678901234568e23})
        );
    })
    .await;
}

#[tokio::test]
async fn nan_and_infinity_are_errors_not_zero() {
    with_postgres(async |db| {
        for sql in [
            "SELECT 'NaN'::numeric AS n",
            "SELECT 'Infinity'::numeric AS n",
            "SELECT '-Infinity'::numeric AS n",
        ] {
            let e = read(&db, sql).await.unwrap_err();
            assert!(
                e.message.contains("cannot read column n of type NUMERIC"),
                "{sql}: {e}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn unlisted_types_say_to_cast_to_text_and_text_like_types_read() {
    with_postgres(async |db| {
        for (sql, ty) in [
            ("SELECT ARRAY[1, 2] AS v", "INT4[]"),
            ("SELECT '10.0.0.1'::inet AS v", "INET"),
            ("SELECT 12.5::money AS v", "MONEY"),
            ("SELECT interval '1 day' AS v", "INTERVAL"),
        ] {
            let e = read(&db, sql).await.unwrap_err();
            assert!(
                e.message
                    .contains(&format!("cannot read column v of type {ty}"))
                    && e.message.contains("v::text"),
                "{sql}: {e}"
            );
        }
        assert_eq!(
            read(&db, "SELECT '10.0.0.1'::inet::text AS v")
                .await
                .unwrap(),
            json!({"v": "10.0.0.1/32"})
        );
        db.execute("CREATE TYPE mood AS ENUM ('ok', 'sad')", params![])
            .await
            .unwrap();
        db.execute("CREATE DOMAIN short_text AS varchar(5)", params![])
            .await
            .unwrap();
        assert_eq!(
            read(
                &db,
                "SELECT 'sad'::mood AS m, 'hi'::short_text AS s, 'x'::char(2) AS c"
            )
            .await
            .unwrap(),
            json!({"m": "sad", "s": "hi", "c": "x "})
        );
    })
    .await;
}

/// Text in the documented `YYYY-MM-DD HH:MM:SS` form binds to timestamp
/// columns as UTC, like RFC 3339 does (it failed with a tool error before).
#[tokio::test]
async fn a_plain_utc_timestamp_text_binds_to_timestamp_columns() {
    with_postgres(async |db| {
        db.execute(
            "CREATE TABLE t (tz TIMESTAMPTZ, plain TIMESTAMP)",
            params![],
        )
        .await
        .unwrap();
        db.execute(
            "INSERT INTO t VALUES ($1, $2)",
            params!["2026-01-31 12:00:00", "2026-01-31T12:00:00.5"],
        )
        .await
        .unwrap();
        assert_eq!(
            read(
                &db,
                "SELECT to_char(tz AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS tz, \
                 to_char(plain, 'YYYY-MM-DD HH24:MI:SS.MS') AS plain FROM t"
            )
            .await
            .unwrap(),
            json!({"tz": "2026-01-31 12:00:00", "plain": "2026-01-31 12:00:00.500"})
        );
    })
    .await;
}
