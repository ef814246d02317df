//! Builds the app binary from the copy with the repository's own target
//! directory, so the dependency graph compiled for the repository is reused,
//! not built a second time.
//!
//! Cargo names a workspace crate's artifacts by its name, version and path
//! *relative to the workspace*, so a faithful copy would share the
//! repository's artifacts and fingerprints and the two builds would overwrite
//! each other (the repository's next build would even be judged fresh against
//! the copy's sources). The copy therefore gets a version of its own
//! (`0.1.0-tasks`): its workspace crates build apart, the dependencies from
//! the registry are still shared.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The suffix the copy's workspace version gets.
const COPY_VERSION_SUFFIX: &str = "-tasks";

/// The built binary, or the compiler's error lines.
pub fn build(copy: &Path, target_dir: &Path, log: &Path) -> Result<PathBuf, String> {
    give_the_copy_its_own_version(copy)?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--quiet", "--bin", "microcore-app"])
        .current_dir(copy)
        .env("CARGO_TARGET_DIR", target_dir)
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let _ = std::fs::write(log, &stderr);
    if out.status.success() {
        return Ok(target_dir.join("debug").join("microcore-app"));
    }
    // Name files as the candidate wrote them, not by their place in the copy.
    let stderr = stderr.replace(&format!("{}/", copy.display()), "");
    Err(first_errors(&stderr, log))
}

/// Rewrites the copy's root `Cargo.toml` so its workspace crates have a
/// version the repository's do not, keeping the file's mtime.
fn give_the_copy_its_own_version(copy: &Path) -> Result<(), String> {
    let path = copy.join("Cargo.toml");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let renamed = with_own_version(&text);
    if renamed == text {
        return Ok(());
    }
    let mtime = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .map_err(|e| e.to_string())?;
    std::fs::write(&path, renamed).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(mtime))
        .map_err(|e| format!("cannot keep the mtime of {}: {e}", path.display()))
}

/// `version = "0.1.0"` of `[workspace.package]`, and the same version on the
/// workspace's own path dependencies, get [`COPY_VERSION_SUFFIX`].
fn with_own_version(manifest: &str) -> String {
    let Some(version) = workspace_version(manifest) else {
        return manifest.to_owned();
    };
    let (plain, own) = (
        format!("version = \"{version}\""),
        format!("version = \"{version}{COPY_VERSION_SUFFIX}\""),
    );
    manifest
        .lines()
        .map(|line| {
            let trimmed = line.trim_start();
            if trimmed.starts_with("version =") || trimmed.contains("path =") {
                line.replace(&plain, &own)
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + if manifest.ends_with('\n') { "\n" } else { "" }
}

/// The `version` of `[workspace.package]`, unless it already has the suffix.
fn workspace_version(manifest: &str) -> Option<String> {
    let section = manifest.split("[workspace.package]").nth(1)?;
    let line = section
        .lines()
        .take_while(|l| !l.trim_start().starts_with('['))
        .find(|l| l.trim_start().starts_with("version ="))?;
    let version = line.split('"').nth(1)?;
    (!version.ends_with(COPY_VERSION_SUFFIX)).then(|| version.to_owned())
}

/// The first compiler error with its location, and where the full log is.
fn first_errors(stderr: &str, log: &Path) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("error"))
        .unwrap_or(0);
    let excerpt: Vec<&str> = lines[start..].iter().take(8).copied().collect();
    format!("{} (full log: {})", excerpt.join("\n    "), log.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_gets_a_version_of_its_own_and_only_once() {
        let manifest = "[workspace.package]\nversion = \"0.1.0\"\n\n[workspace.dependencies]\n\
                        microcore = { path = \"crates/microcore\", version = \"0.1.0\" }\n\
                        other = { version = \"0.1.0\" }\n";
        let renamed = with_own_version(manifest);
        assert!(renamed.contains("version = \"0.1.0-tasks\"\n"), "{renamed}");
        assert!(
            renamed.contains("path = \"crates/microcore\", version = \"0.1.0-tasks\""),
            "{renamed}"
        );
        assert!(
            renamed.contains("other = { version = \"0.1.0\" }"),
            "a registry dependency keeps its version: {renamed}"
        );
        assert_eq!(with_own_version(&renamed), renamed);
    }

    #[test]
    fn the_excerpt_starts_at_the_first_error() {
        let stderr =
            "warning: x\nerror[E0425]: cannot find value `y`\n --> domains/a/plugins/b.rs:3:5\n";
        let text = first_errors(stderr, Path::new("/tmp/log"));
        assert!(text.starts_with("error[E0425]"), "{text}");
        assert!(
            text.contains("b.rs:3:5") && text.contains("/tmp/log"),
            "{text}"
        );
    }
}
