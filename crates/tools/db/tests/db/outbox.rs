//! The transactional outbox on both engines: an event stored in a transaction
//! commits or rolls back with it, is claimed once per lease, and is forgotten
//! once sent.

use std::time::Duration;

use crate::contract;

use microcore_db::{Db, DbErrorKind, params};
use microcore_kernel::{CallContext, EventName, in_context};
use serde_json::json;

contract!(
    a_committed_event_is_claimed_once_with_what_was_stored,
    a_rolled_back_transaction_or_savepoint_stores_nothing,
    a_claimed_event_comes_back_when_its_lease_ends_and_goes_when_sent,
    an_event_put_back_waits_for_its_retry_time,
    a_commit_that_stored_events_wakes_the_relay,
    events_are_claimed_in_the_order_they_were_stored,
    a_table_made_before_the_trace_column_gets_it,
    the_outbox_table_is_made_once_per_handle,
);

#[derive(serde::Serialize)]
struct Signed {
    id: i64,
}

impl EventName for Signed {
    const NAME: &'static str = "t.signed";
}

async fn prepared(db: &Db) {
    db.migrate().await.unwrap();
    db.execute(
        "CREATE TABLE _ob (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        params![],
    )
    .await
    .unwrap();
}

const LEASE: Duration = Duration::from_secs(60);

