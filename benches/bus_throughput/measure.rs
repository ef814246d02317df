//! Counting and timing: what a run delivered (checked before it counts),
//! how long it took, and the median of several runs.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Events in flight (published, not yet delivered to every subscriber) a
/// run allows before publishers wait. The same for both sides, and below the
/// bus's default `EVENT_BUS_MAX_QUEUED` (10 000) and NATS's per-subscription
/// buffer (65 536), so neither side ever refuses or drops an event.
pub(crate) const WINDOW: u64 = 2048;

/// How long a run may take before it is declared lost.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// Publishers × subscribers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    pub(crate) publishers: u64,
    pub(crate) subscribers: usize,
}

/// What the subscribers of one side received in the current run.
pub(crate) struct Tally {
    counts: Vec<AtomicU64>,
    sums: Vec<AtomicU64>,
    published: AtomicU64,
    delivered: AtomicU64,
    target: AtomicU64,
    done: Notify,
}

impl Tally {
    pub(crate) fn new(subscribers: usize) -> Arc<Self> {
        Arc::new(Self {
            counts: (0..subscribers).map(|_| AtomicU64::new(0)).collect(),
            sums: (0..subscribers).map(|_| AtomicU64::new(0)).collect(),
            published: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            target: AtomicU64::new(u64::MAX),
            done: Notify::new(),
        })
    }

    fn subscribers(&self) -> u64 {
        self.counts.len() as u64
    }

    /// Subscriber `index` received the event numbered `seq`.
    pub(crate) fn record(&self, index: usize, seq: u64) {
        self.counts[index].fetch_add(1, Ordering::Relaxed);
        self.sums[index].fetch_add(seq, Ordering::Relaxed);
        let delivered = self.delivered.fetch_add(1, Ordering::AcqRel) + 1;
        if delivered == self.target.load(Ordering::Acquire) {
            self.done.notify_one();
        }
    }

    /// Called by a publisher before each event: waits while the slowest
    /// subscriber has [`WINDOW`] events still on their way, so memory stays
    /// bounded. Counted per subscriber, not in total: on a loaded machine one
    /// subscriber's task can be left unscheduled while the others keep up,
    /// and a total let it fall 10 × WINDOW behind, past
    /// `EVENT_BUS_MAX_QUEUED`, so the bus refused the run's events.
    pub(crate) async fn admit(&self) {
        let published = self.published.fetch_add(1, Ordering::AcqRel);
        while published > self.slowest() + WINDOW {
            tokio::task::yield_now().await;
        }
    }

    /// What the subscriber that received the fewest events has received.
    fn slowest(&self) -> u64 {
        let counts = self.counts.iter().map(|c| c.load(Ordering::Acquire));
        counts.min().unwrap_or(0)
    }

    fn reset(&self, events: u64) {
        for c in self.counts.iter().chain(&self.sums) {
            c.store(0, Ordering::Relaxed);
        }
        self.published.store(0, Ordering::Relaxed);
        self.delivered.store(0, Ordering::Relaxed);
        self.target
            .store(events * self.subscribers(), Ordering::Release);
    }

    /// Every subscriber got every event exactly once (by count and by the
    /// sum of the sequence numbers 0..events), or what is wrong.
    fn check(&self, events: u64) -> Result<(), String> {
        let sum = events * events.saturating_sub(1) / 2;
        for (i, (count, got)) in self.counts.iter().zip(&self.sums).enumerate() {
            let (count, got) = (count.load(Ordering::Acquire), got.load(Ordering::Acquire));
            if count != events || got != sum {
                return Err(format!(
                    "subscriber {i} received {count} of {events} events (sequence sum {got}, expected {sum})"
                ));
            }
        }
        Ok(())
    }
}

/// Sequence numbers of publisher `p` of `shape` among `events`: p, p+P, p+2P, …
pub(crate) fn sequence(shape: Shape, p: u64, events: u64) -> impl Iterator<Item = u64> {
    (p..events).step_by(shape.publishers as usize)
}

