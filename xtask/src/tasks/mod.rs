//! `cargo xtask tasks`: the feature-task suite. Each `tests/tasks/<NN_slug>/`
//! holds a request to a coding agent (`task.md`), black-box checks
//! (`checks.json`) and a reference solution (`solution/`). The runner overlays
//! a set of candidate files on a clean copy of the repository, builds the app,
//! boots it once and runs every task's checks over real HTTP.
//!
//! Layers, each calling only downwards: this file → `sync`, `build`, `boot`,
//! `checks` → `matcher`, `http`.

pub mod boot;
pub mod build;
pub mod checks;
pub mod http;
pub mod matcher;
pub mod sync;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What the command line asked for.
#[derive(Debug, Default)]
pub struct Options {
    /// `--solutions DIR`: `<DIR>/<NN_slug>/` per task; default: each task's `solution/`.
    pub solutions: Option<PathBuf>,
    /// `--only NN_slug`, repeatable: run just these tasks.
    pub only: Vec<String>,
    /// `--allow-fail`: exit 0 even when tasks fail (measurement runs).
    pub allow_fail: bool,
}

impl Options {
    /// Parses the arguments after `tasks`.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut opts = Self::default();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--solutions" => {
                    let dir = it.next().ok_or("--solutions needs a directory")?;
                    opts.solutions = Some(PathBuf::from(dir));
                }
                "--only" => opts.only.push(
                    it.next()
                        .ok_or("--only needs a task name (NN_slug)")?
                        .clone(),
                ),
                "--allow-fail" => opts.allow_fail = true,
                other => return Err(format!("unknown option {other:?} for `cargo xtask tasks`")),
            }
        }
        Ok(opts)
    }
}

/// One task of the suite and where its candidate files are.
#[derive(Debug, Clone)]
pub struct Task {
    /// `NN_slug`.
    pub name: String,
    /// `tests/tasks/<name>/`.
    pub dir: PathBuf,
    /// The folder mirroring the repository layout with the candidate's files.
    pub files: PathBuf,
}

/// What became of one task.
#[derive(Debug)]
pub struct Report {
    /// `NN_slug`.
    pub name: String,
    /// Whether its files compiled (with the app's).
    pub built: bool,
    /// Checks passed and run (0/N when not built).
    pub passed: usize,
    /// All checks of the task.
    pub total: usize,
    /// Why it failed, if it did.
    pub detail: Option<String>,
}

impl Report {
    /// Built and every check passed.
    pub fn ok(&self) -> bool {
        self.built && self.total > 0 && self.passed == self.total
    }

    /// `task NN_slug: built yes, checks 5/6 passed` and the failure on the next line.
    pub fn line(&self) -> String {
        let mut s = format!(
            "task {}: built {}, checks {}/{} passed",
            self.name,
            if self.built { "yes" } else { "no" },
            self.passed,
            self.total
        );
        if let Some(d) = &self.detail {
            s.push_str("\n    ");
            s.push_str(&d.replace('\n', "\n    "));
        }
        s
    }
}

