//! Two replicas on one PostgreSQL: every fire runs exactly once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use microcore_scheduler::SystemClock;

use crate::support::{Recorder, T0, manual, postgres, scheduler};

fn count_by_fire(recs: &[&Arc<Recorder>]) -> BTreeMap<i64, usize> {
    let mut fires = BTreeMap::new();
    for rec in recs {
        for run in rec.runs() {
            *fires.entry(run.at_ms).or_insert(0) += 1;
        }
    }
    fires
}

/// Both replicas tick together at the same instants, twenty times.
#[tokio::test]
async fn two_replicas_ticking_together_run_each_fire_once() {
    let Some(url) = postgres().await else { return };
    let clock = manual(T0);
    let (a, b) = (
        scheduler(&url, clock.clone()).await,
        scheduler(&url, clock.clone()).await,
    );
    let (ra, rb) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
    a.every("shared", Duration::from_secs(10), &ra, Recorder::record)
        .expect("a");
    b.every("shared", Duration::from_secs(10), &rb, Recorder::record)
        .expect("b");
    futures::join!(a.tick(), b.tick());
    for n in 1..=20 {
        clock.set(T0 + n * 10_000);
        futures::join!(a.tick(), b.tick());
        futures::join!(a.tick(), b.tick());
        // The run's lease ends with it; a fire during it would be skipped.
        crate::support::settle(&a).await;
        crate::support::settle(&b).await;
    }
    let fires = count_by_fire(&[&ra, &rb]);
    assert_eq!(fires.len(), 20, "{fires:?}");
    assert!(
        fires.values().all(|n| *n == 1),
        "a fire ran twice: {fires:?}"
    );
}

/// Real time: a 1-second interval on two started replicas for ~3.5 s.
#[tokio::test]
async fn two_running_replicas_fire_a_one_second_interval_once_per_second() {
    let Some(url) = postgres().await else { return };
    let clock = Arc::new(SystemClock);
    let (a, b) = (
        scheduler(&url, clock.clone()).await,
        scheduler(&url, clock).await,
    );
    let (ra, rb) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
    a.every("each-second", Duration::from_secs(1), &ra, Recorder::record)
        .expect("a");
    b.every("each-second", Duration::from_secs(1), &rb, Recorder::record)
        .expect("b");
    a.start();
    b.start();
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    drop((a, b));
    let fires = count_by_fire(&[&ra, &rb]);
    assert!(fires.len() >= 2, "{fires:?}");
    assert!(
        fires.values().all(|n| *n == 1),
        "a fire ran twice: {fires:?}"
    );
    let times: Vec<i64> = fires.keys().copied().collect();
    assert!(
        times.windows(2).all(|w| w[1] - w[0] == 1_000),
        "a fire was missed: {times:?}"
    );
}
