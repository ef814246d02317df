//! Databases for the tests: a fresh in-memory SQLite, or a private schema in
//! the local PostgreSQL (database `test`), dropped afterwards.
#![allow(dead_code, unreachable_pub)]

use microcore_db::{Db, params};

/// The PostgreSQL server the tests use; override with `TEST_DATABASE_URL`.
pub fn pg_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

pub async fn sqlite() -> Db {
    Db::sqlite_memory().await.expect("in-memory SQLite")
}

/// A PostgreSQL database confined to a fresh schema.
pub struct PgSchema {
    pub db: Db,
    admin: Db,
    schema: String,
}

impl PgSchema {
    /// A URL for another pool on the same schema (a second "replica").
    pub fn url(&self) -> String {
        format!("{}?options[search_path]={}", pg_url(), self.schema)
    }

    /// Drops the schema and everything in it.
    pub async fn drop(self) {
        self.db.close().await;
        let drop = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        let _ = self
            .admin
            .execute(microcore_db::Sql::trusted(drop), params![])
            .await;
        self.admin.close().await;
    }
}

/// A fresh schema on the local PostgreSQL, or `None` (with the reason printed)
/// when the server is absent. Under `CI=true` an absent server fails the test.
pub async fn postgres() -> Option<PgSchema> {
    let admin = match Db::connect(&pg_url()).await {
        Ok(db) => db,
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("PostgreSQL is required under CI=true: {e}");
            }
            eprintln!("skipping the PostgreSQL run: {e}");
            return None;
        }
    };
    let schema = format!("mc_test_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute(
            microcore_db::Sql::trusted(format!("CREATE SCHEMA {schema}")),
            params![],
        )
        .await
        .expect("create test schema");
    let url = format!("{}?options[search_path]={schema}", pg_url());
    let db = Db::connect(&url).await.expect("connect to the test schema");
    Some(PgSchema { db, admin, schema })
}

/// Defines `mod sqlite` and `mod postgres` with one `#[tokio::test]` per
/// listed `async fn(Db)`, so every case runs against both engines.
#[macro_export]
macro_rules! contract {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::support::sqlite().await).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    use ::futures::FutureExt as _;
                    let Some(pg) = $crate::support::postgres().await else { return };
                    let outcome = ::std::panic::AssertUnwindSafe(super::$case(pg.db.clone()))
                        .catch_unwind()
                        .await;
                    pg.drop().await;
                    if let Err(panic) = outcome {
                        ::std::panic::resume_unwind(panic);
                    }
                }
            )+
        }
    };
}
