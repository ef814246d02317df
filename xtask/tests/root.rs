//! `cargo xtask` acts on the checkout it is run in, not on the one it was
//! compiled from: with one target dir shared by two checkouts, the same
//! binary serves both.

use std::path::Path;
use std::process::Command;

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-root-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("domains")).unwrap();
    std::fs::write(dir.join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
    dir
}

#[test]
fn new_domain_writes_into_the_workspace_of_the_current_directory() {
    let other = scratch("copy");
    let inside = other.join("domains");
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["new", "domain", "gadgets"])
        .current_dir(&inside)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        other.join("domains/gadgets/migrations").is_dir(),
        "the domain was not written into the copy: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    assert!(
        !here.join("domains/gadgets").exists(),
        "the domain was written into the checkout the xtask was built from"
    );
    std::fs::remove_dir_all(&other).unwrap();
}

#[test]
fn the_nearest_workspace_manifest_wins() {
    let dir = scratch("nearest");
    let deep = dir.join("a/b");
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(dir.join("a/Cargo.toml"), "[package]\nname = \"a\"\n").unwrap();
    assert_eq!(xtask::context::workspace_root(&deep), Some(dir.clone()));
    std::fs::remove_dir_all(&dir).unwrap();
}
