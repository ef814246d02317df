//! Transactions that run side by side on PostgreSQL (SERIALIZABLE, re-run on
//! a conflict) and one at a time on SQLite: read-modify-write stays safe
//! across replicas on both, a re-run leaves one outbox event, and a closure
//! that keeps conflicting ends with a clear error after a bounded number of runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use futures::FutureExt as _;
use microcore_db::{Db, DbError, DbErrorKind, params};
use microcore_kernel::EventName;
use serde_json::Value;

use crate::support;

/// Raises a serialization failure the way PostgreSQL does (SQLSTATE 40001).
const CONFLICT: &str =
    "DO $$ BEGIN RAISE EXCEPTION 'synthetic conflict' USING ERRCODE = '40001'; END $$";

/// A closure's runs, across retries.
#[derive(Clone, Default)]
struct Runs(Arc<AtomicU32>);

impl Runs {
    fn next(&self) -> u32 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
    fn get(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Runs `case` on a fresh PostgreSQL schema (two handles on it: two
/// replicas), dropping the schema even if the case panics.
async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(Db, Db) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(pg) = support::postgres().await else {
        return;
    };
    let replica = Db::connect(&pg.url()).await.expect("a second pool");
    let outcome = std::panic::AssertUnwindSafe(case(pg.db.clone(), replica.clone()))
        .catch_unwind()
        .await;
    replica.close().await;
    pg.drop().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

const ACCOUNTS: i64 = 8;
const TASKS: u64 = 16;
const TRANSFERS: usize = 5;
const OPENING: i64 = 100;

/// A small deterministic generator: each task draws its own pairs.
fn draw(state: &mut u64, below: i64) -> i64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    i64::try_from((*state >> 33) % u64::try_from(below).unwrap()).unwrap()
}

/// Many tasks on two replicas move money between random accounts by reading
/// both balances and writing the new ones back (no `FOR UPDATE`, no
/// `balance = balance - x`): a lost update would change the total, a stale
/// read could overdraw. Returns (committed transfers, closure runs).
async fn transfers(a: Db, b: Db) -> (usize, usize) {
    a.execute(
        "CREATE TABLE accounts (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL)",
        params![],
    )
    .await
    .unwrap();
    for id in 0..ACCOUNTS {
        a.execute(
            "INSERT INTO accounts (id, balance) VALUES ($1, $2)",
            params![id, OPENING],
        )
        .await
        .unwrap();
    }
    let runs = Arc::new(AtomicUsize::new(0));
    let committed = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let db = if task % 2 == 0 { a.clone() } else { b.clone() };
        let (runs, committed) = (runs.clone(), committed.clone());
        tasks.push(tokio::spawn(async move {
            let mut seed = task + 1;
            for _ in 0..TRANSFERS {
                let from = draw(&mut seed, ACCOUNTS);
                let to = (from + 1 + draw(&mut seed, ACCOUNTS - 1)) % ACCOUNTS;
                let amount = 1 + draw(&mut seed, 60);
                let runs = runs.clone();
                let moved = db
                    .transaction(|tx| {
                        runs.fetch_add(1, Ordering::SeqCst);
                        async move {
                            let balance = |id: i64| {
                                let tx = &tx;
                                async move {
                                    let row: Value = tx
                                        .query_one(
                                            "SELECT balance FROM accounts WHERE id = $1",
                                            params![id],
                                        )
                                        .await?
                                        .expect("the account exists");
                                    Ok::<_, DbError>(row["balance"].as_i64().unwrap())
                                }
                            };
                            let have = balance(from).await?;
                            if have < amount {
                                return Ok(false);
                            }
                            let theirs = balance(to).await?;
                            tokio::time::sleep(Duration::from_millis(1)).await;
                            for (id, value) in [(from, have - amount), (to, theirs + amount)] {
                                tx.execute(
                                    "UPDATE accounts SET balance = $1 WHERE id = $2",
                                    params![value, id],
                                )
                                .await?;
                            }
                            Ok(true)
                        }
                    })
                    .await;
                match moved {
                    Ok(true) => {
                        committed.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(false) => {}
                    // every run conflicted: nothing written, which is allowed
                    Err(e) if e.kind == DbErrorKind::Conflict => {}
                    Err(e) => panic!("a transfer failed: {e}"),
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let rows: Vec<Value> = a
        .query("SELECT id, balance FROM accounts ORDER BY id", params![])
        .await
        .unwrap();
    let balances: Vec<i64> = rows
        .iter()
        .map(|r| r["balance"].as_i64().unwrap())
        .collect();
    assert_eq!(
        balances.iter().sum::<i64>(),
        ACCOUNTS * OPENING,
        "no update lost: {balances:?}"
    );
    assert!(
        balances.iter().all(|b| *b >= 0),
        "none overdrawn: {balances:?}"
    );
    (
        committed.load(Ordering::SeqCst),
        runs.load(Ordering::SeqCst),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_transfers_from_two_replicas_lose_nothing_and_are_retried() {
    on_postgres(|a, b| async move {
        let (committed, runs) = transfers(a, b).await;
        eprintln!("postgres transfers: {committed} committed in {runs} runs");
        assert!(committed > 0, "some transfers committed");
        assert!(
            runs > committed,
            "conflicting transfers ran again ({runs} runs, {committed} committed)"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_transfers_from_two_replicas_lose_nothing() {
    let path = std::env::temp_dir().join(format!("mc-transfers-{}.db", uuid::Uuid::new_v4()));
    let url = format!("sqlite:{}", path.display());
    let (a, b) = (
        Db::connect(&url).await.unwrap(),
        Db::connect(&url).await.unwrap(),
    );
    let (committed, runs) = transfers(a.clone(), b.clone()).await;
    assert!(committed > 0);
    assert_eq!(
        runs,
        usize::try_from(TASKS).unwrap() * TRANSFERS,
        "SQLite transactions take the write lock up front and run once"
    );
    a.close().await;
    b.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[derive(serde::Serialize)]
struct Moved {
    run: u32,
}

impl EventName for Moved {
    const NAME: &'static str = "t.moved";
}

/// The first run stores its event, then conflicts: it is rolled back with
/// the run, and only the committed run's event is there to be delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stored_by_a_rerun_closure_is_delivered_once() {
    on_postgres(|db, _| async move {
        db.migrate().await.unwrap();
        let runs = Runs::default();
        let id = db
            .transaction(|tx| {
                let run = runs.next();
                async move {
                    let id = tx.publish(Moved { run }).await?;
                    if run == 1 {
                        tx.execute(CONFLICT, params![]).await?;
                    }
                    Ok(id)
                }
            })
            .await
            .unwrap();
        assert_eq!(runs.get(), 2, "the conflict ran the closure again");
        let outbox = db.outbox();
        assert_eq!(outbox.pending().await.unwrap(), 1);
        let claimed = outbox.claim(10, Duration::from_secs(60)).await.unwrap();
        assert_eq!(claimed.len(), 1, "one event, not one per run");
        assert_eq!(claimed[0].id, id);
        assert_eq!(claimed[0].payload, serde_json::json!({"run": 2}));
    })
    .await;
}

/// Every run conflicts: the caller gets kind `Conflict` after exactly
/// `DB_TX_MAX_ATTEMPTS` (default 10) runs, with a message naming the
/// conflict, the runs and the fix, and nothing was written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closure_that_always_conflicts_gives_up_after_the_bounded_attempts() {
    on_postgres(|db, _| async move {
        db.execute("CREATE TABLE marks (n BIGINT NOT NULL)", params![])
            .await
            .unwrap();
        let runs = Runs::default();
        let e = db
            .transaction(|tx| {
                let run = runs.next();
                async move {
                    tx.execute("INSERT INTO marks (n) VALUES ($1)", params![run])
                        .await?;
                    tx.execute(CONFLICT, params![]).await?;
                    Ok(())
                }
            })
            .await
            .unwrap_err();
        assert_eq!(runs.get(), 10);
        assert_eq!(e.kind, DbErrorKind::Conflict, "{e}");
        for part in [
            "rolled back 10 times",
            "synthetic conflict",
            "40001",
            "DB_TX_MAX_ATTEMPTS",
            "short",
        ] {
            assert!(e.message.contains(part), "{part}: {e}");
        }
        let marks: Vec<Value> = db.query("SELECT n FROM marks", params![]).await.unwrap();
        assert!(marks.is_empty(), "no run wrote anything: {marks:?}");
    })
    .await;
}

/// A plugin's own error type, converted with `?`.
#[derive(Debug)]
enum Refusal {
    Db(DbError),
}

impl From<DbError> for Refusal {
    fn from(e: DbError) -> Self {
        Self::Db(e)
    }
}

/// The retry reads the conflict from the transaction, not from what the
/// closure returned: a closure that turned it into its own type is re-run,
/// and one that swallowed it does not commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_hidden_by_the_closure_is_retried_all_the_same() {
    on_postgres(|db, _| async move {
        db.execute("CREATE TABLE marks (n BIGINT NOT NULL)", params![])
            .await
            .unwrap();
        let runs = Runs::default();
        let converted = db
            .try_transaction(|tx| {
                let run = runs.next();
                async move {
                    if run < 3 {
                        tx.execute(CONFLICT, params![]).await?;
                    }
                    tx.execute("INSERT INTO marks (n) VALUES ($1)", params![run])
                        .await?;
                    Ok::<_, Refusal>(run)
                }
            })
            .await
            .unwrap();
        assert_eq!((converted, runs.get()), (3, 3));
        let Err(Refusal::Db(e)) = db
            .try_transaction(|tx| async move {
                tx.execute(CONFLICT, params![]).await?;
                Ok::<_, Refusal>(())
            })
            .await
        else {
            panic!("every run conflicted")
        };
        assert_eq!(
            e.kind,
            DbErrorKind::Conflict,
            "the caller's type carries it: {e}"
        );

        let runs = Runs::default();
        let swallowed = db
            .transaction(|tx| {
                let run = runs.next();
                async move {
                    tx.execute("INSERT INTO marks (n) VALUES ($1)", params![100 + run])
                        .await?;
                    let e = tx.execute(CONFLICT, params![]).await.unwrap_err();
                    assert_eq!(e.kind, DbErrorKind::Conflict);
                    let after = tx.execute("SELECT 1", params![]).await.unwrap_err();
                    assert_eq!(after.kind, DbErrorKind::Conflict, "the run is doomed");
                    Ok(())
                }
            })
            .await;
        assert_eq!(swallowed.unwrap_err().kind, DbErrorKind::Conflict);
        assert_eq!(runs.get(), 10);
        let marks: Vec<Value> = db
            .query("SELECT n FROM marks ORDER BY n", params![])
            .await
            .unwrap();
        assert_eq!(marks, vec![serde_json::json!({"n": 3})]);
    })
    .await;
}

/// A nested transaction's conflict is not retried on its own: the whole
/// transaction runs again, outer work included, and commits once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_in_a_savepoint_reruns_the_whole_transaction() {
    on_postgres(|db, _| async move {
        db.execute("CREATE TABLE marks (n BIGINT NOT NULL)", params![])
            .await
            .unwrap();
        let (outer, inner) = (Runs::default(), Runs::default());
        db.transaction(|tx| {
            let (run, inner) = (outer.next(), inner.clone());
            async move {
                tx.execute("INSERT INTO marks (n) VALUES ($1)", params![run])
                    .await?;
                let nested = tx
                    .transaction(|sp| {
                        let inner_run = inner.next();
                        async move {
                            if inner_run == 1 {
                                sp.execute(CONFLICT, params![]).await?;
                            }
                            sp.execute("INSERT INTO marks (n) VALUES (10)", params![])
                                .await
                        }
                    })
                    .await;
                // the outer closure even ignores the savepoint's failure
                drop(nested);
                Ok(())
            }
        })
        .await
        .unwrap();
        assert_eq!((outer.get(), inner.get()), (2, 2));
        let marks: Vec<Value> = db
            .query("SELECT n FROM marks ORDER BY n", params![])
            .await
            .unwrap();
        assert_eq!(
            marks,
            vec![serde_json::json!({"n": 2}), serde_json::json!({"n": 10})]
        );
    })
    .await;
}

/// Two transactions on different rows are open at the same time: the first
/// holds its transaction open until the second has committed, which the
/// fleet-wide lock of earlier versions made impossible (it waited 5 s and
/// reported no overlap).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_transactions_on_different_rows_overlap() {
    on_postgres(|a, b| async move {
        a.execute(
            "CREATE TABLE cells (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)",
            params![],
        )
        .await
        .unwrap();
        a.execute("INSERT INTO cells (id, n) VALUES (1, 0), (2, 0)", params![])
            .await
            .unwrap();
        let entered = Arc::new(tokio::sync::Notify::new());
        let (done, seen) = tokio::sync::watch::channel(false);
        let holder = {
            let entered = entered.clone();
            tokio::spawn(async move {
                a.transaction(|tx| {
                    let (entered, mut seen) = (entered.clone(), seen.clone());
                    async move {
                        tx.execute("UPDATE cells SET n = n + 1 WHERE id = 1", params![])
                            .await?;
                        entered.notify_one();
                        let overlapped =
                            tokio::time::timeout(Duration::from_secs(5), seen.wait_for(|d| *d))
                                .await
                                .is_ok();
                        Ok(overlapped)
                    }
                })
                .await
            })
        };
        entered.notified().await;
        b.transaction(|tx| async move {
            tx.execute("UPDATE cells SET n = n + 1 WHERE id = 2", params![])
                .await
        })
        .await
        .unwrap();
        let _ = done.send(true);
        assert!(
            holder.await.unwrap().unwrap(),
            "the second transaction committed while the first was open"
        );
        let rows: Vec<Value> = b
            .query("SELECT n FROM cells ORDER BY id", params![])
            .await
            .unwrap();
        assert_eq!(
            rows,
            vec![serde_json::json!({"n": 1}), serde_json::json!({"n": 1})]
        );
    })
    .await;
}