/// CPU time this process has used (user + system), from `/proc/self/stat`
/// (clock ticks, 100 per second on Linux); zero where that file is absent.
/// On a shared machine the wall-clock rate moves with the load; the CPU
/// time per event does much less.
fn cpu_time() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            // Fields after the command name (which may hold spaces), from field 3.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: u64 = fields.get(11)?.parse().ok()?;
            let stime: u64 = fields.get(12)?.parse().ok()?;
            Some(utime + stime)
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// What one run took: wall-clock and CPU time of the whole process.
pub(crate) struct Took {
    pub(crate) wall: Duration,
    pub(crate) cpu: Duration,
}

/// One run: `publish(events)` starts the publishers; the run ends when the
/// tally has every delivery, and counts only if nothing was lost.
pub(crate) async fn run<F, Fut>(tally: &Tally, events: u64, publish: F) -> Result<Took, String>
where
    F: FnOnce(u64) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    tally.reset(events);
    let cpu = cpu_time();
    let started = Instant::now();
    publish(events).await?;
    if tokio::time::timeout(RUN_TIMEOUT, tally.done.notified())
        .await
        .is_err()
    {
        tally.check(events)?;
        return Err(format!("not every delivery arrived within {RUN_TIMEOUT:?}"));
    }
    let took = Took {
        wall: started.elapsed(),
        cpu: cpu_time().saturating_sub(cpu),
    };
    // Nothing more may arrive: a duplicate shows up in the sums.
    tokio::time::sleep(Duration::from_millis(20)).await;
    tally.check(events)?;
    Ok(took)
}

/// Events per second of one side (median of the runs), and the CPU time
/// the process spent per event (median), which a busy machine moves less.
pub(crate) struct Rate {
    pub(crate) events_per_sec: f64,
    pub(crate) cpu_ns_per_event: f64,
}

impl Rate {
    fn of(events: u64, runs: &[Took]) -> Self {
        let n = events as f64;
        Self {
            events_per_sec: median(runs.iter().map(|t| n / t.wall.as_secs_f64()).collect()),
            cpu_ns_per_event: median(runs.iter().map(|t| t.cpu.as_nanos() as f64 / n).collect()),
        }
    }
}

/// Measures two sides in alternation (A B A B …) so drift on a shared
/// machine moves both; a calibration run per side first picks the number of
/// events for runs of about `settings.secs`. Returns (MicroCore, baseline).
pub(crate) async fn compare<A, AF, B, BF>(
    tally_a: &Tally,
    mut a: A,
    tally_b: &Tally,
    mut b: B,
    settings: &Settings,
    first: u64,
) -> Result<(Rate, Rate), String>
where
    A: FnMut(u64) -> AF,
    AF: Future<Output = Result<(), String>>,
    B: FnMut(u64) -> BF,
    BF: Future<Output = Result<(), String>>,
{
    let size = |t: Took| {
        let rate = first as f64 / t.wall.as_secs_f64().max(1e-6);
        ((rate * settings.secs) as u64).clamp(1000, settings.max_events)
    };
    let n_a = size(run(tally_a, first, &mut a).await?);
    let n_b = size(run(tally_b, first, &mut b).await?);
    let (mut ra, mut rb) = (Vec::new(), Vec::new());
    for _ in 0..settings.runs {
        ra.push(run(tally_a, n_a, &mut a).await?);
        rb.push(run(tally_b, n_b, &mut b).await?);
    }
    Ok((Rate::of(n_a, &ra), Rate::of(n_b, &rb)))
}

/// The median of `values` (the mean of the middle two when even).
pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// How long and how often each side runs.
pub(crate) struct Settings {
    /// Target length of one run, seconds.
    pub(crate) secs: f64,
    /// Timed runs per side (after one calibration run).
    pub(crate) runs: usize,
    /// Cap on events per run.
    pub(crate) max_events: u64,
    /// Events of the calibration run (in process; NATS and JetStream use less).
    pub(crate) first: u64,
}

/// Starts `shape.publishers` tasks, `one(p)` each, and waits until all have
/// published (not until their events are delivered: [`run`] waits for that).
pub(crate) async fn publishers<F, Fut>(shape: Shape, one: F) -> Result<(), String>
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let tasks: Vec<_> = (0..shape.publishers)
        .map(|p| tokio::spawn(one(p)))
        .collect();
    for task in tasks {
        task.await
            .map_err(|e| format!("a publisher task failed: {e}"))??;
    }
    Ok(())
}
