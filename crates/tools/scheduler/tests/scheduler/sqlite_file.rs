//! The SQLite store in the app's own file: opened by many pools at once (as
//! tools set up together), and taking over the file of its own that an
//! earlier version kept beside the app's.

use std::time::Duration;

use microcore_kernel::{Env, Probe};
use microcore_scheduler::Scheduler;
use serde_json::json;
use sqlx::Connection as _;

use crate::support::{T0, manual, scheduler, sqlite_file};

/// Every pool that opens one fresh file at the same moment (tools set up
/// together) switches it to WAL on its first connection, a write that needs
/// the file to itself; one that finds another connection mid-switch
/// (holding the write lock, as `holder` does here for a moment) is refused
/// at once, outside SQLite's busy handler. None may fail its setup.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_stores_opening_one_fresh_file_at_once_all_set_up() {
    for round in 1..=3 {
        let url = sqlite_file();
        let mut holder = sqlx::SqliteConnection::connect(&format!("{url}?mode=rwc"))
            .await
            .expect("a connection to the fresh file");
        sqlx::raw_sql("BEGIN IMMEDIATE")
            .execute(&mut holder)
            .await
            .expect("the write lock");
        let switched = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            sqlx::raw_sql("COMMIT")
                .execute(&mut holder)
                .await
                .expect("commit");
        };
        let setups = (0..8).map(|_| {
            let env = Env::from_pairs([("SCHEDULER_DATABASE_URL", url.as_str())]);
            async move { Scheduler::from_env(&env, Probe::detached("scheduler"), manual(T0)).await }
        });
        let (stores, ()) = tokio::join!(futures::future::join_all(setups), switched);
        for (i, store) in stores.into_iter().enumerate() {
            let s = store.unwrap_or_else(|e| panic!("round {round}, store {i}: {e}"));
            assert!(keys(&s).await.is_empty(), "round {round}, store {i}");
        }
    }
}

/// The keys of every job and one-shot `s` has.
async fn keys(s: &Scheduler) -> Vec<String> {
    let jobs = s.jobs().await.expect("jobs");
    jobs.into_iter().map(|j| j.key).collect()
}

#[tokio::test]
async fn the_former_file_beside_the_apps_is_moved_in_once_and_kept_renamed() {
    let app = sqlite_file();
    let former = format!("{app}.scheduler");
    let at = std::time::UNIX_EPOCH + Duration::from_millis(T0 as u64 + 5_000);
    {
        let old = scheduler(&former, manual(T0)).await;
        old.schedule_at(at, "invoice.due", json!({"id": 7}), "invoice-7")
            .await
            .expect("scheduled in the former file");
    }
    let s = scheduler(&app, manual(T0)).await;
    assert_eq!(
        keys(&s).await,
        ["invoice-7"],
        "the pending one-shot moved in"
    );
    let path = |url: &str| url.strip_prefix("sqlite:").unwrap().to_owned();
    assert!(!std::path::Path::new(&path(&former)).exists());
    assert!(std::path::Path::new(&format!("{}.adopted", path(&former))).exists());

    assert!(s.cancel("invoice-7").await.expect("cancel"));
    let again = scheduler(&app, manual(T0)).await;
    assert!(
        keys(&again).await.is_empty(),
        "the old file is not read twice"
    );
}
