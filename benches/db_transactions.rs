//! Concurrent read-modify-write transactions on real PostgreSQL: MicroCore's
//! `db.transaction` against raw sqlx doing the same statements at the same
//! isolation level (SERIALIZABLE) with the same retry loop (up to 10 runs on
//! SQLSTATE 40001/40P01, the same jittered pauses), in one run.
//!
//! - `own rows`: 32 clients, each incrementing its own row
//!   (`SELECT n …; UPDATE … SET n = $1`): transactions that do not touch
//!   each other's rows, where throughput is the point (goal ≥ 0.8x sqlx).
//! - `hot row`: the same 32 clients on one row: nearly every transaction
//!   conflicts, so correctness is the point; the final value must equal
//!   the number of committed increments, or the bench stops.
//!
//! Both sides get a pool of 10 connections (the tool's size) and share one
//! current-thread runtime; rounds alternate sides so drift hits both.
//! Throughput, not latency, so this is a timed loop rather than criterion.
//!
//! `cargo bench --bench db_transactions` (PostgreSQL at
//! `BENCH_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`;
//! `-- --seconds 5 --rounds 3` to change the length). Without `--bench`
//! (`cargo test --benches`) one short round runs as a smoke test.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use microcore::prelude::*;
use sqlx::postgres::{PgPool, PgPoolOptions};

const CLIENTS: i64 = 32;
const POOL: u32 = 10;
const MAX_ATTEMPTS: u32 = 10;

#[derive(serde::Deserialize)]
struct Counter {
    n: i64,
}

/// What the clients of one side did in one round.
#[derive(Default, Clone, Copy)]
struct Tally {
    committed: u64,
    gave_up: u64,
    runs: u64,
    elapsed: Duration,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.committed += other.committed;
        self.gave_up += other.gave_up;
        self.runs += other.runs;
        self.elapsed += other.elapsed;
    }
    fn per_second(&self) -> f64 {
        self.committed as f64 / self.elapsed.as_secs_f64()
    }
}

/// One transaction's end: committed (with its runs) or gave up after every run conflicted.
type Outcome = Result<u64, u64>;

/// One increment of row `id` through the db tool.
async fn microcore_increment(db: &Db, id: i64) -> Outcome {
    let runs = AtomicU64::new(0);
    let result = db
        .transaction(|tx| {
            runs.fetch_add(1, Ordering::Relaxed);
            async move {
                let row: Counter = tx
                    .query_one("SELECT n FROM bench_rows WHERE id = $1", params![id])
                    .await?
                    .expect("benchmark: the row exists");
                tx.execute(
                    "UPDATE bench_rows SET n = $1 WHERE id = $2",
                    params![row.n + 1, id],
                )
                .await?;
                Ok(())
            }
        })
        .await;
    match result {
        Ok(()) => Ok(runs.into_inner()),
        Err(e) if e.kind == DbErrorKind::Conflict => Err(runs.into_inner()),
        Err(e) => panic!("benchmark: a MicroCore transaction failed: {e}"),
    }
}

/// The same increment in raw sqlx, with the same retry loop.
async fn sqlx_increment(pool: &PgPool, id: i64) -> Outcome {
    for run in 1..=u64::from(MAX_ATTEMPTS) {
        let attempt = async {
            let mut tx = pool
                .begin_with("BEGIN ISOLATION LEVEL SERIALIZABLE")
                .await?;
            let (n,): (i64,) = sqlx::query_as("SELECT n FROM bench_rows WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query("UPDATE bench_rows SET n = $1 WHERE id = $2")
                .bind(n + 1)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        };
        match attempt.await {
            Ok(()) => return Ok(run),
            Err(e) if conflict(&e) => {
                if run < u64::from(MAX_ATTEMPTS) {
                    pause(u32::try_from(run).unwrap_or(u32::MAX)).await;
                }
            }
            Err(e) => panic!("benchmark: an sqlx transaction failed: {e}"),
        }
    }
    Err(u64::from(MAX_ATTEMPTS))
}

fn conflict(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "40001" || c == "40P01")
}

/// The tool's pause before run `failed + 1`: random below 2^failed ms, at most 200 ms.
async fn pause(failed: u32) {
    let bound = Duration::from_millis(1 << failed.min(16)).min(Duration::from_millis(200));
    let bound_us = u64::try_from(bound.as_micros()).unwrap_or(u64::MAX).max(1);
    let random = uuid::Uuid::new_v4().as_u64_pair().0;
    tokio::time::sleep(Duration::from_micros(random % bound_us)).await;
}

