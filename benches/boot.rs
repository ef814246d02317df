//! How long the example app's kernel takes to boot every plugin on the test
//! tools (in-memory SQLite with every migration, in-process bus, http without
//! a socket). An absolute figure: there is no baseline that does the same work.
//!
//! Only the boot is timed; each booted app is shut down outside the clock.
//!
//! `cargo bench --bench boot -- --warm-up-time 1 --measurement-time 3`

mod support;

use std::time::{Duration, Instant, SystemTime};

use criterion::Criterion;
use microcore::{BootOptions, Kernel};
use microcore_app::Tools;

fn main() {
    let started = SystemTime::now();
    let mut c: Criterion = support::criterion().sample_size(20);
    let rt = support::runtime();

    // Fail loudly if the app cannot boot, rather than timing a failure.
    rt.block_on(async {
        let running = Kernel::<Tools>::boot(BootOptions::tests()).await;
        assert!(
            !running.report().cannot_serve(),
            "benchmark setup: the app does not boot on test tools:\n{}",
            running.report().failure_block()
        );
        running.shutdown(Duration::from_secs(2)).await;
    });

    let mut group = c.benchmark_group("boot");
    group.bench_function("app_test_tools", |b| {
        b.to_async(&rt).iter_custom(|iters| async move {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                let running = Kernel::<Tools>::boot(BootOptions::tests()).await;
                total += t.elapsed();
                running.shutdown(Duration::from_secs(2)).await;
            }
            total
        })
    });
    group.finish();

    c.final_summary();
    support::report("boot", started, &[], &[("boot", "app_test_tools")]);
}
