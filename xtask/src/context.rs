//! `cargo xtask context [--check]`: AI_CONTEXT.md from the app's manifest,
//! written only when its content changes.

use std::path::{Path, PathBuf};
use std::process::Command;

use microcore_manifest::Manifest;

/// The workspace the command was run in: the nearest directory at or above
/// the current one whose `Cargo.toml` declares `[workspace]`.
///
/// Found at run time, not from where the xtask was compiled: two checkouts
/// that share one `CARGO_TARGET_DIR` can run the same xtask binary, and each
/// must act on its own files. Outside any workspace it falls back to the
/// checkout the xtask was built from.
pub fn root() -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|dir| workspace_root(&dir))
        .unwrap_or_else(|| {
            let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            here.parent().map_or(here.clone(), Path::to_path_buf)
        })
}

/// The nearest ancestor of `start` (itself included) holding a workspace `Cargo.toml`.
pub fn workspace_root(start: &Path) -> Option<PathBuf> {
    start.ancestors().find_map(|dir| {
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
        manifest
            .lines()
            .any(|l| l.trim() == "[workspace]")
            .then(|| dir.to_path_buf())
    })
}

/// Builds and runs `<app> manifest` (a dry boot, no I/O) and parses its JSON.
/// `MICROCORE_MANIFEST=<file>` reads a saved manifest instead.
pub fn load_manifest(root: &Path) -> Result<Manifest, String> {
    let text = match std::env::var("MICROCORE_MANIFEST") {
        Ok(file) => {
            std::fs::read_to_string(&file).map_err(|e| format!("cannot read {file}: {e}"))?
        }
        Err(_) => {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let package = app_package(root);
            let out = Command::new(cargo)
                .args(["run", "--quiet", "--package", &package, "--", "manifest"])
                .current_dir(root)
                .output()
                .map_err(|e| format!("cannot run cargo: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "`cargo run -p {package} -- manifest` failed; fix the build first:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    };
    serde_json::from_str(&text).map_err(|e| format!("the app's manifest is not valid JSON: {e}"))
}

/// The app package of the workspace at `root`: the `name` of its root
/// `[package]`, so an app made by `cargo xtask new app` is found under its own
/// name; `microcore-app` (this repository's) when there is none.
pub fn app_package(root: &Path) -> String {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(value) = line.strip_prefix("name") {
            let value = value.trim_start().trim_start_matches('=').trim();
            return value.trim_matches('"').to_owned();
        }
    }
    "microcore-app".to_owned()
}

/// What happened to the file.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Written with new content.
    Written,
    /// Already up to date; not touched.
    Unchanged,
}

/// Writes `content` to `path` unless it already holds exactly that.
pub fn write_if_changed(path: &Path, content: &str) -> Result<Outcome, String> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == content) {
        return Ok(Outcome::Unchanged);
    }
    std::fs::write(path, content).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(Outcome::Written)
}

/// One paragraph saying how `current` differs from `expected`, or `None` when equal.
pub fn stale_summary(current: Option<&str>, expected: &str) -> Option<String> {
    let Some(current) = current else {
        return Some("AI_CONTEXT.md is missing. Run `cargo xtask context` and commit it.".into());
    };
    if current == expected {
        return None;
    }
    let (old, new): (Vec<&str>, Vec<&str>) =
        (current.lines().collect(), expected.lines().collect());
    let removed: Vec<&str> = old.iter().filter(|l| !new.contains(l)).copied().collect();
    let added: Vec<&str> = new.iter().filter(|l| !old.contains(l)).copied().collect();
    let sections = |lines: &[&str], all: &[&str]| -> Vec<String> {
        let mut out = Vec::new();
        let mut heading = "";
        for l in all {
            if l.starts_with("## ") {
                heading = l.trim_start_matches("## ");
            }
            if lines.contains(l) && !out.iter().any(|h: &String| h == heading) {
                out.push(heading.to_owned());
            }
        }
        out
    };
    let mut touched = sections(&removed, &old);
    for s in sections(&added, &new) {
        if !touched.contains(&s) {
            touched.push(s);
        }
    }
    let first = added
        .first()
        .map(|l| format!(" First new line: `{}`.", clip(l)))
        .or_else(|| {
            removed
                .first()
                .map(|l| format!(" First removed line: `{}`.", clip(l)))
        })
        .unwrap_or_default();
    Some(format!(
        "AI_CONTEXT.md is stale: {} line(s) would be added and {} removed, in {}.{first} \
         Run `cargo xtask context` and commit the result.",
        added.len(),
        removed.len(),
        if touched.is_empty() {
            "its layout".to_owned()
        } else {
            touched.join(", ")
        }
    ))
}

fn clip(line: &str) -> String {
    let mut s: String = line.chars().take(100).collect();
    if s.len() < line.len() {
        s.push('…');
    }
    s
}
