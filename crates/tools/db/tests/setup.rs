//! The db tool as the kernel drives it: settings, auto-migration, report,
//! health reporting through the probe, and waiting for another connection's
//! lock.

#[path = "db/support/mod.rs"]
mod support;

use std::time::Duration;

use microcore_db::{Db, DbErrorKind, Migration, params};
use microcore_kernel::{Env, Probe, Registry, Tool, ToolSetup, ToolStatus};
use serde_json::Value;

#[microcore_db::linkme::distributed_slice(microcore_db::MIGRATIONS)]
#[linkme(crate = microcore_db::linkme)]
static NOTES: Migration = Migration {
    domain: "notes",
    file: "001_notes.sql",
    sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE);",
};

fn setup(env: Env) -> (ToolSetup, Registry) {
    let registry = Registry::new();
    registry.set_tool("db", ToolStatus::Ok, None);
    let setup = ToolSetup {
        env,
        probe: Probe::new("db", registry.clone()),
        registry: registry.clone(),
    };
    (setup, registry)
}

/// A SQLite file in the temp dir, removed (with its WAL files) on drop.
struct TempDb(std::path::PathBuf);

impl TempDb {
    fn new() -> Self {
        Self(std::env::temp_dir().join(format!("microcore-db-{}.db", uuid::Uuid::new_v4())))
    }
    fn url(&self) -> String {
        format!("sqlite:{}", self.0.display())
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

async fn has_notes(db: &Db) -> bool {
    db.describe_schema()
        .await
        .unwrap()
        .tables
        .contains_key("notes")
}

#[tokio::test]
async fn a_bad_database_url_names_the_setting_the_value_and_the_accepted_forms() {
    let (s, _) = setup(Env::from_pairs([(
        "DATABASE_URL",
        "mysql://root:hunter2@db/app",
    )]));
    let e = Db::setup(s).await.unwrap_err().0;
    assert!(
        e.contains("DATABASE_URL") && e.contains("mysql://***@db/app"),
        "{e}"
    );
    assert!(e.contains("sqlite:") && e.contains("postgres://"), "{e}");
    assert!(!e.contains("hunter2"), "the password is not echoed: {e}");
    let (s, _) = setup(Env::from_pairs([("DB_AUTO_MIGRATE", "maybe")]));
    let e = Db::setup(s).await.unwrap_err().0;
    assert!(e.contains("DB_AUTO_MIGRATE"), "{e}");
}

#[tokio::test]
async fn setup_applies_registered_migrations_unless_auto_migrate_is_false() {
    let file = TempDb::new();
    let (s, _) = setup(Env::from_pairs([
        ("DATABASE_URL", file.url()),
        ("DB_AUTO_MIGRATE", "false".to_owned()),
    ]));
    let db = Db::setup(s).await.unwrap();
    assert!(
        !has_notes(&db).await,
        "DB_AUTO_MIGRATE=false applies nothing"
    );
    assert!(db.report()[1].contains("skipped"), "{:?}", db.report());
    assert!(
        db.migrate()
            .await
            .unwrap()
            .contains(&"notes/001_notes.sql".to_owned())
    );
    assert!(has_notes(&db).await);
    db.shutdown().await.unwrap();

    let file = TempDb::new();
    let (s, _) = setup(Env::from_pairs([("DATABASE_URL", file.url())]));
    let db = Db::setup(s).await.unwrap();
    assert!(has_notes(&db).await);
    let report = db.report();
    assert!(
        report[0].starts_with("backend: sqlite ") && report[0].contains(".db"),
        "{report:?}"
    );
    assert!(report[1].contains("notes/001_notes.sql"), "{report:?}");
    let mode: Value = db
        .query_one("PRAGMA journal_mode", params![])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mode["journal_mode"], "wal");
    let fk: Value = db
        .query_one("PRAGMA foreign_keys", params![])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fk["foreign_keys"], 1);
    db.shutdown().await.unwrap();
}

#[tokio::test]
async fn setup_for_tests_is_a_private_migrated_database_per_instance() {
    let (s, _) = setup(Env::default());
    let a = Db::setup_for_tests(s).await.unwrap();
    let (s, _) = setup(Env::default());
    let b = Db::setup_for_tests(s).await.unwrap();
    a.execute("INSERT INTO notes (body) VALUES ($1)", params!["only in a"])
        .await
        .unwrap();
    let in_b: Vec<Value> = b.query("SELECT body FROM notes", params![]).await.unwrap();
    assert!(in_b.is_empty());
    assert_eq!(a.report()[0], "backend: sqlite in memory");
}

