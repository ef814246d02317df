//! `init` installs the global subscriber once; later calls are harmless.

use microcore_kernel::Env;

#[test]
fn init_twice_is_harmless_and_installs_a_subscriber() {
    let env = Env::from_pairs([("RUST_LOG", "not a [valid filter"), ("LOG_FORMAT", "json")]);
    microcore_logger::init(&env);
    assert!(tracing::dispatcher::has_been_set());
    microcore_logger::init(&Env::default());
    tracing::info!(target: microcore_logger::TARGET, plugin = "t", "still logging");
}
