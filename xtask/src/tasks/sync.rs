//! The app copy the suite builds: the repository's tracked files plus the
//! candidate files, mirrored into one fixed directory. Files are copied only
//! when their content differs and keep their source's mtime, so cargo sees
//! unchanged crates as fresh and rebuilds only what a candidate touched;
//! anything else in the directory (files of an earlier run) is removed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Relative path in the copy → the file it comes from.
pub type Plan = BTreeMap<PathBuf, PathBuf>;

/// Every file `git ls-files` lists under `root` that exists in the work tree.
pub fn tracked(root: &Path) -> Result<Plan, String> {
    let out = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot run git in {}: {e}", root.display()))?;
    if !out.status.success() {
        return Err(format!(
            "`git ls-files` failed in {}: {}",
            root.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
        .filter(|rel| root.join(rel).is_file())
        .map(|rel| (rel.clone(), root.join(rel)))
        .collect())
}

/// Adds every file under `candidate` (a folder mirroring the repository's
/// layout) to `plan`. A feature is new files under `domains/`: a file
/// elsewhere, or one that would replace a file already in the plan (the
/// framework's, the example app's, another candidate's), is refused, so a
/// candidate cannot pass by changing what it builds on.
pub fn overlay(plan: &mut Plan, candidate: &Path) -> Result<Vec<PathBuf>, String> {
    let mut added = Vec::new();
    for file in walk(candidate)? {
        let rel = file
            .strip_prefix(candidate)
            .map_err(|e| e.to_string())?
            .to_path_buf();
        if !rel.starts_with("domains") {
            return Err(format!(
                "{}: a candidate adds files under domains/ only",
                file.display()
            ));
        }
        if plan.contains_key(&rel) {
            return Err(format!(
                "{}: {} already exists; a candidate adds files, it does not replace them",
                file.display(),
                rel.display()
            ));
        }
        added.push(rel.clone());
        plan.insert(rel, file);
    }
    Ok(added)
}

/// Makes `dest` hold exactly the files of `plan`.
pub fn apply(plan: &Plan, dest: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dest).map_err(|e| format!("cannot create {}: {e}", dest.display()))?;
    for file in walk(dest)? {
        let rel = file.strip_prefix(dest).map_err(|e| e.to_string())?;
        if !plan.contains_key(rel) {
            std::fs::remove_file(&file)
                .map_err(|e| format!("cannot remove {}: {e}", file.display()))?;
        }
    }
    remove_empty_dirs(dest)?;
    for (rel, source) in plan {
        copy_if_changed(source, &dest.join(rel))?;
    }
    Ok(())
}

fn copy_if_changed(source: &Path, target: &Path) -> Result<(), String> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let bytes = read(source)?;
    if std::fs::read(target).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(target, &bytes)
        .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    let meta = std::fs::metadata(source).map_err(|e| e.to_string())?;
    let mtime = meta.modified().map_err(|e| e.to_string())?;
    let file = std::fs::File::options()
        .write(true)
        .open(target)
        .map_err(|e| format!("cannot open {}: {e}", target.display()))?;
    file.set_modified(mtime)
        .map_err(|e| format!("cannot set the mtime of {}: {e}", target.display()))?;
    file.set_permissions(meta.permissions())
        .map_err(|e| format!("cannot set the mode of {}: {e}", target.display()))
}

/// Every file below `dir` (none if it does not exist), sorted.
pub fn walk(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("cannot read {}: {e}", d.display())),
        };
        for entry in entries {
            let entry = entry.map_err(|e| e.to_string())?;
            let kind = entry.file_type().map_err(|e| e.to_string())?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

fn remove_empty_dirs(dir: &Path) -> Result<bool, String> {
    let mut empty = true;
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() && remove_empty_dirs(&path)? {
            std::fs::remove_dir(&path).map_err(|e| e.to_string())?;
        } else {
            empty = false;
        }
    }
    Ok(empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-sync-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_copy_mirrors_the_plan_keeps_mtimes_and_drops_leftovers() {
        let src = scratch("src");
        let dest = scratch("dest");
        std::fs::create_dir_all(src.join("domains/a/plugins")).unwrap();
        let file = src.join("domains/a/plugins/x.rs");
        std::fs::write(&file, "x").unwrap();
        let old = SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(old)
            .unwrap();
        std::fs::create_dir_all(dest.join("domains/stale/plugins")).unwrap();
        std::fs::write(dest.join("domains/stale/plugins/y.rs"), "y").unwrap();

        let mut plan = Plan::new();
        let added = overlay(&mut plan, &src).unwrap();
        assert_eq!(added, vec![PathBuf::from("domains/a/plugins/x.rs")]);
        apply(&plan, &dest).unwrap();

        let copied = dest.join("domains/a/plugins/x.rs");
        assert_eq!(std::fs::read_to_string(&copied).unwrap(), "x");
        assert_eq!(std::fs::metadata(&copied).unwrap().modified().unwrap(), old);
        assert!(
            !dest.join("domains/stale").exists(),
            "leftovers are removed"
        );
        let _ = std::fs::remove_dir_all(&src);
        let _ = std::fs::remove_dir_all(&dest);
    }

    #[test]
    fn a_candidate_may_not_write_outside_domains_or_replace_a_file() {
        let outside = scratch("outside");
        std::fs::create_dir_all(outside.join("crates/kernel/src")).unwrap();
        std::fs::write(outside.join("crates/kernel/src/lib.rs"), "").unwrap();
        let e = overlay(&mut Plan::new(), &outside).unwrap_err();
        assert!(e.contains("under domains/ only"), "{e}");
        let _ = std::fs::remove_dir_all(&outside);

        let src = scratch("replace");
        std::fs::create_dir_all(src.join("domains/users/plugins")).unwrap();
        std::fs::write(src.join("domains/users/plugins/login.rs"), "").unwrap();
        let mut plan = Plan::from([(
            PathBuf::from("domains/users/plugins/login.rs"),
            PathBuf::from("/repo/domains/users/plugins/login.rs"),
        )]);
        let e = overlay(&mut plan, &src).unwrap_err();
        assert!(e.contains("already exists"), "{e}");
        let _ = std::fs::remove_dir_all(&src);
        let _ = std::fs::remove_dir_all(
            src.with_file_name(format!("xtask-sync-outside-{}", std::process::id())),
        );
    }
}
