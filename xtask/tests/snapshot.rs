//! The rendering of a small fixture app is pinned: a change to AI_CONTEXT.md's
//! layout shows up here as a diff to review. `XTASK_BLESS=1` rewrites the
//! expected file.

use microcore_manifest::Manifest;

fn fixture(name: &str) -> Manifest {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Only the part after the guide: the guide is pinned by the template test.
fn after_guide(text: &str) -> &str {
    &text[text.find("\n## Tools").expect("a Tools section")..]
}

#[test]
fn a_small_app_renders_as_pinned() {
    let text = xtask::render::render(&fixture("small.json"));
    let expected_path = format!("{}/tests/fixtures/small.md", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("XTASK_BLESS").is_some() {
        std::fs::write(&expected_path, after_guide(&text)).unwrap();
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap();
    assert_eq!(
        after_guide(&text),
        expected,
        "run with XTASK_BLESS=1 to accept a new layout"
    );
}

#[test]
fn a_domain_with_tables_and_no_plugins_is_listed_as_phase_0() {
    let text = xtask::render::render(&fixture("small.json"));
    let billing = &text[text.find("## Domain `billing`").expect("billing is listed")..];
    let billing = &billing[..billing[3..].find("## ").map_or(billing.len(), |i| i + 3)];
    assert!(billing.contains("table `invoices`"), "{billing}");
    assert!(billing.contains("phase 0"), "{billing}");
}

#[test]
fn rendering_is_deterministic_whatever_the_input_order() {
    let m = fixture("small.json");
    let mut shuffled = m.clone();
    shuffled.plugins.reverse();
    shuffled.tables.reverse();
    shuffled.events.reverse();
    shuffled.sort();
    assert_eq!(xtask::render::render(&m), xtask::render::render(&shuffled));
}

#[test]
fn stale_files_get_a_one_paragraph_summary() {
    let m = fixture("small.json");
    let fresh = xtask::render::render(&m);
    assert_eq!(xtask::context::stale_summary(Some(&fresh), &fresh), None);
    let mut changed = m.clone();
    changed.endpoints[0].path = "/purchases".into();
    let summary =
        xtask::context::stale_summary(Some(&fresh), &xtask::render::render(&changed)).unwrap();
    assert!(
        summary.contains("Domain `shop`") && summary.contains("/purchases"),
        "{summary}"
    );
    assert!(summary.contains("cargo xtask context"), "{summary}");
    assert!(!summary.contains('\n'), "one paragraph: {summary}");
    assert!(
        xtask::context::stale_summary(None, &fresh)
            .unwrap()
            .contains("missing")
    );
}

#[test]
fn the_file_is_written_only_when_its_content_changes() {
    use xtask::context::{Outcome, write_if_changed};
    let path = std::env::temp_dir().join(format!("ai-context-{}.md", std::process::id()));
    assert_eq!(write_if_changed(&path, "a").unwrap(), Outcome::Written);
    let before = std::fs::metadata(&path).unwrap().modified().unwrap();
    assert_eq!(write_if_changed(&path, "a").unwrap(), Outcome::Unchanged);
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        before
    );
    assert_eq!(write_if_changed(&path, "b").unwrap(), Outcome::Written);
    let _ = std::fs::remove_file(&path);
}

/// The budget: the example app's manifest carries the whole surface a feature
/// file touches (every tool method, the types tools hand out, the testing kit,
/// the guide's facts) and every route, event and table in at most 32 KB (the
/// Python original's is 35.9 KB). Completeness comes first: an agent that
/// must guess fails its first build; past 32 KB, detail moves to docs/.
/// CI checks separately that the committed file is fresh, so its size is the
/// size of what the generator writes.
#[test]
fn the_example_apps_context_stays_within_32_kb() {
    let path = format!("{}/../AI_CONTEXT.md", env!("CARGO_MANIFEST_DIR"));
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(
        size <= 32_000,
        "AI_CONTEXT.md is {size} bytes, over the 32,000-byte budget: shorten the \
         first doc lines or #[contract] texts that grew, or move detail to docs/"
    );
}
