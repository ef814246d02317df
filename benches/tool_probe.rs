//! What the tool proxy costs: `Probe::observe` around a trivial async call
//! against the call alone, and a real `SELECT 1` through the `Db` tool on
//! in-memory SQLite against sqlx directly on an equally configured pool.
//!
//! `cargo bench --bench tool_probe -- --warm-up-time 1 --measurement-time 3`
//!
//! What the probe's overhead is made of, and how it moved, is in
//! docs/benchmarks.md ("What the figures say", **Probe**): mostly its two
//! clock reads.

mod support;

use std::hint::black_box;
use std::str::FromStr;
use std::time::SystemTime;

use criterion::Criterion;
use microcore::prelude::*;
use microcore::{Registry, ToolStatus};
use microcore_kernel::{Probe, ToolFailure};
use serde::Deserialize;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

use support::Pair;

/// An error that never happens; the probe needs to know how to classify one.
#[derive(Debug)]
struct Never;

impl ToolFailure for Never {}

/// The trivial call: no I/O, a value the optimiser cannot fold away.
async fn trivial(n: u64) -> Result<u64, Never> {
    Ok(black_box(n).wrapping_mul(3))
}

/// The row both database paths decode into.
#[derive(Debug, Deserialize, PartialEq)]
struct One {
    one: i64,
}

/// The same pool shape the db tool uses for in-memory SQLite: one connection
/// that never recycles, foreign keys on.
async fn bare_pool() -> SqlitePool {
    let options = SqliteConnectOptions::from_str("sqlite::memory:")
        .expect("in-memory SQLite options")
        .foreign_keys(true);
    SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(options)
        .await
        .expect("an in-memory SQLite pool")
}

async fn bare_select_one(pool: &SqlitePool) -> Option<One> {
    sqlx::query_as::<_, (i64,)>("SELECT 1 AS one")
        .fetch_optional(pool)
        .await
        .expect("SELECT 1 on in-memory SQLite")
        .map(|(one,)| One { one })
}

async fn microcore_select_one(db: &Db) -> Option<One> {
    db.query_one::<One>("SELECT 1 AS one", params![])
        .await
        .expect("SELECT 1 through the db tool")
}

fn main() {
    let started = SystemTime::now();
    let mut c: Criterion = support::criterion();
    let rt = support::runtime();

    // A probe wired to a registry, as every booted tool's is.
    let registry = Registry::new();
    registry.set_tool("bench", ToolStatus::Ok, None);
    let probe = Probe::new("bench", registry);

    let mut group = c.benchmark_group("probe_observe");
    group.bench_function("microcore", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(probe.observe("trivial", trivial(7)).await) })
    });
    group.bench_function("bare_call", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(trivial(7).await) })
    });
    group.finish();

    let running = rt.block_on(support::boot_app(&[]));
    let db: Db = support::tool(&running);
    let pool = rt.block_on(bare_pool());
    let (a, b) = rt.block_on(async {
        (
            microcore_select_one(&db).await,
            bare_select_one(&pool).await,
        )
    });
    assert_eq!(a, b, "benchmark setup: both paths must read the same row");
    assert_eq!(a, Some(One { one: 1 }));

    let mut group = c.benchmark_group("db_query_one");
    group.bench_function("microcore", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(microcore_select_one(&db).await) })
    });
    group.bench_function("sqlx_baseline", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(bare_select_one(&pool).await) })
    });
    group.finish();

    c.final_summary();
    support::report(
        "tool_probe",
        started,
        &[
            Pair {
                label: "Probe::observe around a trivial async call vs the call alone",
                group: "probe_observe",
                microcore: "microcore",
                baseline: "bare_call",
            },
            Pair {
                label: "db.query_one(\"SELECT 1 AS one\") vs sqlx query_as on an in-memory pool",
                group: "db_query_one",
                microcore: "microcore",
                baseline: "sqlx_baseline",
            },
        ],
        &[],
    );
    drop(running);
}
