//! The linker must not drop a plugin: the registered set is exactly the set of
//! plugin files in `domains/`, each under the domain its folder names.

use std::collections::BTreeSet;
use std::path::Path;

use microcore_app::{PLUGIN_FILES, Tools};

fn plugin_files_on_disk() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("domains");
    let mut found = BTreeSet::new();
    for domain in std::fs::read_dir(&root).unwrap() {
        let domain = domain.unwrap().path();
        let plugins = domain.join("plugins");
        if !plugins.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(plugins).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|e| e == "rs") {
                let rel = file
                    .strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")))
                    .unwrap();
                found.insert(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    found
}

#[test]
fn every_plugin_file_is_registered_exactly_once() {
    let registered = microcore::__private::PLUGINS
        .iter()
        .filter(|d| (d.tool_set)() == std::any::TypeId::of::<Tools>())
        .map(|d| d.id())
        .collect::<Vec<_>>();
    let files: BTreeSet<String> = registered.iter().map(|id| id.file.to_string()).collect();
    assert_eq!(
        files.len(),
        registered.len(),
        "one plugin per file: {registered:?}"
    );
    assert_eq!(
        files,
        plugin_files_on_disk(),
        "registered plugins vs plugin files on disk"
    );
    assert_eq!(
        files,
        PLUGIN_FILES.iter().map(|s| s.to_string()).collect(),
        "the generated module tree is current"
    );
    for id in &registered {
        assert!(
            id.file
                .starts_with(&format!("domains/{}/plugins/", id.domain)),
            "{id:?}"
        );
    }
}