#[tokio::test]
async fn constraint_errors_keep_the_tool_healthy_and_a_closed_pool_marks_it_dead() {
    let (s, registry) = setup(Env::default());
    let db = Db::setup_for_tests(s).await.unwrap();
    for _ in 0..6 {
        let e = db
            .execute("INSERT INTO notes (body) VALUES (NULL)", params![])
            .await
            .unwrap_err();
        assert_eq!(e.kind, DbErrorKind::NotNullViolation);
    }
    assert_eq!(registry.tool("db").unwrap().status, ToolStatus::Ok);
    db.close().await;
    let e = db
        .query::<Value>("SELECT 1 AS one", params![])
        .await
        .unwrap_err();
    assert_eq!(e.kind, DbErrorKind::Unavailable);
    assert_eq!(registry.tool("db").unwrap().status, ToolStatus::Dead);
}

/// The in-memory database has one connection: a statement that waits for it
/// behind a transaction that awaits it gives up after DB_BUSY_TIMEOUT_MS with
/// an error saying why, and the tool stays healthy (it waited 30 s and then
/// marked the tool dead).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_waiting_behind_a_transaction_on_the_memory_db_fails_fast_and_clearly() {
    let (s, registry) = setup(Env::from_pairs([("DB_BUSY_TIMEOUT_MS", "200")]));
    let db = Db::setup_for_tests(s).await.unwrap();
    let outside = db.clone();
    let e = db
        .transaction(|tx| {
            let outside = outside.clone();
            async move {
                tx.execute("INSERT INTO notes (body) VALUES ('in tx')", params![])
                    .await?;
                let spawned = tokio::spawn(async move {
                    outside
                        .query::<Value>("SELECT body FROM notes", params![])
                        .await
                });
                Ok(spawned.await.expect("the spawned task ran").unwrap_err())
            }
        })
        .await
        .unwrap();
    assert_eq!(e.kind, DbErrorKind::Busy, "{e}");
    assert!(
        e.message
            .contains("in-memory SQLite database has one connection")
            && e.message.contains("spawned"),
        "{e}"
    );
    assert_eq!(registry.tool("db").unwrap().status, ToolStatus::Ok);
    assert_eq!(bodies(&db).await, ["in tx"], "the transaction committed");
}

#[tokio::test]
async fn the_postgres_report_never_shows_the_password() {
    let url = support::pg_url().replacen("postgres@", "postgres:s3cret@", 1);
    let (s, _) = setup(Env::from_pairs([
        ("DATABASE_URL", url),
        ("DB_AUTO_MIGRATE", "false".to_owned()),
    ]));
    let db = match Db::setup(s).await {
        Ok(db) => db,
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("skipping: PostgreSQL unavailable: {e}");
            return;
        }
        Err(e) => panic!("PostgreSQL is required under CI=true: {e}"),
    };
    let report = db.report().join("\n");
    assert!(report.contains("backend: postgres postgres@"), "{report}");
    assert!(!report.contains("s3cret"), "{report}");
    db.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_pools_on_postgres_serialise_their_transactions_too() {
    let Some(pg) = support::postgres().await else {
        return;
    };
    let other = Db::connect(&pg.url()).await.unwrap();
    pg.db
        .execute(
            "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
            params![],
        )
        .await
        .unwrap();
    pg.db
        .execute("INSERT INTO counter VALUES (1, 0)", params![])
        .await
        .unwrap();
    let bump = |db: Db| async move {
        db.transaction(|tx| async move {
            let row: Value = tx
                .query_one("SELECT n FROM counter", params![])
                .await?
                .unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            tx.execute(
                "UPDATE counter SET n = $1",
                params![row["n"].as_i64().unwrap() + 1],
            )
            .await
        })
        .await
    };
    let (a, b) = tokio::join!(bump(pg.db.clone()), bump(other.clone()));
    let row: Option<Value> = pg
        .db
        .query_one("SELECT n FROM counter", params![])
        .await
        .unwrap();
    other.close().await;
    pg.drop().await;
    a.unwrap();
    b.unwrap();
    assert_eq!(row.unwrap()["n"], 2);
}

