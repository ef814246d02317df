//! `cargo xtask context [--check] | check | new plugin … | new domain … | tasks …`.

use std::process::ExitCode;

use xtask::{check, context, new, render, tasks};

const USAGE: &str = "\
usage: cargo xtask <task>
  context [--check]   write AI_CONTEXT.md from the app's manifest; --check fails when it is stale
  env-example [--check]  write .env.example from the settings every tool declares
  check               cross-feature checks: event contracts, duplicate routes, table ownership
  new plugin <domain>/<feature> [--route \"POST /things\"] [--publish thing.created] [--subscribe order.placed]
  new domain <name>
  new app <dir> [--git URL | --version V]   a standalone app (MicroCore by path to this checkout by default)
  tasks [--solutions DIR] [--only NN_slug]... [--allow-fail]
                      build the app with each task's files (default: tests/tasks/*/solution),
                      boot it and run tests/tasks/*/checks.json over HTTP";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("context") => run_context(args.get(1).map(String::as_str) == Some("--check")),
        Some("check") => run_check(),
        Some("env-example") => {
            xtask::env_example::run(args.get(1).map(String::as_str) == Some("--check"))
        }
        Some("new") => run_new(&args[1..]),
        Some("tasks") => run_tasks(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(USAGE.to_owned()),
    };
    result.unwrap_or_else(|e| {
        eprintln!("{e}");
        ExitCode::FAILURE
    })
}

fn run_context(check_only: bool) -> Result<ExitCode, String> {
    let root = context::root();
    let manifest = context::load_manifest(&root)?;
    let text = render::render(&manifest);
    let path = root.join("AI_CONTEXT.md");
    if check_only {
        let current = std::fs::read_to_string(&path).ok();
        return Ok(match context::stale_summary(current.as_deref(), &text) {
            Some(summary) => {
                eprintln!("{summary}");
                ExitCode::FAILURE
            }
            None => {
                println!("AI_CONTEXT.md is up to date ({} bytes).", text.len());
                ExitCode::SUCCESS
            }
        });
    }
    match context::write_if_changed(&path, &text)? {
        context::Outcome::Written => println!("wrote AI_CONTEXT.md ({} bytes)", text.len()),
        context::Outcome::Unchanged => {
            println!("AI_CONTEXT.md is up to date ({} bytes)", text.len())
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_check() -> Result<ExitCode, String> {
    let manifest = context::load_manifest(&context::root())?;
    let findings = check::check(&manifest);
    let errors = findings
        .iter()
        .filter(|f| f.level == check::Level::Error)
        .count();
    for f in &findings {
        let label = if f.level == check::Level::Error {
            "error"
        } else {
            "warning"
        };
        eprintln!("{label}: {}", f.message);
    }
    if errors > 0 {
        eprintln!("cargo xtask check: {errors} error(s)");
        Ok(ExitCode::FAILURE)
    } else {
        println!(
            "cargo xtask check: no errors ({} warning(s))",
            findings.len()
        );
        Ok(ExitCode::SUCCESS)
    }
}

fn run_new(args: &[String]) -> Result<ExitCode, String> {
    let root = context::root();
    let (files, next) = match args.first().map(String::as_str) {
        Some("plugin") => {
            let spec = new::parse_plugin_args(&args[1..])?;
            let next = format!(
                "next: cargo test -p {} --lib {}::{}, then cargo xtask context",
                context::app_package(&root),
                spec.domain,
                spec.feature
            );
            (new::plugin_files(&spec), next)
        }
        Some("app") => return xtask::app::run(&args[1..]),
        Some("domain") => {
            let name = args.get(1).ok_or("usage: cargo xtask new domain <name>")?;
            let name = new::checked_ident("domain", name)?;
            let next = format!(
                "next: edit the migration, then cargo xtask new plugin {name}/<feature> --route \"POST /{name}\""
            );
            (new::domain_files(&name), next)
        }
        _ => return Err(USAGE.to_owned()),
    };
    for path in new::write_new(&root, &files)? {
        println!("created {}", path.display());
    }
    println!("{next}");
    Ok(ExitCode::SUCCESS)
}

fn run_tasks(args: &[String]) -> Result<ExitCode, String> {
    let opts = tasks::Options::parse(args).map_err(|e| format!("{e}\n{USAGE}"))?;
    let started = std::time::Instant::now();
    let reports = tasks::run(&context::root(), &opts)?;
    for r in &reports {
        println!("{}", r.line());
    }
    let passed = reports.iter().filter(|r| r.ok()).count();
    let built = reports.iter().filter(|r| r.built).count();
    let checks: usize = reports.iter().map(|r| r.passed).sum();
    let total: usize = reports.iter().map(|r| r.total).sum();
    println!(
        "tasks: {passed}/{} passed, {built} built, checks {checks}/{total} passed, in {:.0?}",
        reports.len(),
        started.elapsed()
    );
    if passed < reports.len() {
        println!("tasks: build and app logs are in target/task-run/");
    }
    Ok(if passed == reports.len() || opts.allow_fail {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
