//! Scaling out without touching a plugin: two replicas of the example app on
//! PostgreSQL, NATS (core or JetStream) and Redis, configured by settings alone.
//!
//! A user signs up on replica A and logs in on replica B; the welcome plugin
//! handles `user.created` once across the fleet; logging out on B revokes the
//! token on A, and deleting the account on A revokes B's token for it (the
//! revocation list lives in Redis).

use crate::support;

use std::time::{Duration, Instant};

use microcore::params;
use microcore::tools::db::Sql;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_share_postgres_nats_and_redis() {
    two_replicas("nats").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_share_postgres_jetstream_and_redis() {
    two_replicas("jetstream").await;
}

async fn two_replicas(driver: &str) {
    if !(support::service_up("PostgreSQL", 5432)
        && support::service_up("NATS", 4222)
        && support::service_up("Redis", 6379))
    {
        return;
    }
    let (admin, tag, url) = support::fresh_pg_schema("mc_scale").await;
    let prefix = format!("{tag}.");
    let settings = [
        ("DATABASE_URL", url.as_str()),
        ("EVENT_BUS_DRIVER", driver),
        ("EVENT_BUS_NATS_PREFIX", prefix.as_str()),
        ("STATE_BACKEND", "redis"),
    ];
    // Replica A migrates; replica B starts like a production replica.
    let (a, base_a) = support::serve_with(&settings).await;
    let mut replica = settings.to_vec();
    replica.push(("DB_AUTO_MIGRATE", "false"));
    let (b, base_b) = support::serve_with(&replica).await;
    let http = reqwest::Client::new();
    for r in [&a, &b] {
        assert_eq!(r.tools().event_bus.get().unwrap().driver_name(), driver);
        assert_eq!(r.tools().db.get().unwrap().engine(), "postgres");
    }

    // Ids from a random start: runs sharing this Redis (the two drivers run
    // in parallel) must not revoke each other's user 1 when one deletes it.
    let first_id = 1_000_000 + u64::from(uuid::Uuid::new_v4().as_u128() as u32);
    admin
        .execute(
            Sql::trusted(format!(
                "ALTER TABLE {tag}.users ALTER COLUMN id RESTART WITH {first_id}"
            )),
            params![],
        )
        .await
        .unwrap();
    let email = format!("{tag}@example.com");
    support::sign_up(&http, &base_a, &email).await;
    let token = support::log_in(&http, &base_b, &email).await;
    let me = http.get(format!("{base_a}/users/me"));
    assert_eq!(
        support::status_with(me, &token).await,
        200,
        "a token from B works on A"
    );

    // user.created was handled by exactly one welcome subscriber in the fleet.
    let welcomes = |r: &microcore::Running<microcore_app::Tools>| {
        r.tools()
            .event_bus
            .get()
            .unwrap()
            .published_payloads("welcome.sent")
            .len()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while welcomes(&a) + welcomes(&b) == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        welcomes(&a) + welcomes(&b),
        1,
        "one welcome across two replicas"
    );

    let out = http.post(format!("{base_b}/auth/logout"));
    assert_eq!(support::status_with(out, &token).await, 200);
    let after = http.get(format!("{base_a}/users/me"));
    assert_eq!(
        support::status_with(after, &token).await,
        401,
        "a logout on B revokes the token on A"
    );

    // Deleting the account on A kills a token issued by B, on B.
    let on_b = support::log_in(&http, &base_b, &email).await;
    let on_a = support::log_in(&http, &base_a, &email).await;
    let me: serde_json::Value = http
        .get(format!("{base_a}/users/me"))
        .bearer_auth(&on_a)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = me["data"]["id"].as_i64().expect("the account's id");
    let delete = http.delete(format!("{base_a}/users/{id}"));
    assert_eq!(support::status_with(delete, &on_a).await, 200);
    let after = http.get(format!("{base_b}/users/me"));
    assert_eq!(
        support::status_with(after, &on_b).await,
        401,
        "an account deleted on A has no live token on B"
    );

    support::stop(a).await;
    support::stop(b).await;
    admin
        .execute(
            Sql::trusted(format!("DROP SCHEMA {tag} CASCADE")),
            params![],
        )
        .await
        .unwrap();
    admin.close().await;
    if driver == "jetstream" {
        // The stream the driver derived from the prefix (`<tag>.` → `MICROCORE_<TAG>`).
        delete_stream(&format!("MICROCORE_{}", tag.to_ascii_uppercase())).await;
    }
}

async fn delete_stream(stream: &str) {
    let client = async_nats::connect("nats://127.0.0.1:4222")
        .await
        .expect("NATS was up for the test");
    async_nats::jetstream::new(client)
        .delete_stream(stream)
        .await
        .unwrap_or_else(|e| panic!("the test's stream {stream} is deleted afterwards: {e}"));
}