async fn a_committed_event_is_claimed_once_with_what_was_stored(db: Db) {
    prepared(&db).await;
    let ctx = CallContext::new("users.CreateUser.create", Some("req-7".into()));
    let id = in_context(
        ctx,
        db.transaction(|tx| async move {
            tx.execute("INSERT INTO _ob (id, name) VALUES (1, 'Ana')", params![])
                .await?;
            tx.publish(Signed { id: 1 }).await
        }),
    )
    .await
    .unwrap();
    let outbox = db.outbox();
    assert_eq!(outbox.pending().await.unwrap(), 1);
    let claimed = outbox.claim(10, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let event = &claimed[0];
    assert_eq!(event.id, id, "the id publish returned is the stored id");
    assert_eq!(event.event, "t.signed");
    assert_eq!(event.payload, json!({"id": 1}));
    assert_eq!(event.emitter, "users.CreateUser.create");
    assert_eq!(event.parent_id.as_deref(), Some("req-7"));
    assert_eq!(event.attempts, 1);
    assert!(
        outbox.claim(10, LEASE).await.unwrap().is_empty(),
        "a leased event is not claimed twice"
    );
}

async fn a_rolled_back_transaction_or_savepoint_stores_nothing(db: Db) {
    prepared(&db).await;
    let failed = db
        .transaction(|tx| async move {
            tx.publish(Signed { id: 1 }).await?;
            tx.execute("INSERT INTO _ob (id, name) VALUES (1, NULL)", params![])
                .await?;
            Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(failed.kind, DbErrorKind::NotNullViolation);
    db.transaction(|tx| async move {
        let inner = tx
            .transaction(|sp| async move {
                sp.publish(Signed { id: 2 }).await?;
                sp.execute("INSERT INTO _ob (id, name) VALUES (2, NULL)", params![])
                    .await
            })
            .await;
        assert!(inner.is_err());
        tx.publish(Signed { id: 3 }).await?;
        Ok(())
    })
    .await
    .unwrap();
    let claimed = db.outbox().claim(10, LEASE).await.unwrap();
    let payloads: Vec<_> = claimed.iter().map(|e| e.payload.clone()).collect();
    assert_eq!(
        payloads,
        vec![json!({"id": 3})],
        "only the kept work's event"
    );
}

async fn a_claimed_event_comes_back_when_its_lease_ends_and_goes_when_sent(db: Db) {
    prepared(&db).await;
    let id = db
        .transaction(|tx| async move { tx.publish(Signed { id: 1 }).await })
        .await
        .unwrap();
    let outbox = db.outbox();
    let first = outbox.claim(10, Duration::from_millis(1)).await.unwrap();
    assert_eq!(first.len(), 1);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let again = outbox.claim(10, LEASE).await.unwrap();
    assert_eq!(again.len(), 1, "a relay that died mid-way does not lose it");
    assert_eq!((again[0].id.as_str(), again[0].attempts), (id.as_str(), 2));
    outbox.sent(&id).await.unwrap();
    assert_eq!(outbox.pending().await.unwrap(), 0);
}

async fn an_event_put_back_waits_for_its_retry_time(db: Db) {
    prepared(&db).await;
    let id = db
        .transaction(|tx| async move { tx.publish(Signed { id: 1 }).await })
        .await
        .unwrap();
    let outbox = db.outbox();
    assert_eq!(outbox.claim(10, LEASE).await.unwrap().len(), 1);
    outbox
        .retry_later(&id, Duration::from_secs(60), "bus down")
        .await
        .unwrap();
    assert!(outbox.claim(10, LEASE).await.unwrap().is_empty());
    outbox
        .retry_later(&id, Duration::ZERO, "bus down")
        .await
        .unwrap();
    assert_eq!(outbox.claim(10, LEASE).await.unwrap().len(), 1);
    let error: Option<serde_json::Value> = db
        .query_one("SELECT last_error FROM _outbox WHERE id = $1", params![id])
        .await
        .unwrap();
    assert_eq!(error, Some(json!({"last_error": "bus down"})));
}

async fn a_commit_that_stored_events_wakes_the_relay(db: Db) {
    prepared(&db).await;
    let outbox = db.outbox();
    let waiting = tokio::spawn({
        let outbox = outbox.clone();
        async move { outbox.committed().await }
    });
    db.transaction(|tx| async move {
        tx.execute("INSERT INTO _ob (id, name) VALUES (1, 'Ana')", params![])
            .await
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !waiting.is_finished(),
        "a commit without events wakes nothing"
    );
    db.transaction(|tx| async move { tx.publish(Signed { id: 1 }).await })
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the commit woke the relay")
        .unwrap();
}

async fn events_are_claimed_in_the_order_they_were_stored(db: Db) {
    prepared(&db).await;
    db.transaction(|tx| async move {
        for id in 0..30 {
            tx.publish(Signed { id }).await?;
        }
        Ok(())
    })
    .await
    .unwrap();
    db.transaction(|tx| async move { tx.publish(Signed { id: 30 }).await })
        .await
        .unwrap();
    let outbox = db.outbox();
    let mut order = Vec::new();
    loop {
        let batch = outbox.claim(7, LEASE).await.unwrap();
        if batch.is_empty() {
            break;
        }
        order.extend(batch.iter().map(|e| e.payload["id"].as_i64().unwrap()));
    }
    assert_eq!(order, (0..=30).collect::<Vec<_>>());
}

/// Two replicas on one PostgreSQL claim at the same time: every event is
/// taken by exactly one of them (`FOR UPDATE SKIP LOCKED`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_never_claim_the_same_event() {
    let Some(pg) = crate::support::postgres().await else {
        return;
    };
    let a = pg.db.clone();
    a.migrate().await.unwrap();
    let b = Db::connect(&pg.url()).await.unwrap();
    for n in 0..200 {
        a.transaction(|tx| async move { tx.publish(Signed { id: n }).await })
            .await
            .unwrap();
    }
    let take = |db: Db| async move {
        let mut ids = Vec::new();
        loop {
            let batch = db.outbox().claim(7, LEASE).await.unwrap();
            if batch.is_empty() {
                return ids;
            }
            ids.extend(batch.into_iter().map(|e| e.id));
        }
    };
    let (from_a, from_b) = tokio::join!(take(a.clone()), take(b.clone()));
    let mut all: Vec<_> = from_a.iter().chain(&from_b).cloned().collect();
    all.sort();
    all.dedup();
    assert_eq!(from_a.len() + from_b.len(), 200, "no event claimed twice");
    assert_eq!(all.len(), 200, "every event claimed");
    b.close().await;
    pg.drop().await;
}

/// An `_outbox` made by a version without the `trace` column (the W3C trace
/// context of the storing transaction) gets it when the table is ensured,
/// and its rows still read.
async fn a_table_made_before_the_trace_column_gets_it(db: Db) {
    let old_table = if db.engine() == "postgres" {
        "CREATE TABLE _outbox (seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, \
         event TEXT NOT NULL, payload TEXT NOT NULL, emitter TEXT NOT NULL, parent_id TEXT, \
         created_at BIGINT NOT NULL, available_at BIGINT NOT NULL, \
         attempts BIGINT NOT NULL DEFAULT 0, last_error TEXT)"
    } else {
        "CREATE TABLE _outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, \
         event TEXT NOT NULL, payload TEXT NOT NULL, emitter TEXT NOT NULL, parent_id TEXT, \
         created_at BIGINT NOT NULL, available_at BIGINT NOT NULL, \
         attempts BIGINT NOT NULL DEFAULT 0, last_error TEXT)"
    };
    db.execute(old_table, params![]).await.unwrap();
    db.execute(
        "INSERT INTO _outbox (id, event, payload, emitter, created_at, available_at) \
         VALUES ('old-1', 't.signed', '{}', 'x', 0, 0)",
        params![],
    )
    .await
    .unwrap();
    prepared(&db).await;
    db.outbox().ensure().await.unwrap();
    db.transaction(|tx| async move { tx.publish(Signed { id: 2 }).await })
        .await
        .unwrap();
    let claimed = db.outbox().claim(10, LEASE).await.unwrap();
    let ids: Vec<&str> = claimed.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(claimed.len(), 2, "{ids:?}");
    assert_eq!(claimed[0].id, "old-1");
    assert!(
        claimed.iter().all(|e| e.trace.is_none()),
        "no trace context without OpenTelemetry"
    );
}

/// Boot ensures the table twice (migrations, then the relay's `on_boot` for
/// replicas that skip migrations): only the first runs the DDL. Seen from
/// outside: a table dropped after the first run stays dropped.
async fn the_outbox_table_is_made_once_per_handle(db: Db) {
    // A replica that skips migrations: the relay's ensure makes the table.
    db.outbox().ensure().await.unwrap();
    assert!(db.outbox().claim(10, LEASE).await.unwrap().is_empty());
    db.execute("DROP TABLE _outbox", params![]).await.unwrap();
    db.migrate().await.unwrap();
    db.outbox().ensure().await.unwrap();
    let err = db
        .outbox()
        .claim(10, LEASE)
        .await
        .expect_err("neither the migrations nor a second ensure ran the DDL again");
    assert!(err.to_string().contains("_outbox"), "{err}");
}
