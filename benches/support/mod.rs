//! What every benchmark binary shares: one criterion configuration, one
//! runtime shape, the booted example app, and the ratio report.
//!
//! Criterion keeps its estimates on disk only, so the ratio of each pair is
//! read back from `<criterion dir>/<group>/<id>/new/estimates.json` after the
//! run; an estimate older than this run (a filtered-out benchmark) is reported
//! as not measured rather than mixed with a stale figure.

#![allow(dead_code)]

pub(crate) mod bare;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use criterion::Criterion;
use microcore::{BootOptions, Kernel, Running, Tool};
use microcore_app::Tools;

/// One comparison: MicroCore's path against the baseline doing the same work.
pub(crate) struct Pair {
    /// What is compared, as the summary prints it.
    pub(crate) label: &'static str,
    /// Criterion group both benchmarks belong to.
    pub(crate) group: &'static str,
    /// Id of the MicroCore benchmark inside the group.
    pub(crate) microcore: &'static str,
    /// Id of the baseline benchmark inside the group.
    pub(crate) baseline: &'static str,
}

/// Where criterion writes: `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`,
/// else `criterion/` in the target dir holding this binary (`target/release/deps/..`).
pub(crate) fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("criterion")
}

/// Criterion with an explicit output directory (so the report knows where to
/// read), short defaults for a 2-core machine, and command-line overrides.
pub(crate) fn criterion() -> Criterion {
    Criterion::default()
        .output_directory(&criterion_dir())
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args()
}

/// A current-thread runtime: the MicroCore side and the baseline run on the
/// same one, and one thread keeps a noisy 2-core machine's scheduling out of
/// the figures.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime for the benchmarks")
}

/// Boots the example app's plugins named in `only` (identities such as
/// `ping.Ping`) on the test tools, and checks each one actually booted.
pub(crate) async fn boot_app(only: &[&str]) -> Running<Tools> {
    let options = BootOptions {
        only: Some(only.iter().map(|s| (*s).to_owned()).collect()),
        ..BootOptions::tests()
    };
    let running = Kernel::<Tools>::boot(options).await;
    let booted: Vec<String> = running
        .registry()
        .snapshot()
        .plugins
        .into_iter()
        .filter(|p| p.status == microcore::PluginStatus::Ready)
        .map(|p| p.name)
        .collect();
    for name in only {
        assert!(
            booted.iter().any(|b| b == name),
            "benchmark setup: plugin `{name}` did not boot; booted: {booted:?}; \
             report:\n{}",
            running.report().failure_block()
        );
    }
    running
}

/// The booted tool `H`, as a plugin would hold it.
pub(crate) fn tool<H: Tool>(running: &Running<Tools>) -> H {
    use microcore::ToolSet;
    running
        .tools()
        .slots()
        .into_iter()
        .find(|slot| slot.name() == H::NAME)
        .and_then(|slot| slot.as_any())
        .and_then(|any| any.downcast_ref::<H>())
        .cloned()
        .unwrap_or_else(|| panic!("benchmark setup: tool `{}` is not set up", H::NAME))
}

/// The identity the kernel gave the benchmark's own plugin `type_name`.
pub(crate) fn plugin_identity(type_name: &str) -> String {
    microcore_kernel::registered_plugins::<Tools>()
        .into_iter()
        .find(|d| d.type_name == type_name)
        .map(|d| d.id().name.to_string())
        .unwrap_or_else(|| panic!("benchmark setup: plugin `{type_name}` is not registered"))
}

/// The median (ns) criterion estimated in this run, or `None` if the
/// benchmark did not run now (filtered out, or `cargo test --benches`).
fn median_ns(dir: &Path, group: &str, id: &str, started: SystemTime) -> Option<f64> {
    let path = dir.join(group).join(id).join("new").join("estimates.json");
    let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    if modified < started {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["median"]["point_estimate"].as_f64()
}

/// Human-readable duration from nanoseconds.
fn pretty(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// Prints the ratio (MicroCore median / baseline median) of every pair and
/// writes the same table to `<criterion dir>/microcore-<bench>.md`.
pub(crate) fn report(bench: &str, started: SystemTime, pairs: &[Pair], absolute: &[(&str, &str)]) {
    let dir = criterion_dir();
    let mut out = format!(
        "## {bench}\n\n| comparison | MicroCore median | baseline median | ratio | overhead |\n|---|---|---|---|---|\n"
    );
    for p in pairs {
        let mc = median_ns(&dir, p.group, p.microcore, started);
        let base = median_ns(&dir, p.group, p.baseline, started);
        let row = match (mc, base) {
            (Some(mc), Some(base)) if base > 0.0 => format!(
                "| {} | {} | {} | {:.2}x | {} |\n",
                p.label,
                pretty(mc),
                pretty(base),
                mc / base,
                if mc >= base {
                    format!("+{}", pretty(mc - base))
                } else {
                    format!("-{}", pretty(base - mc))
                }
            ),
            _ => format!("| {} | not measured in this run | | | |\n", p.label),
        };
        out.push_str(&row);
    }
    for (group, id) in absolute {
        let row = match median_ns(&dir, group, id, started) {
            Some(ns) => format!(
                "| {group}/{id} (absolute, no baseline) | {} | | | |\n",
                pretty(ns)
            ),
            None => format!("| {group}/{id} (absolute) | not measured in this run | | | |\n"),
        };
        out.push_str(&row);
    }
    println!("\n{out}");
    let file = dir.join(format!("microcore-{bench}.md"));
    if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&file, &out)) {
        eprintln!("could not write {}: {e}", file.display());
    } else {
        println!("(also written to {})", file.display());
    }
}
