//! The table: events/s and deliveries/s of each side, and their ratio,
//! printed and written to `<criterion dir>/microcore-bus_throughput.md`.

use crate::measure::{Rate, Shape};
use crate::rpc::{self, Latency};

/// One driver and shape: both sides, or why there is no figure.
pub(crate) struct Row {
    driver: &'static str,
    shape: Shape,
    result: Result<(Rate, Rate), String>,
}

impl Row {
    pub(crate) fn new(
        driver: &'static str,
        shape: Shape,
        result: Result<(Rate, Rate), String>,
    ) -> Self {
        Self {
            driver,
            shape,
            result,
        }
    }
}

/// `1234567.8` → `1,234,568`.
fn grouped(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn micros(ns: f64) -> String {
    format!("{:.2} µs", ns / 1000.0)
}

/// Request/reply round trips on a current-thread runtime (one request at a
/// time: a latency, so one thread keeps scheduling noise out of it).
pub(crate) fn rpc(requests: u64) -> Result<(Latency, Latency), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let bus = crate::bus("in_process", "bus.").await?;
        let warm = (requests / 10).max(100);
        rpc::bus_side(&bus, warm).await?;
        rpc::baseline(warm).await?;
        let mc = rpc::bus_side(&bus, requests).await?;
        let base = rpc::baseline(requests).await?;
        Ok((mc, base))
    })
}

pub(crate) fn print(
    rows: &[Row],
    rpc: Option<Result<(Latency, Latency), String>>,
    notes: &[String],
) {
    let mut out = String::from(
        "## bus_throughput\n\n\
         events/s: events published and delivered to every subscriber, per second; \
         deliveries/s = events/s × subscribers. Ratio: MicroCore / baseline (1.00x = as fast).\n\n\
         CPU/event: CPU time of the whole process (all threads) per event, from /proc/self/stat; \
         on a shared machine it moves less than the wall-clock rate.\n\n\
         | driver | publishers | subscribers | MicroCore events/s | MicroCore deliveries/s | \
         baseline events/s | baseline deliveries/s | ratio | MicroCore CPU/event | baseline CPU/event |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let (p, s) = (row.shape.publishers, row.shape.subscribers);
        let line = match &row.result {
            Ok((mc, base)) => format!(
                "| {} | {p} | {s} | {} | {} | {} | {} | {:.2}x | {} | {} |\n",
                row.driver,
                grouped(mc.events_per_sec),
                grouped(mc.events_per_sec * s as f64),
                grouped(base.events_per_sec),
                grouped(base.events_per_sec * s as f64),
                mc.events_per_sec / base.events_per_sec.max(1e-9),
                micros(mc.cpu_ns_per_event),
                micros(base.cpu_ns_per_event),
            ),
            Err(e) => format!("| {} | {p} | {s} | failed: {e} | | | | | | |\n", row.driver),
        };
        out.push_str(&line);
    }
    match rpc {
        Some(Ok((mc, base))) => out.push_str(&format!(
            "\n| request/reply in process, sequential | p50 | p99 |\n|---|---|---|\n\
             | MicroCore `bus.request` | {} | {} |\n\
             | baseline: tokio mpsc + oneshot, JSON both ways | {} | {} |\n\
             | ratio (p50) | {:.2}x | |\n",
            micros(mc.p50),
            micros(mc.p99),
            micros(base.p50),
            micros(base.p99),
            mc.p50 / base.p50.max(1e-9),
        )),
        Some(Err(e)) => out.push_str(&format!("\nrequest/reply: failed: {e}\n")),
        None => {}
    }
    out.push('\n');
    for note in notes {
        out.push_str(&format!("- {note}\n"));
    }
    println!("\n{out}");
    let dir = crate::support::criterion_dir();
    let file = dir.join("microcore-bus_throughput.md");
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&file, &out)) {
        Ok(()) => println!("(also written to {})", file.display()),
        Err(e) => eprintln!("could not write {}: {e}", file.display()),
    }
}