/// A second, independent connection (as another process would open) that
/// takes SQLite's write lock and writes `held`, uncommitted, until the caller
/// commits or rolls back.
async fn hold_the_write_lock(file: &TempDb) -> sqlx::SqliteConnection {
    use sqlx::Connection as _;
    let mut conn = sqlx::SqliteConnection::connect(&file.url()).await.unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE; INSERT INTO notes (body) VALUES ('held')")
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

async fn bodies(db: &Db) -> Vec<String> {
    let rows: Vec<Value> = db
        .query("SELECT body FROM notes ORDER BY body", params![])
        .await
        .unwrap();
    rows.iter()
        .map(|r| r["body"].as_str().unwrap().to_owned())
        .collect()
}

/// Bounds a call that must give up on its own: failing this is a hang.
async fn gives_up<T>(call: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), call)
        .await
        .expect("a locked database makes the call fail, not hang")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_waits_for_another_connections_lock_and_then_succeeds() {
    let file = TempDb::new();
    let (s, registry) = setup(Env::from_pairs([("DATABASE_URL", file.url())]));
    let db = Db::setup(s).await.unwrap();
    let mut holder = hold_the_write_lock(&file).await;

    let plain = tokio::spawn({
        let db = db.clone();
        async move {
            db.execute(
                "INSERT INTO notes (body) \
                 SELECT 'plain saw held=' || count(*) FROM notes WHERE body = 'held'",
                params![],
            )
            .await
        }
    });
    let in_tx = tokio::spawn({
        let db = db.clone();
        async move {
            db.transaction(|tx| async move {
                tx.execute(
                    "INSERT INTO notes (body) \
                     SELECT 'tx saw held=' || count(*) FROM notes WHERE body = 'held'",
                    params![],
                )
                .await
            })
            .await
        }
    });
    // Neither call can finish while the lock is held; one that has finished
    // gave up instead of waiting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !plain.is_finished() && !in_tx.is_finished(),
        "a write and a transaction wait for the lock instead of failing"
    );
    sqlx::raw_sql("COMMIT").execute(&mut holder).await.unwrap();

    assert_eq!(gives_up(plain).await.unwrap().unwrap(), 1);
    assert_eq!(gives_up(in_tx).await.unwrap().unwrap(), 1);
    assert_eq!(
        bodies(&db).await,
        ["held", "plain saw held=1", "tx saw held=1"],
        "both ran after the other connection committed"
    );
    assert_eq!(registry.tool("db").unwrap().status, ToolStatus::Ok);
    db.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_held_past_the_busy_timeout_fails_as_busy_naming_the_setting() {
    let file = TempDb::new();
    let (s, registry) = setup(Env::from_pairs([
        ("DATABASE_URL", file.url()),
        ("DB_BUSY_TIMEOUT_MS", "200".to_owned()),
    ]));
    let db = Db::setup(s).await.unwrap();
    let mut holder = hold_the_write_lock(&file).await;

    let insert_late = || db.execute("INSERT INTO notes (body) VALUES ('late')", params![]);
    let e = gives_up(insert_late()).await.unwrap_err();
    assert_eq!(e.kind, DbErrorKind::Busy, "{e}");
    assert!(
        e.message.contains("locked") && e.message.contains("raise DB_BUSY_TIMEOUT_MS"),
        "the message says what happened and what to do: {e}"
    );
    let e = gives_up(db.transaction(|tx| async move {
        tx.execute("INSERT INTO notes (body) VALUES ('late')", params![])
            .await
    }))
    .await
    .unwrap_err();
    assert_eq!(
        e.kind,
        DbErrorKind::Busy,
        "BEGIN IMMEDIATE gives up too: {e}"
    );
    assert_eq!(
        registry.tool("db").unwrap().status,
        ToolStatus::Ok,
        "a busy call or two do not kill the tool"
    );

    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();
    insert_late().await.unwrap();
    assert_eq!(
        bodies(&db).await,
        ["late"],
        "the calls that gave up wrote nothing"
    );
    db.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_bad_busy_timeout_names_the_setting() {
    for bad in ["soon", "0", "-5"] {
        let (s, _) = setup(Env::from_pairs([
            ("DATABASE_URL", "sqlite::memory:"),
            ("DB_BUSY_TIMEOUT_MS", bad),
        ]));
        let e = Db::setup(s).await.unwrap_err().0;
        assert!(
            e.contains(&format!("DB_BUSY_TIMEOUT_MS=\"{bad}\"")) && e.contains("milliseconds"),
            "{e}"
        );
    }
}

#[tokio::test]
async fn a_lock_held_past_postgres_lock_timeout_fails_as_busy_too() {
    use sqlx::Connection as _;
    let Some(pg) = support::postgres().await else {
        return;
    };
    pg.db
        .execute(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)",
            params![],
        )
        .await
        .unwrap();
    let impatient = Db::connect(&format!("{}&options[lock_timeout]=200ms", pg.url()))
        .await
        .unwrap();
    let mut holder = sqlx::PgConnection::connect(&pg.url()).await.unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE notes IN EXCLUSIVE MODE")
        .execute(&mut holder)
        .await
        .unwrap();
    let insert = || impatient.execute("INSERT INTO notes VALUES (1, 'late')", params![]);
    let locked = gives_up(insert()).await;
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();
    let released = insert().await;
    holder.close().await.unwrap();
    impatient.close().await;
    pg.drop().await;
    let e = locked.unwrap_err();
    assert_eq!(e.kind, DbErrorKind::Busy, "{e}");
    assert!(e.message.contains("lock_timeout"), "{e}");
    assert_eq!(released.unwrap(), 1);
}

