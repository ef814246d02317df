//! One file is one feature, proven on a copy of this repository: deleting any
//! one plugin file leaves the build green; adding one needs no other edit; a
//! misspelt tool names the closest tool and lists them all; a plugin importing
//! another plugin does not compile.
//!
//! It runs `cargo check` on a copy of the tree (without `target/`), with its
//! target directory shared with the trybuild UI tests, so dependencies are
//! checked once for both.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if src.is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

struct Copy(PathBuf);

impl Copy {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("microcore-tree-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        copy_tree(&repo(), &dir);
        Self(dir)
    }

    /// `cargo check` of the app library and its tests; returns (success, stderr).
    fn check(&self) -> (bool, String) {
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "check",
                "--quiet",
                "--offline",
                "-p",
                "microcore-app",
                "--lib",
                "--tests",
            ])
            .current_dir(&self.0)
            .env(
                "CARGO_TARGET_DIR",
                repo().join("target").join("tests").join("trybuild"),
            )
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn plugin_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for domain in std::fs::read_dir(root.join("domains")).unwrap() {
        let plugins = domain.unwrap().path().join("plugins");
        if let Ok(dir) = std::fs::read_dir(plugins) {
            files.extend(
                dir.map(|f| f.unwrap().path())
                    .filter(|p| p.extension().is_some_and(|e| e == "rs")),
            );
        }
    }
    files.sort();
    files
}

#[test]
fn deleting_any_plugin_adding_one_and_cross_imports() {
    let copy = Copy::new("edits");
    let (ok, stderr) = copy.check();
    assert!(ok, "the untouched copy must build: {stderr}");

    for file in plugin_files(&copy.0) {
        let saved = std::fs::read_to_string(&file).unwrap();
        std::fs::remove_file(&file).unwrap();
        let (ok, stderr) = copy.check();
        assert!(ok, "deleting {} broke the build:\n{stderr}", file.display());
        std::fs::write(&file, saved).unwrap();
    }

    let new_feature = copy.0.join("domains/ping/plugins/health.rs");
    std::fs::write(
        &new_feature,
        "use microcore::prelude::*;\n\n/// Health.\n#[plugin]\npub struct Health {\n    http: Http,\n}\n\nimpl Plugin for Health {}\n",
    )
    .unwrap();
    let (ok, stderr) = copy.check();
    assert!(
        ok,
        "a dropped-in plugin file must build with no other edit: {stderr}"
    );

    let create_user = copy.0.join("domains/users/plugins/create_user.rs");
    let saved = std::fs::read_to_string(&create_user).unwrap();
    std::fs::write(
        &create_user,
        saved.replacen("    db: Db,", "    dbx: Db,", 1),
    )
    .unwrap();
    let (ok, stderr) = copy.check();
    assert!(!ok, "a misspelt tool must not compile");
    assert!(
        stderr.contains("`dbx` is not a tool")
            && stderr.contains("Did you mean `db`?")
            && stderr.contains("Available tools: auth, config, db,"),
        "the error names the field, the closest tool and every tool: {stderr}"
    );
    std::fs::write(&create_user, saved).unwrap();

    let login = copy.0.join("domains/users/plugins/login.rs");
    let mut source = std::fs::read_to_string(&login).unwrap();
    source.push_str("\n#[allow(unused_imports)]\nuse super::super::create_user::plugin::CreateUser as Sibling;\n");
    std::fs::write(&login, source).unwrap();
    let (ok, stderr) = copy.check();
    assert!(!ok, "a plugin importing another plugin must not compile");
    assert!(
        stderr.contains("private"),
        "the error says the module is private: {stderr}"
    );
}