/// The tasks under `suite`, sorted, filtered by `only`.
pub fn discover(suite: &Path, opts: &Options) -> Result<Vec<Task>, String> {
    let mut names: Vec<String> = std::fs::read_dir(suite)
        .map_err(|e| format!("cannot read {}: {e}", suite.display()))?
        .filter_map(Result::ok)
        .filter(|e| e.path().join("checks.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for wanted in &opts.only {
        if !names.contains(wanted) {
            return Err(format!(
                "--only {wanted}: no such task in {}; tasks: {}",
                suite.display(),
                names.join(", ")
            ));
        }
    }
    Ok(names
        .into_iter()
        .filter(|n| opts.only.is_empty() || opts.only.contains(n))
        .map(|name| Task {
            dir: suite.join(&name),
            files: match &opts.solutions {
                Some(dir) => dir.join(&name),
                None => suite.join(&name).join("solution"),
            },
            name,
        })
        .collect())
}

/// Where the runner works: the copy, logs and the database, all under target/.
struct Places {
    root: PathBuf,
    target: PathBuf,
    copy: PathBuf,
    run: PathBuf,
}

/// Runs the suite; returns the reports in task order.
pub fn run(root: &Path, opts: &Options) -> Result<Vec<Report>, String> {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let target = if target.is_absolute() {
        target
    } else {
        root.join(target)
    };
    let places = Places {
        root: root.to_path_buf(),
        copy: target.join("task-app"),
        run: target.join("task-run"),
        target,
    };
    std::fs::create_dir_all(&places.run)
        .map_err(|e| format!("cannot create {}: {e}", places.run.display()))?;
    let tasks = discover(&root.join("tests/tasks"), opts)?;
    let mut reports: Vec<Option<Report>> = tasks.iter().map(|_| None).collect();
    let mut present = Vec::new();
    for (i, t) in tasks.iter().enumerate() {
        if sync::walk(&t.files)?.is_empty() {
            reports[i] = Some(not_built(
                t,
                format!("no candidate files in {}", t.files.display()),
            ));
        } else {
            present.push(i);
        }
    }

    let started = Instant::now();
    let together = build_with(&places, &tasks, &present, "build.log");
    eprintln!(
        "tasks: combined build {} in {:.0?}",
        if together.is_ok() { "ok" } else { "failed" },
        started.elapsed()
    );
    let groups: Vec<Vec<usize>> = if together.is_ok() {
        vec![present]
    } else {
        // Attribute the failure: each task alone on the app.
        let mut ok = Vec::new();
        for &i in &present {
            let log = format!("build-{}.log", tasks[i].name);
            match build_with(&places, &tasks, &[i], &log) {
                Ok(_) => ok.push(i),
                Err(e) => reports[i] = Some(not_built(&tasks[i], e)),
            }
        }
        if ok.is_empty() || build_with(&places, &tasks, &ok, "build.log").is_ok() {
            vec![ok]
        } else {
            // Each builds alone but not with the others: boot them one by one.
            ok.into_iter().map(|i| vec![i]).collect()
        }
    };
    // (tasks, whether the copy must be rebuilt for them first)
    let several = groups.len() > 1;
    let mut pending: VecDeque<(Vec<usize>, bool)> = groups
        .into_iter()
        .filter(|g| !g.is_empty())
        .map(|g| (g, several))
        .collect();
    while let Some((group, rebuild)) = pending.pop_front() {
        if rebuild && let Err(e) = build_with(&places, &tasks, &group, "build.log") {
            for &i in &group {
                reports[i] = Some(not_built(&tasks[i], e.clone()));
            }
            continue;
        }
        let binary = places.target.join("debug").join("microcore-app");
        let checked = Instant::now();
        let booted = run_group(&places, &tasks, &group, &binary, &mut reports);
        eprintln!(
            "tasks: boot and checks of {} task(s) in {:.0?}",
            group.len(),
            checked.elapsed()
        );
        if !booted && group.len() > 1 {
            // One candidate can take the app or a tool down (a bad migration
            // fails `db`, and every plugin using it): boot each alone.
            eprintln!(
                "tasks: the app did not boot cleanly with every task together; booting each alone"
            );
            pending.extend(group.into_iter().map(|i| (vec![i], true)));
        }
    }
    Ok(reports
        .into_iter()
        .zip(&tasks)
        .map(|(r, t)| r.unwrap_or_else(|| not_built(t, "not run".into())))
        .collect())
}

/// Syncs the copy with the given tasks' files overlaid and builds it.
fn build_with(
    places: &Places,
    tasks: &[Task],
    which: &[usize],
    log: &str,
) -> Result<PathBuf, String> {
    let mut plan = sync::tracked(&places.root)?;
    for &i in which {
        sync::overlay(&mut plan, &tasks[i].files)?;
    }
    sync::apply(&plan, &places.copy)?;
    build::build(&places.copy, &places.target, &places.run.join(log))
}

/// Boots `binary` once and runs the checks of every task in `group`. False
/// when a group of several did not boot cleanly (the app did not serve, or a
/// tool failed): nothing is reported then, and the caller boots each alone.
fn run_group(
    places: &Places,
    tasks: &[Task],
    group: &[usize],
    binary: &Path,
    reports: &mut [Option<Report>],
) -> bool {
    let log = match group {
        [only] => format!("app-{}.log", tasks[*only].name),
        _ => "app.log".to_owned(),
    };
    let app = boot::start(binary, &places.run.join("app.db"), &places.run.join(log));
    let broken = app
        .as_ref()
        .map(|a| boot::failed_tools(a.port))
        .unwrap_or_default();
    if !broken.is_empty() && group.len() > 1 {
        return false;
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() % 1_000_000);
    for &i in group {
        let t = &tasks[i];
        let loaded = checks::load(&t.dir.join("checks.json"));
        let total = loaded.as_ref().map_or(0, |c| c.steps.len());
        reports[i] = Some(match (&app, loaded) {
            (_, Err(e)) => Report {
                name: t.name.clone(),
                built: true,
                passed: 0,
                total,
                detail: Some(e),
            },
            (Err(e), Ok(_)) => Report {
                name: t.name.clone(),
                built: true,
                passed: 0,
                total,
                detail: Some(e.clone()),
            },
            (Ok(app), Ok(c)) => {
                let out = checks::run(&c, app.port, &format!("t{i}r{stamp}"));
                let detail = match out.first_failure {
                    Some(f) if !broken.is_empty() => {
                        Some(format!("the app booted with {}\n{f}", broken.join("; ")))
                    }
                    other => other,
                };
                Report {
                    name: t.name.clone(),
                    built: true,
                    passed: out.passed,
                    total: out.total,
                    detail,
                }
            }
        });
    }
    app.is_ok()
}

fn not_built(t: &Task, why: String) -> Report {
    let total = checks::load(&t.dir.join("checks.json")).map_or(0, |c| c.steps.len());
    Report {
        name: t.name.clone(),
        built: false,
        passed: 0,
        total,
        detail: Some(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_and_reject_unknown_flags() {
        let args: Vec<String> = [
            "--solutions",
            "out",
            "--only",
            "01_a",
            "--only",
            "02_b",
            "--allow-fail",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let o = Options::parse(&args).unwrap();
        assert_eq!(o.solutions, Some(PathBuf::from("out")));
        assert_eq!(o.only, vec!["01_a", "02_b"]);
        assert!(o.allow_fail);
        assert!(Options::parse(&["--fast".to_string()]).is_err());
        assert!(Options::parse(&["--only".to_string()]).is_err());
    }

    #[test]
    fn a_report_passes_only_when_built_and_every_check_passed() {
        let r = |built, passed, total| Report {
            name: "01_a".into(),
            built,
            passed,
            total,
            detail: None,
        };
        assert!(r(true, 3, 3).ok());
        assert!(!r(true, 2, 3).ok());
        assert!(!r(false, 0, 3).ok());
        assert!(!r(true, 0, 0).ok());
        assert_eq!(
            r(true, 2, 3).line(),
            "task 01_a: built yes, checks 2/3 passed"
        );
    }

    #[test]
    fn the_suite_in_the_repository_is_well_formed() {
        let root = crate::context::root();
        let tasks = discover(&root.join("tests/tasks"), &Options::default()).unwrap();
        assert!(tasks.len() >= 13, "{} tasks", tasks.len());
        for t in &tasks {
            assert!(t.dir.join("task.md").is_file(), "{} has no task.md", t.name);
            let c = checks::load(&t.dir.join("checks.json")).unwrap();
            assert!(!c.steps.is_empty(), "{} has no checks", t.name);
            assert!(
                !sync::walk(&t.files).unwrap().is_empty(),
                "{} has no solution",
                t.name
            );
        }
    }
}
