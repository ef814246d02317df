//! How many events per second the bus delivers, with 1, 4 and 16 concurrent
//! publishers to 1 and to 10 subscribers, on each driver beside a baseline
//! doing the same work by hand in the same run, plus the request/reply round
//! trip in process. See docs/benchmarks.md ("Event bus throughput").
//!
//! `cargo bench --bench bus_throughput [-- in_process|nats|jetstream|rpc]`
//!
//! A plain timed harness, not criterion: a run publishes N events from P
//! tasks and ends when every subscriber has every event, which is a
//! throughput over a whole run, not a per-call time. Each run first checks
//! that each subscriber received each event exactly once (count and sum of
//! sequence numbers); a run that lost or duplicated one reports the failure
//! instead of a figure. Without `--bench` (e.g. `cargo test --benches`) it
//! runs each case once with a few events, as a smoke test.

#[path = "../support/mod.rs"]
mod support;

mod bus_side;
mod in_process;
mod jetstream;
mod measure;
mod nats;
mod raw_nats;
mod report;
mod rpc;
mod wire;

use std::time::Duration;

use microcore::prelude::*;
use microcore_kernel::{Env, Probe, Registry, Tool, ToolSetup};

use measure::{Settings, Shape};
use report::Row;

/// The event: small, like most domain events.
#[event("bench.ticked")]
pub struct Ticked {
    /// Sequence number within a run: 0..N, each once.
    pub seq: u64,
    /// A short text field.
    pub source: String,
}

impl Ticked {
    fn new(seq: u64) -> Self {
        Self {
            seq,
            source: "bench".to_owned(),
        }
    }
}

const SHAPES: [(u64, usize); 6] = [(1, 1), (4, 1), (16, 1), (1, 10), (4, 10), (16, 10)];

/// The shapes to run: all, or those `BUS_BENCH_SHAPES` names (`1x1,16x10`).
fn shapes() -> impl Iterator<Item = Shape> {
    let only = std::env::var("BUS_BENCH_SHAPES").ok();
    SHAPES
        .iter()
        .filter(move |(p, s)| {
            only.as_deref()
                .is_none_or(|o| o.split(',').any(|x| x.trim() == format!("{p}x{s}")))
        })
        .map(|&(publishers, subscribers)| Shape {
            publishers,
            subscribers,
        })
}