/// Compiles only if the futures plugins await in axum handlers are `Send`.
#[allow(dead_code)]
fn futures_are_send(db: Db) {
    fn send<T: Send>(_: T) {}
    send(db.query::<Value>("SELECT 1", params![]));
    send(db.execute("SELECT 1", params![]));
    send(db.transaction(|tx| async move {
        tx.transaction(|inner| async move { inner.execute("SELECT 1", params![]).await })
            .await
    }));
    send(db.describe_schema());
}

/// `DB_TX_MAX_ATTEMPTS` bounds the runs of a transaction that keeps
/// conflicting on PostgreSQL; conflicts are the load's doing, so even many in
/// a row leave the tool healthy. A bad value is refused, naming the setting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tx_max_attempts_bounds_the_runs_of_a_conflicting_transaction() {
    let (s, _) = setup(Env::from_pairs([("DB_TX_MAX_ATTEMPTS", "0")]));
    let e = Db::setup(s).await.unwrap_err().0;
    assert!(e.contains("DB_TX_MAX_ATTEMPTS=0"), "{e}");
    let Some(pg) = support::postgres().await else {
        return;
    };
    let (s, registry) = setup(Env::from_pairs([
        ("DATABASE_URL", pg.url()),
        ("DB_TX_MAX_ATTEMPTS", "3".to_owned()),
    ]));
    let db = Db::setup(s).await.unwrap();
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    for _ in 0..3 {
        let e = db
            .transaction(|tx| {
                runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async move {
                    tx.execute(
                        "DO $$ BEGIN RAISE EXCEPTION 'always' USING ERRCODE = '40P01'; END $$",
                        params![],
                    )
                    .await
                }
            })
            .await
            .unwrap_err();
        assert_eq!(e.kind, DbErrorKind::Conflict, "{e}");
        assert!(
            e.message.contains("rolled back 3 times")
                && e.message.contains("deadlock_detected")
                && e.message.contains("DB_TX_MAX_ATTEMPTS=3"),
            "{e}"
        );
    }
    assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 9);
    assert_eq!(registry.tool("db").unwrap().status, ToolStatus::Ok);
    db.shutdown().await.unwrap();
    pg.drop().await;
}

/// A connection that creates `file` and holds its write lock (a
/// transaction begun, nothing written) until it commits or is dropped.
async fn lock_the_fresh_file(file: &TempDb) -> sqlx::SqliteConnection {
    use sqlx::Connection as _;
    let url = format!("{}?mode=rwc", file.url());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

/// Tools are set up together (the facade's `toolset!` joins them), so
/// several pools open one fresh file at the same moment, and the first
/// connection of each switches it to WAL: a write that needs the file to
/// itself. One that finds another connection mid-switch (holding the write
/// lock, as `holder` does here for a moment) is refused at once, without
/// SQLite's busy handler; every pool must still open it, not fail its
/// tool's setup with "database is locked".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_pools_opening_one_fresh_file_at_once_all_set_up() {
    for round in 1..=3 {
        let file = TempDb::new();
        let mut holder = lock_the_fresh_file(&file).await;
        let switched = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            sqlx::raw_sql("COMMIT").execute(&mut holder).await.unwrap();
        };
        let setups = (0..8).map(|_| {
            let (s, _) = setup(Env::from_pairs([("DATABASE_URL", file.url())]));
            Db::setup(s)
        });
        let (pools, ()) = tokio::join!(futures::future::join_all(setups), switched);
        for (i, pool) in pools.into_iter().enumerate() {
            let db = pool.unwrap_or_else(|e| panic!("round {round}, pool {i}: {e}"));
            let mode: Option<Value> = db
                .query_one("PRAGMA journal_mode", params![])
                .await
                .unwrap();
            assert_eq!(
                mode.unwrap()["journal_mode"],
                "wal",
                "round {round}, pool {i}"
            );
            assert!(has_notes(&db).await, "round {round}, pool {i}: migrated");
            db.close().await;
        }
    }
}

/// Opening a file another connection keeps locked for longer than
/// `DB_BUSY_TIMEOUT_MS` fails the setup with a message that names the file,
/// the setting and the fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_file_locked_past_the_busy_timeout_fails_naming_the_file_and_the_fix() {
    let file = TempDb::new();
    let _holder = lock_the_fresh_file(&file).await;
    let (s, _) = setup(Env::from_pairs([
        ("DATABASE_URL", file.url()),
        ("DB_BUSY_TIMEOUT_MS", "200".to_owned()),
    ]));
    let e = gives_up(Db::setup(s))
        .await
        .expect_err("the file stays locked");
    let message = e.to_string();
    for part in [
        file.0.display().to_string().as_str(),
        "DB_BUSY_TIMEOUT_MS",
        "locked",
    ] {
        assert!(message.contains(part), "{part:?} in {message}");
    }
}
