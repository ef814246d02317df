//! Overlap, misfires, isolation and context, on a clock the test moves.

use std::sync::Arc;
use std::time::Duration;

use microcore_scheduler::{JobOptions, Scheduler};

use crate::support::{Recorder, T0, as_plugin, manual, scheduler, settle, sqlite_file};

const TEN: Duration = Duration::from_secs(10);

async fn tick_at(scheduler: &Scheduler, clock: &microcore_scheduler::ManualClock, at: i64) {
    clock.set(at);
    scheduler.tick().await;
    settle(scheduler).await;
}

async fn status_of(scheduler: &Scheduler, key: &str) -> (String, Option<String>) {
    let jobs = scheduler.jobs().await.expect("jobs");
    let job = jobs
        .iter()
        .find(|j| j.key == key)
        .expect("the job is listed");
    let last = job.last.clone().expect("an outcome");
    (last.status, last.detail)
}

#[tokio::test]
async fn a_job_runs_once_per_fire_in_its_plugins_context() {
    let clock = manual(T0);
    let s = scheduler("memory", clock.clone()).await;
    let rec = Arc::new(Recorder::default());
    as_plugin("reports.Daily", async {
        s.every("tick", TEN, &rec, Recorder::record)
    })
    .await
    .expect("registered");
    s.tick().await; // learns the next fire: T0 + 10 s
    tick_at(&s, &clock, T0 + 9_999).await;
    assert!(rec.runs().is_empty(), "nothing before the first fire");
    tick_at(&s, &clock, T0 + 10_000).await;
    tick_at(&s, &clock, T0 + 10_400).await; // a second tick within the same period
    tick_at(&s, &clock, T0 + 20_100).await;
    let runs = rec.runs();
    assert_eq!(
        runs.iter().map(|r| r.at_ms - T0).collect::<Vec<_>>(),
        [10_000, 20_000]
    );
    assert!(
        runs.iter().all(|r| r.identity == "reports.Daily.record"),
        "{runs:?}"
    );
    let jobs = s.jobs().await.expect("jobs");
    assert_eq!(jobs[0].kind, "every");
    assert_eq!(jobs[0].schedule, "every 10s");
    assert_eq!(jobs[0].runner, "reports.Daily.record");
    assert_eq!(
        jobs[0].next_fire.as_deref(),
        Some("2025-06-15T15:07:10.000Z")
    );
    assert_eq!(status_of(&s, "tick").await.0, "ok");
}

#[tokio::test]
async fn a_fire_during_a_run_is_skipped_and_recorded_unless_overlap_is_allowed() {
    for allow in [false, true] {
        let clock = manual(T0);
        let s = scheduler("memory", clock.clone()).await;
        let rec = Arc::new(Recorder::default());
        let options = if allow {
            JobOptions::default().allow_overlap()
        } else {
            JobOptions::default()
        };
        s.every_with("slow", TEN, &rec, Recorder::blocking, options)
            .expect("registered");
        s.tick().await;
        let hold = rec.gate.write().await;
        clock.set(T0 + 10_000);
        s.tick().await;
        clock.set(T0 + 20_000);
        s.tick().await;
        if allow {
            assert_eq!(s.running(), 2, "both fires run side by side");
        } else {
            assert_eq!(s.running(), 1, "the second fire is skipped");
            let (status, why) = status_of(&s, "slow").await;
            assert_eq!(status, "skipped");
            assert!(
                why.unwrap_or_default()
                    .contains("previous run is still going")
            );
        }
        drop(hold);
        settle(&s).await;
        assert_eq!(rec.runs().len(), if allow { 2 } else { 1 });
        // The next fire after the run ended goes ahead.
        tick_at(&s, &clock, T0 + 30_000).await;
        assert_eq!(rec.runs().len(), if allow { 3 } else { 2 });
        assert_eq!(status_of(&s, "slow").await.0, "ok");
    }
}

#[tokio::test]
async fn missed_fires_run_once_or_are_skipped_by_policy() {
    // Ten fires missed; the latest 7 s late (grace 5 s).
    let late = T0 + 100_000 + 7_000;
    let clock = manual(T0);
    let s = scheduler("memory", clock.clone()).await;
    let rec = Arc::new(Recorder::default());
    s.every("once", TEN, &rec, Recorder::record)
        .expect("registered");
    s.every_with(
        "skip",
        TEN,
        &rec,
        Recorder::record,
        JobOptions::default().skip_misfires(),
    )
    .expect("registered");
    s.tick().await;
    tick_at(&s, &clock, late).await;
    let runs = rec.runs();
    assert_eq!(
        runs.len(),
        1,
        "run once for all, the other skipped: {runs:?}"
    );
    assert_eq!(
        (runs[0].key.as_str(), runs[0].at_ms, runs[0].missed),
        ("once", T0 + 100_000, 9)
    );
    let (status, why) = status_of(&s, "skip").await;
    assert_eq!(status, "skipped");
    assert!(why.unwrap_or_default().contains("10 fire(s) missed"));
    // Both go on with the next fire.
    tick_at(&s, &clock, T0 + 110_000).await;
    let keys: Vec<String> = rec.runs()[1..].iter().map(|r| r.key.clone()).collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
}