fn nats_url() -> String {
    std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A bus on `driver`, set up as the kernel does (a probe wired to a registry).
async fn bus(driver: &str, prefix: &str) -> Result<EventBus, String> {
    let env = Env::from_pairs([
        ("EVENT_BUS_DRIVER", driver.to_owned()),
        ("EVENT_BUS_NATS_PREFIX", prefix.to_owned()),
        ("NATS_URL", nats_url()),
        ("EVENT_BUS_JETSTREAM_MAX_AGE_SECS", "3600".to_owned()),
    ]);
    let registry = Registry::new();
    let setup = ToolSetup {
        env,
        probe: Probe::new("event_bus", registry.clone()),
        registry,
    };
    EventBus::setup(setup).await.map_err(|e| e.0)
}

async fn in_process_rows(settings: &Settings, rows: &mut Vec<Row>) -> Result<(), String> {
    let bus = bus("in_process", "bus.").await?;
    for shape in shapes() {
        let (tb, subs) = bus_side::subscribe(&bus, shape).await?;
        let (tr, senders) = in_process::subscribe(shape);
        let (b, tb_ref, tr_ref, s) = (&bus, &tb, &tr, &senders);
        let result = measure::compare(
            &tb,
            move |n| bus_side::publish(b, tb_ref, shape, n),
            &tr,
            move |n| in_process::publish(s, tr_ref, shape, n),
            settings,
            settings.first,
        )
        .await;
        bus_side::unsubscribe(&bus, subs).await;
        rows.push(Row::new("in-process", shape, result));
    }
    let _ = bus.shutdown().await;
    Ok(())
}

async fn nats_rows(settings: &Settings, rows: &mut Vec<Row>) -> Result<(), String> {
    let prefix = format!("bench{}.", uuid::Uuid::new_v4().simple());
    let bus = bus("nats", &prefix).await?;
    let client = async_nats::connect(nats_url())
        .await
        .map_err(|e| format!("raw NATS connect: {e}"))?;
    let subject = format!("raw{prefix}{}", <Ticked as microcore::Event>::NAME);
    let first = settings.first / 4;
    for shape in shapes() {
        let (tb, subs) = bus_side::subscribe(&bus, shape).await?;
        let raw = nats::subscribe(&client, &subject, shape).await?;
        let (b, tb_ref, tr_ref, c, subj) = (&bus, &tb, &raw.tally, &client, subject.as_str());
        let result = measure::compare(
            &tb,
            move |n| bus_side::publish(b, tb_ref, shape, n),
            &raw.tally,
            move |n| nats::publish(c, subj, tr_ref, shape, n),
            settings,
            first,
        )
        .await;
        bus_side::unsubscribe(&bus, subs).await;
        drop(raw);
        rows.push(Row::new("NATS", shape, result));
    }
    let _ = bus.shutdown().await;
    Ok(())
}

async fn jetstream_rows(settings: &Settings, rows: &mut Vec<Row>) -> Result<(), String> {
    let prefix = format!("bench{}.", uuid::Uuid::new_v4().simple());
    let client = async_nats::connect(nats_url())
        .await
        .map_err(|e| format!("raw NATS connect: {e}"))?;
    // The baseline's own stream: a stream's subjects may not overlap another's.
    let raw_prefix = format!("raw{prefix}");
    let js = jetstream::stream(&client, &raw_prefix).await?;
    let outcome = async {
        let bus = bus("jetstream", &prefix).await?;
        let subject = format!("{raw_prefix}{}", <Ticked as microcore::Event>::NAME);
        let first = settings.first / 20;
        for shape in shapes() {
            let (tb, subs) = bus_side::subscribe(&bus, shape).await?;
            let raw = jetstream::subscribe(&js, &raw_prefix, &subject, shape).await?;
            let (b, tb_ref, tr_ref, j, subj) = (&bus, &tb, &raw.tally, &js, subject.as_str());
            let result = measure::compare(
                &tb,
                move |n| bus_side::publish(b, tb_ref, shape, n),
                &raw.tally,
                move |n| jetstream::publish(j, subj, tr_ref, shape, n),
                settings,
                first,
            )
            .await;
            bus_side::unsubscribe(&bus, subs).await;
            drop(raw);
            rows.push(Row::new("JetStream", shape, result));
        }
        let _ = bus.shutdown().await;
        Ok::<(), String>(())
    }
    .await;
    let stem = prefix.trim_end_matches('.').to_ascii_uppercase();
    for stream in [
        jetstream::stream_name(&raw_prefix),
        format!("MICROCORE_{stem}"),
    ] {
        let _ = js.delete_stream(&stream).await;
    }
    outcome
}

/// True if something listens at the NATS address.
fn nats_reachable() -> bool {
    let url = nats_url();
    let addr = url.trim_start_matches("nats://").to_owned();
    addr.parse()
        .ok()
        .and_then(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(1)).ok())
        .is_some()
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--bench");
    let filters: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .map(String::as_str)
        .collect();
    let wants = |part: &str| filters.is_empty() || filters.iter().any(|f| part.contains(f));
    let settings = if full {
        Settings {
            secs: env_or("BUS_BENCH_SECS", 0.5),
            runs: env_or("BUS_BENCH_RUNS", 3),
            max_events: 5_000_000,
            first: 40_000,
        }
    } else {
        Settings {
            secs: 0.01,
            runs: 1,
            max_events: 4_000,
            first: 2_000,
        }
    };
    let workers = env_or(
        "BUS_BENCH_WORKERS",
        std::thread::available_parallelism().map_or(2, |n| n.get()),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("a tokio runtime for the benchmark");
    let mut rows = Vec::new();
    let mut notes = vec![format!(
        "tokio multi-thread runtime, {workers} workers; at most {} events in flight; \
         median of {} runs of about {} s after a calibration run",
        measure::WINDOW,
        settings.runs,
        settings.secs
    )];
    let mut section = |name: &str, outcome: Result<(), String>| {
        if let Err(e) = outcome {
            notes.push(format!("{name}: not measured: {e}"));
        }
    };
    if wants("in_process") {
        section(
            "in-process",
            rt.block_on(in_process_rows(&settings, &mut rows)),
        );
    }
    let remote = wants("nats") || wants("jetstream");
    let reachable = remote && nats_reachable();
    if remote && !reachable {
        section(
            "NATS and JetStream",
            Err(format!("skipped: NATS is not reachable at {}", nats_url())),
        );
    }
    if reachable && wants("nats") {
        section("NATS", rt.block_on(nats_rows(&settings, &mut rows)));
    }
    if reachable && wants("jetstream") {
        section(
            "JetStream",
            rt.block_on(jetstream_rows(&settings, &mut rows)),
        );
    }
    drop(rt);
    let rpc = wants("rpc").then(|| report::rpc(if full { 100_000 } else { 2_000 }));
    report::print(&rows, rpc, &notes);
}
