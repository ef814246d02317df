//! The live feed of plugin log records.

use microcore_kernel::{CallContext, PluginId, Probe, Tool, in_context};
use microcore_logger::{LogLevel, Logger};

fn plugin_id(name: &str) -> PluginId {
    let (domain, ty) = name.split_once('.').unwrap();
    PluginId {
        name: name.into(),
        domain: domain.into(),
        feature: ty.to_lowercase().into(),
        file: format!("domains/{domain}/plugins/{}.rs", ty.to_lowercase()).into(),
    }
}

fn logger() -> Logger {
    Logger::new(Probe::detached("logger"))
}

#[tokio::test]
async fn the_sink_receives_every_record_with_its_identity() {
    let base = logger();
    let mut rx = base.subscribe();
    let log = base.for_plugin(&plugin_id("users.Login"));
    log.info("hello");
    in_context(CallContext::new("users.Login.login", None), async {
        log.error("boom");
    })
    .await;
    let first = rx.recv().await.unwrap();
    assert_eq!(
        (first.level, first.message.as_str(), &*first.identity),
        (LogLevel::Info, "hello", "users.Login")
    );
    assert!(first.timestamp > 1_600_000_000.0, "{}", first.timestamp);
    let second = rx.recv().await.unwrap();
    assert_eq!(
        (second.level, &*second.identity),
        (LogLevel::Error, "users.Login.login")
    );
    let json = serde_json::to_value(&second).unwrap();
    assert_eq!(json["level"], "ERROR");
    assert_eq!(json["identity"], "users.Login.login");
}

#[tokio::test]
async fn a_lagging_receiver_loses_the_oldest_and_never_blocks_logging() {
    let log = logger();
    let mut slow = log.subscribe();
    for i in 0..1500 {
        log.info(i);
    }
    match slow.recv().await {
        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => assert_eq!(n, 1500 - 1024),
        other => panic!("expected a lag notice, got {other:?}"),
    }
    assert_eq!(
        slow.recv().await.unwrap().message,
        (1500 - 1024).to_string()
    );
}

#[tokio::test]
async fn logging_with_nobody_subscribed_is_fine_and_measured() {
    let registry = microcore_kernel::Registry::new();
    let log = Logger::new(Probe::new("logger", registry.clone()));
    log.info("nobody listens");
    let calls = registry.recent_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (calls[0].tool, calls[0].method, calls[0].success),
        ("logger", "info", true)
    );
}
