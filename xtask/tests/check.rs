//! `cargo xtask check` on fixture manifests: a deliberately broken event
//! contract, a duplicate route and a table owned by two domains are errors
//! naming the file and the fix; loose ends of the event graph are warnings.

use microcore_manifest::Manifest;
use xtask::check::{Level, check};

fn fixture(name: &str) -> Manifest {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn errors(m: &Manifest) -> Vec<String> {
    check(m)
        .into_iter()
        .filter(|f| f.level == Level::Error)
        .map(|f| f.message)
        .collect()
}

#[test]
fn a_consistent_app_has_no_errors() {
    assert_eq!(errors(&fixture("small.json")), Vec::<String>::new());
}

#[test]
fn a_broken_event_contract_is_an_error_naming_the_subscriber_file_and_the_fix() {
    let errs = errors(&fixture("broken.json"));
    let missing = errs
        .iter()
        .find(|e| e.contains("needs field `address`"))
        .expect("missing field reported");
    assert!(
        missing.starts_with("domains/mail/plugins/confirm.rs"),
        "{missing}"
    );
    assert!(
        missing.contains("domains/shop/plugins/place_order.rs"),
        "names the publisher: {missing}"
    );
    assert!(
        missing.contains("make `OrderPlaced`"),
        "says the fix: {missing}"
    );
    let typed = errs
        .iter()
        .find(|e| e.contains("reads `id` as string"))
        .expect("type mismatch reported");
    assert!(typed.contains("publishes it as int"), "{typed}");
    let optional = errs
        .iter()
        .find(|e| e.contains("`note`"))
        .expect("optional-in-publisher reported");
    assert!(optional.contains("may omit"), "{optional}");
}

#[test]
fn duplicate_routes_and_shared_tables_are_errors() {
    let errs = errors(&fixture("broken.json"));
    assert!(
        errs.iter().any(|e| e.contains("`POST /orders` is registered by shop.PlaceOrder and mail.Confirm")),
        "{errs:#?}"
    );
    let table = errs
        .iter()
        .find(|e| e.contains("table `orders`"))
        .expect("shared table reported");
    assert!(
        table.contains("domains/mail/migrations/001_orders.sql"),
        "{table}"
    );
    assert!(
        table.contains("domains/shop/migrations/001_create_orders.sql"),
        "{table}"
    );
}

#[test]
fn loose_ends_of_the_event_graph_are_warnings() {
    let findings = check(&fixture("broken.json"));
    let warnings: Vec<&str> = findings
        .iter()
        .filter(|f| f.level == Level::Warning)
        .map(|f| f.message.as_str())
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("`invoice.paid`, which no plugin publishes")),
        "{warnings:#?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("`order.shipped` is published but nobody consumes it")),
        "{warnings:#?}"
    );
}

#[test]
fn a_plugin_that_fails_its_dry_boot_is_an_error() {
    let mut m = fixture("small.json");
    m.plugins[0].status = "DEAD: on_boot failed: route POST /orders is registered twice".into();
    let errs = errors(&m);
    assert!(
        errs.iter()
            .any(|e| e.contains("failed its dry boot") && e.contains("registered twice")),
        "{errs:#?}"
    );
}