/// 32 clients running `op` on their row (`row(client)`) until `length` is up.
async fn clients<F, Fut>(length: Duration, row: impl Fn(i64) -> i64, op: F) -> Tally
where
    F: Fn(i64) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let started = Instant::now();
    let deadline = started + length;
    let loops = (0..CLIENTS).map(|client| {
        let (id, op) = (row(client), &op);
        async move {
            let mut tally = Tally::default();
            while Instant::now() < deadline {
                match op(id).await {
                    Ok(runs) => {
                        tally.committed += 1;
                        tally.runs += runs;
                    }
                    Err(runs) => {
                        tally.gave_up += 1;
                        tally.runs += runs;
                    }
                }
            }
            tally
        }
    });
    let mut total = Tally::default();
    for tally in futures::future::join_all(loops).await {
        total.add(tally);
    }
    total.elapsed = started.elapsed();
    total
}

/// Zeroes every row, runs one side, and checks the rows hold exactly the committed increments.
async fn measured<F, Fut>(check: &PgPool, length: Duration, hot: bool, op: F) -> Tally
where
    F: Fn(i64) -> Fut,
    Fut: Future<Output = Outcome>,
{
    sqlx::query("UPDATE bench_rows SET n = 0")
        .execute(check)
        .await
        .expect("benchmark: reset the rows");
    let row = move |client: i64| if hot { 0 } else { client };
    let tally = clients(length, row, op).await;
    let (sum,): (i64,) = sqlx::query_as("SELECT COALESCE(SUM(n), 0)::BIGINT FROM bench_rows")
        .fetch_one(check)
        .await
        .expect("benchmark: read the rows");
    assert_eq!(
        u64::try_from(sum).unwrap_or(0),
        tally.committed,
        "benchmark: the rows hold {sum} increments but {} transactions committed: an update was lost",
        tally.committed
    );
    tally
}

struct Args {
    length: Duration,
    rounds: u32,
}

fn args() -> Args {
    let argv: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        argv.iter()
            .position(|a| a == flag)
            .and_then(|i| argv.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    if !argv.iter().any(|a| a == "--bench") {
        return Args {
            length: Duration::from_millis(300),
            rounds: 1,
        };
    }
    Args {
        length: Duration::from_secs(value("--seconds").unwrap_or(4)),
        rounds: u32::try_from(value("--rounds").unwrap_or(3)).unwrap_or(3),
    }
}

fn main() {
    let args = args();
    let base = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let rt = support::runtime();
    rt.block_on(async {
        let admin = match PgPoolOptions::new().max_connections(1).connect(&base).await {
            Ok(pool) => pool,
            Err(e) => {
                return eprintln!(
                    "db_transactions: PostgreSQL unavailable at {base}: {e}; skipped"
                );
            }
        };
        let schema = format!("mc_bench_{}", uuid::Uuid::new_v4().simple());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .expect("benchmark: create the schema");
        let url = format!("{base}?options[search_path]={schema}");
        run(&url, &args).await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&admin)
            .await
            .expect("benchmark: drop the schema");
    });
}

async fn run(url: &str, args: &Args) {
    let db = Db::connect(url)
        .await
        .expect("benchmark: the db tool connects");
    let pool = PgPoolOptions::new()
        .max_connections(POOL)
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .expect("benchmark: the sqlx pool connects");
    db.execute(
        "CREATE TABLE bench_rows (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)",
        params![],
    )
    .await
    .expect("benchmark: create the table");
    for id in 0..CLIENTS {
        db.execute("INSERT INTO bench_rows (id, n) VALUES ($1, 0)", params![id])
            .await
            .expect("benchmark: insert a row");
    }
    let mut out = String::from(
        "## db_transactions\n\n| scenario | side | committed/s | committed | gave up | runs per commit |\n|---|---|---|---|---|---|\n",
    );
    let mut ratios = Vec::new();
    for (label, hot) in [("own rows", false), ("hot row", true)] {
        let (mut mc, mut raw) = (Tally::default(), Tally::default());
        for _ in 0..args.rounds {
            mc.add(measured(&pool, args.length, hot, |id| microcore_increment(&db, id)).await);
            raw.add(measured(&pool, args.length, hot, |id| sqlx_increment(&pool, id)).await);
        }
        for (side, t) in [("MicroCore db.transaction", mc), ("raw sqlx", raw)] {
            out.push_str(&format!(
                "| {label} | {side} | {:.0} | {} | {} | {:.2} |\n",
                t.per_second(),
                t.committed,
                t.gave_up,
                t.runs as f64 / t.committed.max(1) as f64
            ));
        }
        ratios.push((label, mc.per_second() / raw.per_second()));
    }
    for (label, ratio) in ratios {
        out.push_str(&format!("\n{label}: MicroCore / sqlx = {ratio:.2}x"));
    }
    println!(
        "\n{out}\n\n({CLIENTS} clients, pools of {POOL}, {} round(s) of {:?} per side; the rows \
         held exactly the committed increments after every round)",
        args.rounds, args.length
    );
    db.close().await;
    pool.close().await;
}
