//! Durable one-shots: replaced by key, cancelled, retried until delivered,
//! and fired by the next process when the one that stored them stopped.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;

use crate::support::{Recorder, T0, as_plugin, manual, postgres, scheduler, sqlite_file};

fn at(ms: i64) -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms as u64)
}

#[tokio::test]
async fn a_one_shot_is_delivered_once_due_replaced_by_key_and_cancelled() {
    let clock = manual(T0);
    let s = scheduler("memory", clock.clone()).await;
    let rec = Arc::new(Recorder::default());
    s.on_due(&rec, Recorder::deliver).expect("handler");
    as_plugin("billing.Invoices", async {
        s.schedule_at(at(T0 + 5_000), "invoice.due", json!({"id": 1}), "invoice-7")
            .await?;
        s.schedule_at(at(T0 + 6_000), "invoice.due", json!({"id": 2}), "invoice-7")
            .await?;
        s.schedule_at(at(T0 + 1_000), "invoice.due", json!({"id": 3}), "gone")
            .await
    })
    .await
    .expect("scheduled");
    assert!(s.cancel("gone").await.expect("cancel"));
    assert!(!s.cancel("gone").await.expect("cancel"));
    let listed = s.jobs().await.expect("jobs");
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].kind, listed[0].schedule.as_str()),
        ("one_shot", "invoice.due")
    );
    clock.set(T0 + 5_500);
    s.tick().await;
    assert!(rec.due.lock().is_empty(), "the replacement is due later");
    clock.set(T0 + 6_000);
    s.tick().await;
    s.tick().await;
    let due = rec.due.lock().clone();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].payload, json!({"id": 2}));
    assert_eq!(due[0].emitter, "billing.Invoices");
    assert!(
        s.jobs().await.expect("jobs").is_empty(),
        "deleted once delivered"
    );
}

#[tokio::test]
async fn a_failed_delivery_stays_stored_and_is_retried() {
    let clock = manual(T0);
    let s = scheduler("memory", clock.clone()).await;
    let rec = Arc::new(Recorder::default());
    *rec.fail_due.lock() = 1;
    s.on_due(&rec, Recorder::deliver).expect("handler");
    s.schedule_at(at(T0), "invoice.due", json!({}), "k")
        .await
        .expect("scheduled");
    s.tick().await;
    assert!(rec.due.lock().is_empty());
    let listed = s.jobs().await.expect("jobs");
    let last = listed[0].last.clone().expect("the failure is shown");
    assert_eq!(last.detail.as_deref(), Some("the bus is unavailable"));
    clock.advance(1_000);
    s.tick().await;
    assert!(
        rec.due.lock().is_empty(),
        "waits its backoff (2 s after one failure)"
    );
    clock.advance(1_500);
    s.tick().await;
    assert_eq!(rec.due.lock().len(), 1);
    assert_eq!(rec.due.lock()[0].attempts, 2);
}

#[tokio::test]
async fn bad_one_shots_are_refused_naming_the_key() {
    let s = scheduler("memory", manual(T0)).await;
    let e = s
        .schedule_at(at(T0), "_reply.x", json!({}), "k")
        .await
        .expect_err("bus-owned name");
    assert!(e.to_string().contains("`k`"), "{e}");
    let e = s
        .schedule_at(at(T0), "x", json!({}), "")
        .await
        .expect_err("empty key");
    assert!(e.to_string().contains("1 to 200"), "{e}");
}

async fn survives_a_restart(url: &str) {
    let clock = manual(T0);
    {
        let s = scheduler(url, clock.clone()).await;
        s.schedule_at(at(T0 + 5_000), "invoice.due", json!({"id": 7}), "invoice-7")
            .await
            .expect("scheduled");
        // The process stops before it is due.
    }
    clock.set(T0 + 5_000);
    let s = scheduler(url, clock.clone()).await;
    let rec = Arc::new(Recorder::default());
    s.on_due(&rec, Recorder::deliver).expect("handler");
    s.tick().await;
    let due = rec.due.lock().clone();
    assert_eq!(due.len(), 1, "the next process fires it");
    assert_eq!(
        (due[0].event.as_str(), &due[0].payload),
        ("invoice.due", &json!({"id": 7}))
    );
    s.tick().await;
    assert_eq!(rec.due.lock().len(), 1, "and only once");
}

#[tokio::test]
async fn a_one_shot_survives_a_restart_on_sqlite() {
    survives_a_restart(&sqlite_file()).await;
}

#[tokio::test]
async fn a_one_shot_survives_a_restart_on_postgres() {
    if let Some(url) = postgres().await {
        survives_a_restart(&url).await;
    }
}
