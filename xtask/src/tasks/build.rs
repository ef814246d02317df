//! Builds the app binary from the copy with the repository's own target
//! directory, so the dependency graph compiled for the repository is reused,
//! not built a second time.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The built binary, or the compiler's error lines.
pub fn build(copy: &Path, target_dir: &Path, log: &Path) -> Result<PathBuf, String> {
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