#[tokio::test]
async fn fires_missed_while_the_app_was_down_follow_the_policy_after_a_restart() {
    let url = sqlite_file();
    let clock = manual(T0);
    let rec = Arc::new(Recorder::default());
    {
        let s = scheduler(&url, clock.clone()).await;
        s.every("once", TEN, &rec, Recorder::record)
            .expect("registered");
        s.every_with(
            "skip",
            TEN,
            &rec,
            Recorder::record,
            JobOptions::default().skip_misfires(),
        )
        .expect("registered");
        s.tick().await;
        tick_at(&s, &clock, T0 + 10_000).await;
        assert_eq!(rec.runs().len(), 2);
    }
    // Down for a minute.
    let s = scheduler(&url, clock.clone()).await;
    s.every("once", TEN, &rec, Recorder::record)
        .expect("registered");
    s.every_with(
        "skip",
        TEN,
        &rec,
        Recorder::record,
        JobOptions::default().skip_misfires(),
    )
    .expect("registered");
    tick_at(&s, &clock, T0 + 77_000).await;
    let after: Vec<(String, i64, u32)> = rec.runs()[2..]
        .iter()
        .map(|r| (r.key.clone(), r.at_ms - T0, r.missed))
        .collect();
    assert_eq!(after, [("once".to_owned(), 70_000, 5)]);
    assert_eq!(status_of(&s, "skip").await.0, "skipped");
}

#[tokio::test]
async fn a_failing_or_panicking_job_is_recorded_and_stops_no_other() {
    let clock = manual(T0);
    let s = scheduler("memory", clock.clone()).await;
    let rec = Arc::new(Recorder::default());
    s.every("fails", TEN, &rec, Recorder::failing)
        .expect("registered");
    s.every("panics", TEN, &rec, Recorder::panicking)
        .expect("registered");
    s.every("works", TEN, &rec, Recorder::record)
        .expect("registered");
    s.tick().await;
    tick_at(&s, &clock, T0 + 10_000).await;
    tick_at(&s, &clock, T0 + 20_000).await;
    assert_eq!(rec.runs().len(), 2, "the healthy job ran at every fire");
    let (status, why) = status_of(&s, "fails").await;
    assert_eq!(
        (status.as_str(), why.as_deref()),
        ("failed", Some("the report server said no"))
    );
    let (status, why) = status_of(&s, "panics").await;
    assert_eq!(status, "failed");
    assert!(
        why.unwrap_or_default()
            .contains("panicked: a bug in the job")
    );
    assert_eq!(status_of(&s, "works").await.0, "ok");
}

#[tokio::test]
async fn a_cron_job_fires_at_its_wall_time() {
    // 2025-03-31 06:59:30 UTC = 08:59:30 in Madrid (CEST).
    let start = 1_743_404_370_000;
    let clock = manual(start);
    let s = scheduler("memory", clock.clone()).await;
    let rec = Arc::new(Recorder::default());
    s.cron(
        "report",
        "0 9 * * 1-5",
        "Europe/Madrid",
        &rec,
        Recorder::record,
    )
    .expect("registered");
    s.tick().await;
    tick_at(&s, &clock, start + 29_000).await;
    assert!(rec.runs().is_empty());
    tick_at(&s, &clock, start + 30_000).await;
    assert_eq!(rec.runs().len(), 1);
    assert_eq!(rec.runs()[0].at_ms, start + 30_000);
    let jobs = s.jobs().await.expect("jobs");
    assert_eq!(jobs[0].schedule, "0 9 * * 1-5 Europe/Madrid");
    assert_eq!(
        jobs[0].next_fire.as_deref(),
        Some("2025-04-01T07:00:00.000Z")
    );
}

#[tokio::test]
async fn bad_registrations_are_errors_naming_the_job() {
    let s = scheduler("memory", manual(T0)).await;
    let rec = Arc::new(Recorder::default());
    let e = s
        .cron("report", "every day", "UTC", &rec, Recorder::record)
        .expect_err("bad cron");
    assert!(e.to_string().contains("`report`"), "{e}");
    let e = s
        .every("a key", TEN, &rec, Recorder::record)
        .expect_err("bad key");
    assert!(e.to_string().contains("without whitespace"), "{e}");
    s.every("taken", TEN, &rec, Recorder::record)
        .expect("registered");
    let e = s
        .every("taken", TEN, &rec, Recorder::failing)
        .expect_err("taken");
    assert!(
        e.to_string().contains("Recorder") || e.to_string().contains("record"),
        "{e}"
    );
    assert!(s.remove("taken"));
    assert!(!s.remove("taken"));
}
